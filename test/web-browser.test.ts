/**
 * The web page in a real browser (Debian's chromium, headless, driven by
 * playwright-core) against a real memlogd and a real `memlog-web`: what a
 * person sees, by the page's stable ids and classes (WEB-CONTRACT.md) and its
 * read-only test hook window.memlogPage.
 */
import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { dump, openStream, startDaemon, tmpdir, waitFor, type DaemonProcess } from './helpers.js';
import { skipLoudly } from './peers.js';
import { launchChromium, openPage, pageSeqs, startWeb, type MemlogPageHook, type WatchedPage, type WebServer } from './browser.js';

// One browser for the file (each test has its own context); closed when the file is done.
const closers: (() => void | Promise<void>)[] = [];
let shared: Promise<Browser | string> | undefined;
after(async () => {
  for (const close of closers.reverse()) await close();
});

interface Setup {
  daemon: DaemonProcess;
  web: WebServer;
  browser: Browser;
}

/** memlogd, memlog-web and the browser; undefined (the test skipped loudly) without chromium. */
async function setup(t: TestContext, flags: string[] = []): Promise<Setup | undefined> {
  shared ??= launchChromium({ after: (fn) => closers.push(fn) });
  const browser = await shared;
  if (typeof browser === 'string') {
    skipLoudly(t, browser);
    return undefined;
  }
  const dir = tmpdir(t);
  const daemon = await startDaemon(t, dir, ['-stream-priority-prefix', ...flags]);
  const web = await startWeb(t, daemon.querySocket);
  return { daemon, web, browser };
}

async function open(t: { after(fn: () => unknown): void }, s: Setup, query = ''): Promise<WatchedPage> {
  const p = await openPage(s.browser, s.web.url + query);
  t.after(() => p.context.close());
  return p;
}

/** Writes lines as one stream named source (with -stream-priority-prefix, `<N>` gives a severity). */
async function write(daemon: DaemonProcess, source: string, lines: string[]): Promise<void> {
  const fd = await openStream(daemon.logSocket, source);
  try {
    const text = lines.map((l) => `${l}\n`).join('');
    let off = 0;
    const buf = Buffer.from(text);
    while (off < buf.length) off += fs.writeSync(fd, buf, off);
  } finally {
    fs.closeSync(fd);
  }
}

/** Waits until memlogd holds a message (the entry is in the ring, so a follower will get it). */
async function inRing(daemon: DaemonProcess, msg: string): Promise<number[]> {
  return waitFor(`memlogd to hold "${msg}"`, async () => {
    const entries = await dump(daemon.querySocket);
    return entries.some((e) => e.msg === msg) ? entries.map((e) => (e as unknown as { seq: number }).seq) : undefined;
  });
}

/** The messages of the rows in the list, in order, but memlogd's own. */
function rowMessages(page: Page): Promise<string[]> {
  return page.$$eval('#list .entry', (els) =>
    els.filter((el) => el.querySelector('.source')?.textContent !== 'memlogd').map((el) => el.querySelector('.msg')?.textContent ?? ''),
  );
}

/** Waits until the rows' messages (but memlogd's own) are exactly want (a deadline, not a sleep). */
async function waitRows(page: Page, want: string[], what: string): Promise<void> {
  try {
    await page.waitForFunction(
      (w: string[]) => {
        const rows = Array.from(document.querySelectorAll('#list .entry')).filter((el) => el.querySelector('.source')?.textContent !== 'memlogd');
        return JSON.stringify(rows.map((el) => el.querySelector('.msg')?.textContent)) === JSON.stringify(w);
      },
      want,
      { timeout: 30_000, polling: 50 },
    );
  } catch (err) {
    throw new Error(`${what}: rows ${JSON.stringify(await rowMessages(page))}, wanted ${JSON.stringify(want)} (${(err as Error).message.split('\n')[0]})`);
  }
}

/** Waits until the page holds seq last. */
async function waitHolds(page: Page, last: number): Promise<void> {
  await page.waitForFunction((l: number) => (window as unknown as { memlogPage: MemlogPageHook }).memlogPage.seqs().includes(l), last, { timeout: 60_000, polling: 100 });
}

function assertContinuous(seqs: number[], what: string): void {
  for (let k = 1; k < seqs.length; k++) assert.equal(seqs[k], seqs[k - 1] + 1, `${what}: seq ${seqs[k - 1]} is followed by ${seqs[k]}`);
}

test('live lines appear as they are written, the earlier ones first, severities in colour', async (t) => {
  const s = await setup(t);
  if (!s) return;
  await write(s.daemon, 'svc', ['<6>written before the page opened']);
  await inRing(s.daemon, 'written before the page opened');
  const { page, errors } = await open(t, s);
  await page.waitForSelector('#list .entry .msg >> text=written before the page opened');
  assert.equal(await page.textContent('#state'), 'following');
  assert.equal(await page.textContent('#pause'), 'Pause');
  await write(s.daemon, 'svc', ['<3>disk failed', '<6>user logged in', 'no severity at all']);
  await write(s.daemon, 'kernel', ['<4>temperature above threshold']);
  await waitRows(page, ['written before the page opened', 'disk failed', 'user logged in', 'no severity at all', 'temperature above threshold'], 'live rows');
  const rows = await page.$$eval('#list .entry', (els) =>
    els.map((el) => ({ cls: el.className, seq: (el as HTMLElement).dataset.seq, source: el.querySelector('.source')?.textContent, msg: el.querySelector('.msg')?.textContent })),
  );
  const row = (msg: string): (typeof rows)[number] => rows.find((r) => r.msg === msg) as (typeof rows)[number];
  assert.match(row('disk failed').cls, /\bsev-3\b/);
  assert.match(row('user logged in').cls, /\bsev-6\b/);
  assert.match(row('no severity at all').cls, /\bsev-none\b/);
  assert.match(row('temperature above threshold').cls, /\bsev-4\b/);
  assert.equal(row('temperature above threshold').source, 'kernel');
  assert.ok(rows.every((r) => r.seq !== undefined && /^\d+$/.test(r.seq)), 'every row has its data-seq');
  // The colours differ for a person, not only the classes.
  const colour = (msg: string): Promise<string> => page.$eval(`#list .entry[data-seq="${row(msg).seq}"] .level`, (el) => getComputedStyle(el).color);
  assert.notEqual(await colour('disk failed'), await colour('user logged in'));
  // The chart counts per source (its legend the page's own, as text), and per severity at a click.
  await page.waitForFunction(() => Array.from(document.querySelectorAll('#legend .name'), (el) => el.textContent).includes('kernel'));
  await page.click('#chart-mode');
  await page.waitForFunction(() => {
    const names = Array.from(document.querySelectorAll('#legend .name'), (el) => el.textContent);
    return ['err', 'warning', 'info', 'none'].every((n) => names.includes(n)) && !names.includes('kernel');
  });
  assert.equal(await page.getAttribute('#bundle', 'href'), '/api/bundle');
  assert.notEqual(await page.getAttribute('#bundle', 'download'), null);
  assert.deepEqual(errors, []);
});

test('filters and the URL agree: a filter set in the page goes into the URL, a URL sets the filters', async (t) => {
  const s = await setup(t);
  if (!s) return;
  await write(s.daemon, 'sshd', ['<3>timeout waiting for auth', '<6>accepted publickey', '<3>connection reset']);
  await write(s.daemon, 'cron', ['<3>timeout in job', '<6>job done']);
  await inRing(s.daemon, 'job done');
  const { page, errors } = await open(t, s);
  await page.waitForSelector('#list .entry .msg >> text=job done');
  // The source list comes from /api/status.
  const sshd = page.locator('#sources input[name=source][value=sshd]');
  await sshd.waitFor();
  await sshd.check();
  await page.waitForFunction(() => new URL(location.href).searchParams.getAll('source').join() === 'sshd');
  await waitRows(page, ['timeout waiting for auth', 'accepted publickey', 'connection reset'], 'source sshd');
  await page.selectOption('#priority', 'err');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('p') === 'err');
  await waitRows(page, ['timeout waiting for auth', 'connection reset'], 'sshd, err');
  await page.fill('#grep', 'TIMEOUT');
  await page.check('#icase');
  await page.press('#grep', 'Enter');
  await page.waitForFunction(() => {
    const q = new URL(location.href).searchParams;
    return q.get('grep') === 'TIMEOUT' && q.get('i') === '1';
  });
  await waitRows(page, ['timeout waiting for auth'], 'sshd, err, grep -i TIMEOUT');
  assert.equal(await page.textContent('#state'), 'following');
  // A pattern the server refuses: said in one line, and the page waits, paused, for a better one.
  await page.fill('#grep', 'time(out');
  await page.press('#grep', 'Enter');
  await page.waitForFunction(() => document.getElementById('state')?.textContent === 'paused');
  assert.match((await page.textContent('#problem')) ?? '', /grep/);
  assert.equal(await page.isVisible('#problem'), true);
  await page.fill('#grep', 'TIMEOUT');
  await page.press('#grep', 'Enter');
  await waitRows(page, ['timeout waiting for auth'], 'grep -i TIMEOUT again');
  await page.waitForFunction(() => document.getElementById('state')?.textContent === 'following');
  assert.equal(await page.isVisible('#problem'), false);

  // A link to a view: the controls show it and the rows match it, live ones too.
  const linked = await open(t, s, '?source=sshd&p=err&grep=timeout&since=-1h');
  await waitRows(linked.page, ['timeout waiting for auth'], 'the linked view');
  assert.equal(await linked.page.isChecked('#sources input[name=source][value=sshd]'), true);
  assert.equal(await linked.page.isChecked('#sources input[name=source][value=cron]').catch(() => false), false);
  assert.equal(await linked.page.inputValue('#priority'), 'err');
  assert.equal(await linked.page.inputValue('#grep'), 'timeout');
  assert.equal(await linked.page.inputValue('#since'), '-1h');
  assert.equal(await linked.page.textContent('#state'), 'following', 'a start alone still follows');
  await write(s.daemon, 'cron', ['<3>timeout again in cron']);
  await write(s.daemon, 'sshd', ['<6>timeout but only info', '<2>timeout, critical']);
  await waitRows(linked.page, ['timeout waiting for auth', 'timeout, critical'], 'the linked view, following');
  // The refused pattern's 400 is the one error the first page logged.
  assert.deepEqual(errors.filter((e) => !/status of 400/.test(e)), []);
  assert.deepEqual(linked.errors, []);
});

test('pause and resume lose nothing: what is written while paused arrives on resume, seqs continuous', async (t) => {
  const s = await setup(t);
  if (!s) return;
  await write(s.daemon, 'app', Array.from({ length: 30 }, (_, k) => `before ${k}`));
  const { page, errors } = await open(t, s);
  await waitHolds(page, (await inRing(s.daemon, 'before 29')).at(-1) as number);
  await page.click('#pause');
  await page.waitForFunction(() => document.getElementById('state')?.textContent === 'paused');
  assert.equal(await page.textContent('#pause'), 'Resume');
  const heldPaused = (await pageSeqs(page)).length;
  await write(s.daemon, 'app', Array.from({ length: 200 }, (_, k) => `while paused ${k}`));
  const ring = await inRing(s.daemon, 'while paused 199');
  // memlogd has them all; the paused page took none.
  assert.equal((await pageSeqs(page)).length, heldPaused);
  await page.click('#pause');
  await waitHolds(page, ring.at(-1) as number);
  await page.waitForFunction(() => document.getElementById('state')?.textContent === 'following');
  assert.equal(await page.textContent('#pause'), 'Pause');
  const seqs = await pageSeqs(page);
  assertContinuous(seqs, 'after resume');
  assert.deepEqual(seqs, ring, 'the page holds exactly what the ring holds');
  assert.equal(await page.locator('#list .lost').count(), 0);
  assert.deepEqual(errors, []);
});

test('a pause longer than the ring: on resume a loss row says what the ring dropped, then the ring follows', async (t) => {
  const s = await setup(t, ['-max-lines', '50']);
  if (!s) return;
  await write(s.daemon, 'app', Array.from({ length: 10 }, (_, k) => `before ${k}`));
  const { page, errors } = await open(t, s);
  await waitHolds(page, (await inRing(s.daemon, 'before 9')).at(-1) as number);
  const before = await pageSeqs(page);
  await page.click('#pause');
  await page.waitForFunction(() => document.getElementById('state')?.textContent === 'paused');
  await write(s.daemon, 'app', Array.from({ length: 200 }, (_, k) => `while paused ${k}`));
  const ring = await inRing(s.daemon, 'while paused 199');
  assert.ok(ring[0] > (before.at(-1) as number) + 1, 'the ring moved past what the page held');
  await page.click('#pause');
  await waitHolds(page, ring.at(-1) as number);
  // The loss row sits after what was held before the pause: near the top of the list.
  await page.$eval('#list', (el) => el.scrollTo(0, 0));
  const lost = page.locator('#list .lost');
  await lost.first().waitFor();
  assert.match((await lost.first().textContent()) ?? '', new RegExp(`lost ${ring[0] - (before.at(-1) as number) - 1} entries`));
  // What was held, then the loss row, then all the ring holds.
  assert.deepEqual(await pageSeqs(page), [...before, ...ring]);
  assert.deepEqual(errors, []);
});

test('the web server restarts: the page says reconnecting, then resumes where it was, seqs continuous', async (t) => {
  const s = await setup(t);
  if (!s) return;
  await write(s.daemon, 'app', Array.from({ length: 20 }, (_, k) => `first ${k}`));
  const { page, errors } = await open(t, s);
  await waitHolds(page, (await inRing(s.daemon, 'first 19')).at(-1) as number);
  const listen = s.web.listen;
  await s.web.stop();
  await page.waitForFunction(() => document.getElementById('state')?.textContent === 'reconnecting', undefined, { timeout: 30_000 });
  await write(s.daemon, 'app', Array.from({ length: 50 }, (_, k) => `while down ${k}`));
  const ring = await inRing(s.daemon, 'while down 49');
  // The same address again (the page's URL names it): the port was just freed, so only a stranger could take it.
  await startWeb(t, s.daemon.querySocket, listen);
  await waitHolds(page, ring.at(-1) as number);
  await page.waitForFunction(() => document.getElementById('state')?.textContent === 'following');
  const seqs = await pageSeqs(page);
  assertContinuous(seqs, 'after the reconnect');
  assert.deepEqual(seqs, ring);
  // The browser logs the refused connections while the server is away; nothing else may go wrong.
  assert.deepEqual(
    errors.filter((e) => !/ERR_CONNECTION_REFUSED|net::ERR_|Failed to load resource/.test(e)),
    [],
  );
});

test('memlogd restarts: the page says so and follows the new one, all of its entries', async (t) => {
  const s = await setup(t);
  if (!s) return;
  await write(s.daemon, 'app', ['from the first memlogd']);
  const { page, errors } = await open(t, s);
  const first = await inRing(s.daemon, 'from the first memlogd');
  await waitHolds(page, first.at(-1) as number);
  await s.daemon.stop();
  // A new memlogd on the same sockets (memlog-web keeps its -socket path).
  const again = await startDaemon(t, path.dirname(s.daemon.querySocket), ['-stream-priority-prefix']);
  await write(again, 'app', ['from the second memlogd']);
  const second = await inRing(again, 'from the second memlogd');
  await page.waitForSelector('#list .notice .msg >> text=/memlogd restarted/', { timeout: 60_000 });
  await page.waitForSelector('#list .entry .msg >> text=from the second memlogd', { timeout: 60_000 });
  await page.waitForFunction(() => document.getElementById('state')?.textContent === 'following');
  // What the first held, then every entry of the second from its first (its seqs start again).
  assert.deepEqual(await pageSeqs(page), [...first, ...second]);
  // While memlogd was away, memlog-web answered 502 and the browser logged it.
  assert.deepEqual(errors.filter((e) => !/status of 502|net::ERR_/.test(e)), []);
});

test("log text that is HTML shows as that text and runs nothing, under the page's own CSP", async (t) => {
  const s = await setup(t);
  if (!s) return;
  const nasty = ['<img src=x onerror="window.__pwned=1">', '</script><script>window.__pwned=2</script>', '<b>bold?</b> & &amp; "quotes"'];
  const nastySource = '<img src=y onerror="window.__pwned=3">';
  await write(s.daemon, 'web', nasty);
  await write(s.daemon, nastySource, ['from a source with an HTML name']);
  await inRing(s.daemon, 'from a source with an HTML name');
  const { page, errors } = await open(t, s);
  await waitRows(page, [...nasty, 'from a source with an HTML name'], 'the HTML-like lines');
  const sources = await page.$$eval('#list .entry .source', (els) => els.map((el) => el.textContent));
  assert.ok(sources.includes(nastySource), 'the source name as text in the row');
  // The source list and the chart legend show the name as text too (the chart redraws within a second).
  await page.locator(`#sources input[name=source][value="${nastySource.replace(/"/g, '\\"')}"]`).waitFor();
  await page.waitForFunction((name: string) => Array.from(document.querySelectorAll('#legend .name'), (el) => el.textContent).includes(name), nastySource);
  // The tooltip (made when the pointer comes) holds the text too.
  const first = page.locator('#list .entry', { hasText: 'window.__pwned=1' });
  await first.hover();
  await page.waitForFunction((text: string) => Array.from(document.querySelectorAll('#list .entry'), (el) => (el as HTMLElement).title).some((tt) => tt.includes(text)), nasty[0]);
  assert.equal(await page.locator('#list img, #sources img, #legend img, #list b, #list script').count(), 0);
  assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
  assert.deepEqual(errors, [], 'no error and no CSP violation from the page');
});

test('a drag across the chart shows that time window from history; Live goes back to following', async (t) => {
  const s = await setup(t);
  if (!s) return;
  await write(s.daemon, 'app', Array.from({ length: 40 }, (_, k) => `<${k % 8}>line ${k}`));
  await inRing(s.daemon, 'line 39');
  const { page, errors } = await open(t, s);
  await page.waitForSelector('#list .entry .msg >> text=line 39');
  // The chart is redrawn at most twice a second: it counts the lines once its legend has them.
  await page.waitForFunction(() => Array.from(document.querySelectorAll('#legend .item')).some((el) => el.querySelector('.name')?.textContent === 'app' && el.querySelector('.count')?.textContent === '40'));
  const over = page.locator('#chart .u-over');
  const box = await over.boundingBox();
  assert.ok(box, 'the chart is drawn');
  await page.mouse.move(box.x + 2, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2, { steps: 5 });
  await page.mouse.move(box.x + box.width - 2, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
  await page.waitForFunction(() => document.getElementById('state')?.textContent === 'history');
  const q = new URL(page.url()).searchParams;
  assert.ok(q.get('since') && q.get('until'), `the URL holds the range: ${page.url()}`);
  assert.equal(await page.inputValue('#since'), q.get('since'));
  assert.ok(await page.isDisabled('#pause'));
  await page.waitForSelector('#list .entry .msg >> text=line 39');
  await page.click('#live');
  await page.waitForFunction(() => document.getElementById('state')?.textContent === 'following');
  assert.equal(new URL(page.url()).searchParams.get('since'), null);
  await write(s.daemon, 'app', ['after the window']);
  await page.waitForSelector('#list .entry .msg >> text=after the window');
  assert.deepEqual(errors, []);
});

test('20,000 entries followed: every seq held, a bounded number of rows in the DOM, the newest in view', async (t) => {
  const s = await setup(t, ['-max-lines', '50000']);
  if (!s) return;
  const { page, errors } = await open(t, s);
  // Following for sure (not only asked for): a line written now shows.
  await write(s.daemon, 'flood', ['the flood comes next']);
  await page.waitForSelector('#list .entry .msg >> text=the flood comes next');
  const N = 20_000;
  for (let k = 0; k < N; k += 2000) await write(s.daemon, 'flood', Array.from({ length: 2000 }, (_, j) => `flood line ${k + j} ${'x'.repeat(40)}`));
  const ring = await inRing(s.daemon, `flood line ${N - 1} ${'x'.repeat(40)}`);
  await waitHolds(page, ring.at(-1) as number);
  const seqs = await pageSeqs(page);
  assert.ok(seqs.length >= N, `holds ${seqs.length}`);
  assertContinuous(seqs, 'followed');
  const rows = await page.locator('#list .entry').count();
  assert.ok(rows > 10 && rows <= 300, `${rows} rows in the DOM`);
  // Stuck to the bottom: the newest entry is a visible row.
  await page.waitForFunction((last: number) => {
    const list = document.getElementById('list') as HTMLElement;
    const row = list.querySelector(`.entry[data-seq="${last}"]`) as HTMLElement | null;
    if (!row || row.hidden) return false;
    const a = row.getBoundingClientRect();
    const b = list.getBoundingClientRect();
    return a.top >= b.top - 1 && a.bottom <= b.bottom + 1;
  }, ring.at(-1) as number);
  // Scrolled to the top: the oldest rows, still a bounded DOM.
  await page.$eval('#list', (el) => el.scrollTo(0, 0));
  await page.waitForFunction((first: number) => document.querySelector(`#list .entry[data-seq="${first}"]`) !== null, seqs[0]);
  assert.ok((await page.locator('#list .entry').count()) <= 300);
  assert.deepEqual(errors, []);
});

test('past 100,000 entries the page holds the newest 100,000, still continuous, and the list still shows the newest', async (t) => {
  const s = await setup(t, ['-max-lines', '200000', '-max-bytes', String(64 << 20)]);
  if (!s) return;
  const { page, errors } = await open(t, s);
  await write(s.daemon, 'flood', ['the flood comes next']);
  await page.waitForSelector('#list .entry .msg >> text=the flood comes next');
  const N = 105_000;
  for (let k = 0; k < N; k += 5000) await write(s.daemon, 'flood', Array.from({ length: 5000 }, (_, j) => `line ${k + j}`));
  const ring = await inRing(s.daemon, `line ${N - 1}`);
  const last = ring.at(-1) as number;
  await waitHolds(page, last);
  const seqs = await pageSeqs(page);
  assert.equal(seqs.length, 100_000);
  assert.equal(await page.evaluate(() => (window as unknown as { memlogPage: MemlogPageHook }).memlogPage.held()), 100_000);
  assert.equal(seqs.at(-1), last);
  assertContinuous(seqs, 'the newest 100,000');
  await page.waitForSelector(`#list .entry[data-seq="${last}"]`);
  assert.ok((await page.locator('#list .entry').count()) <= 300);
  assert.deepEqual(errors, []);
});

test('light and dark themes follow the system preference', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const luminance = async (scheme: 'light' | 'dark'): Promise<number> => {
    const p = await openPage(s.browser, s.web.url, { colorScheme: scheme });
    t.after(() => p.context.close());
    await p.page.waitForSelector('#list .entry');
    const [bg, fg] = await p.page.$eval('#list', (el) => [getComputedStyle(el).backgroundColor, getComputedStyle(el).color]);
    const rgb = (c: string): number[] => (c.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map(Number);
    const l = (c: string): number => rgb(c).reduce((a, b) => a + b, 0) / (3 * 255);
    assert.ok(Math.abs(l(bg) - l(fg)) > 0.5, `${scheme}: text ${fg} on ${bg} is readable`);
    assert.deepEqual(p.errors, []);
    return l(bg);
  };
  assert.ok((await luminance('light')) > 0.8, 'light: a light list');
  assert.ok((await luminance('dark')) < 0.2, 'dark: a dark list');
});
