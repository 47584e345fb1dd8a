/**
 * memlog web's API against a real memlogd, through the real command
 * (bin/memlog-web) and real HTTP: /api/entries as logread -o json prints it,
 * bad parameters, memlogd down, a browser going away mid-dump; /api/follow's
 * events, resuming with Last-Event-ID, loss markers, a stalled browser;
 * /api/status; /api/bundle; SIGTERM with an event stream open.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { extract } from 'tar-stream';
import http from 'node:http';
import { queryStatus } from '../src/clients/query-client.js';
import { startWebServer } from '../src/web/server.js';
import { classify, EventBatch } from '../src/web/sse-events.js';
import { BIN, ROOT, openStream, run, startDaemon, startPersister, tmpdir, waitFor, type DaemonProcess } from './helpers.js';
import { EventReader, request, startWeb } from './web-helpers.js';

async function write(daemon: DaemonProcess, name: string, lines: string[]): Promise<void> {
  const fd = await openStream(daemon.logSocket, name);
  fs.writeSync(fd, lines.map((l) => l + '\n').join(''));
  fs.closeSync(fd);
}

async function ringNext(daemon: DaemonProcess): Promise<number> {
  return (await queryStatus(daemon.querySocket)).ring.next;
}

/** Waits until the ring holds n entries more than before (entries are added asynchronously). */
async function waitForRing(daemon: DaemonProcess, atLeast: number): Promise<void> {
  await waitFor(`the ring to reach seq ${atLeast}`, async () => (await ringNext(daemon)) >= atLeast);
}

/** Runs test/flood-writer.js: lines of len bytes under name, as fast as memlogd takes them. */
async function flood(daemon: DaemonProcess, name: string, lines: number, len: number): Promise<void> {
  const r = await run(process.execPath, [path.join(ROOT, 'dist/test/flood-writer.js'), daemon.logSocket, name, String(lines), String(len)], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
}

test('entries: the same lines as logread -o json prints for the same filters', async (t) => {
  const dir = tmpdir(t);
  const daemon = await startDaemon(t, dir, ['-stream-priority-prefix']);
  await write(daemon, 'web-a', ['<3>ERROR disk full', '<6>all is well', '<4>warning: low', '<6>error in lower case', '<7>debug noise']);
  await write(daemon, 'web-b', ['<2>crit: on fire', 'plain line', 'ERROR again']);
  await write(daemon, 'other', ['x 1', 'x 2', 'x 3']);
  await waitForRing(daemon, 12);
  const web = await startWeb(t, ['-listen', '127.0.0.1:0', '-socket', daemon.querySocket]);
  const cases: [string, string[]][] = [
    ['', []],
    ['source=web-*', ['-source', 'web-*']],
    ['source=web-*&source=!web-b', ['-source', 'web-*', '-source', '!web-b']],
    ['grep=error&i=1', ['-grep', 'error', '-i']],
    ['grep=^(ERROR|crit)', ['-grep', '^(ERROR|crit)']],
    ['p=err', ['-p', 'err']],
    ['p=4&source=web-a', ['-p', '4', '-source', 'web-a']],
    ['n=3', ['-n', '3']],
    ['n=2&source=other', ['-n', '2', '-source', 'other']],
    ['since=-1h&until=now', ['-since', '-1h', '-until', 'now']],
    ['since=2000-01-01&until=2000-01-02', ['-since', '2000-01-01', '-until', '2000-01-02']],
    ['after=5', ['-after-seq', '5']],
    ['grep=&p=&source=', []],
  ];
  for (const [query, flags] of cases) {
    const expected = await run(BIN('logread'), ['-socket', daemon.querySocket, '-o', 'json', ...flags]);
    assert.equal(expected.code, 0, expected.stderr);
    const got = await request(web.url, `/api/entries?${query}`);
    assert.equal(got.status, 200, `${query}: ${got.text}`);
    assert.equal(got.headers['content-type'], 'application/x-ndjson; charset=utf-8');
    assert.equal(got.headers['cache-control'], 'no-store');
    assert.equal(got.text, expected.stdout, `?${query} as logread ${flags.join(' ')}`);
  }
  // Not an empty answer by accident: the filters select what they say.
  const errs = (await request(web.url, '/api/entries?p=err')).text.trim().split('\n').map((l) => JSON.parse(l) as { msg: string });
  assert.deepEqual(errs.map((e) => e.msg), ['ERROR disk full', 'crit: on fire']);
});

test('entries and follow: a bad parameter is a 400 naming it, in one line', async (t) => {
  const dir = tmpdir(t);
  const daemon = await startDaemon(t, dir);
  const web = await startWeb(t, ['-listen', '127.0.0.1:0', '-socket', daemon.querySocket]);
  const bad: [string, RegExp][] = [
    ['since=xx', /^invalid value "xx" for since: /],
    ['until=tomorrowish', /^invalid value "tomorrowish" for until: /],
    ['since=now&until=-1h', /^invalid value "-1h" for until: earlier than since/],
    ['p=loud', /^invalid value "loud" for p: unknown level/],
    ['n=-1', /^invalid value "-1" for n: not a whole number/],
    ['n=1e3', /^invalid value "1e3" for n: /],
    ['after=x', /^invalid value "x" for after: /],
    ['grep=(', /^invalid value "\(" for grep: /],
    ['source=a%00b', /^invalid value "a\\u0000b" for source: a glob cannot contain a NUL/],
    ['i=maybe', /^invalid value "maybe" for i: /],
    ['grep=a&grep=b', /^parameter grep given more than once\n$/],
    ['o=short', /^unknown parameter "o"/],
    ['socket=/etc/passwd', /^unknown parameter "socket"/],
  ];
  const only: Record<string, [string, RegExp][]> = {
    '/api/entries': [['daemon=abc', /^invalid value "abc" for daemon: .*after/]],
    // On a stream, `daemon` alone says whose seq a reconnect's Last-Event-ID will be: only its form is checked.
    '/api/follow': [[`daemon=${'x'.repeat(65)}`, /^invalid value "x+" for daemon: a daemon id is 1 to 64 characters/]],
  };
  for (const endpoint of ['/api/entries', '/api/follow']) {
    for (const [query, message] of [...bad, ...only[endpoint]]) {
      const got = await request(web.url, `${endpoint}?${query}`);
      assert.equal(got.status, 400, `${endpoint}?${query}: ${got.text}`);
      assert.equal(got.headers['content-type'], 'text/plain; charset=utf-8');
      assert.match(got.text, message, `${endpoint}?${query}`);
      assert.equal(got.text.split('\n').length, 2, `one line: ${got.text}`);
    }
  }
  const lastEventId = await request(web.url, '/api/follow', { headers: { 'Last-Event-ID': 'abc' } });
  assert.equal(lastEventId.status, 400);
  assert.match(lastEventId.text, /^invalid value "abc" for Last-Event-ID: /);
});

test('entries, follow, status, metrics: 502 in one line when memlogd is down', async (t) => {
  const dir = tmpdir(t);
  const web = await startWeb(t, ['-listen', '127.0.0.1:0', '-socket', path.join(dir, 'nothing.sock')]);
  for (const p of ['/api/entries', '/api/entries?source=x', '/api/follow', '/api/follow?n=5', '/api/status', '/metrics']) {
    const got = await request(web.url, p);
    assert.equal(got.status, 502, `${p}: ${got.text}`);
    assert.equal(got.headers['content-type'], 'text/plain; charset=utf-8');
    assert.match(got.text, /^cannot connect to .*nothing\.sock: no such socket \(is memlogd running\?\)\n$/, p);
  }
  // The server itself is fine.
  assert.equal((await request(web.url, '/api/entries?since=bad')).status, 400);
});

test('entries: a browser that goes away mid-dump closes the connection to memlogd at once', async (t) => {
  const dir = tmpdir(t);
  const daemon = await startDaemon(t, dir, ['-max-lines', '200000', '-max-bytes', String(64 * 1024 * 1024)]);
  // Far more than every buffer between memlogd and the browser holds: the dump cannot have ended when the browser stops.
  await flood(daemon, 'bulk', 60_000, 400);
  await waitForRing(daemon, 60_000);
  const web = await startWeb(t, ['-listen', '127.0.0.1:0', '-socket', daemon.querySocket]);
  const u = new URL(web.url);
  const req = http.get({ host: u.hostname, port: u.port, path: '/api/entries' });
  const first = await new Promise<Buffer>((resolve, reject) => {
    req.on('error', reject);
    req.on('response', (res) => {
      res.once('data', (chunk: Buffer) => {
        res.pause();
        resolve(chunk);
      });
    });
  });
  assert.match(first.toString(), /^\{"time":/);
  // The dump's connection and this status query.
  assert.equal((await queryStatus(daemon.querySocket)).queryClients, 2);
  req.destroy();
  await waitFor('memlogd to have only the status query as client', async () => (await queryStatus(daemon.querySocket)).queryClients === 1);
  // And the server serves on.
  assert.equal((await request(web.url, '/api/entries?source=memlogd')).status, 200);
});

test('follow: retry and hello first, then one event per entry with its seq as id', async (t) => {
  const dir = tmpdir(t);
  const daemon = await startDaemon(t, dir);
  const web = await startWeb(t, ['-listen', '127.0.0.1:0', '-socket', daemon.querySocket]);
  const status = await queryStatus(daemon.querySocket);
  const es = await EventReader.open(web.url, '/api/follow');
  t.after(() => es.close());
  assert.equal(es.status, 200);
  assert.equal(es.headers['content-type'], 'text/event-stream; charset=utf-8');
  assert.equal(es.headers['cache-control'], 'no-store');
  const hello = await es.waitForEvent('hello', (e) => e.event === 'hello');
  assert.equal(es.events[0], hello);
  assert.equal(hello.retry, '2000');
  assert.deepEqual(JSON.parse(hello.data), { daemon: status.daemon, first: status.ring.first, next: status.ring.next });
  await write(daemon, 'live', ['one', 'two "quoted" \\ back', 'three ,"seq":99 inside']);
  await es.waitForEvent('the third entry', (e) => e.data.includes('three'));
  const events = es.events.slice(1);
  assert.equal(events.length, 3, JSON.stringify(events));
  const dumped = (await request(web.url, '/api/entries?source=live')).text.trim().split('\n');
  events.forEach((e, i) => {
    const entry = JSON.parse(e.data) as { seq: number; source: string; msg: string; daemon?: string };
    assert.equal(e.event, 'message');
    assert.equal(e.id, String(entry.seq));
    assert.equal(entry.source, 'live');
    // The entry as memlogd sent it: logread's json adds only the daemon's id.
    assert.deepEqual({ ...entry, daemon: status.daemon }, JSON.parse(dumped[i]));
  });
  assert.deepEqual(
    events.map((e) => (JSON.parse(e.data) as { msg: string }).msg),
    ['one', 'two "quoted" \\ back', 'three ,"seq":99 inside'],
  );
  // Only new entries: memlogd's own "started" entry was in the ring before.
  assert.ok(!es.events.some((e) => e.data.includes('memlogd started')));
});

test('follow: Last-Event-ID resumes with exactly the entries after it; n gives the last n, then live', async (t) => {
  const dir = tmpdir(t);
  const daemon = await startDaemon(t, dir);
  await write(daemon, 'resume', Array.from({ length: 10 }, (_, i) => `line ${i}`));
  await write(daemon, 'noise', ['n 1', 'n 2']);
  await waitForRing(daemon, 13);
  const web = await startWeb(t, ['-listen', '127.0.0.1:0', '-socket', daemon.querySocket]);
  const all = (await request(web.url, '/api/entries?source=resume')).text.trim().split('\n').map((l) => JSON.parse(l) as { seq: number; msg: string; daemon: string });
  assert.equal(all.length, 10);
  const cursor = all[4].seq;

  const es = await EventReader.open(web.url, '/api/follow?source=resume', { 'Last-Event-ID': String(cursor) });
  t.after(() => es.close());
  await es.waitForEvent('line 9', (e) => e.data.includes('"line 9"'));
  await write(daemon, 'resume', ['line 10']);
  await write(daemon, 'noise', ['n 3']);
  await es.waitForEvent('line 10', (e) => e.data.includes('"line 10"'));
  const got = es.events.filter((e) => e.event === 'message');
  assert.deepEqual(got.map((e) => (JSON.parse(e.data) as { msg: string }).msg), ['line 5', 'line 6', 'line 7', 'line 8', 'line 9', 'line 10']);
  assert.deepEqual(got.slice(0, 5).map((e) => Number(e.id)), all.slice(5).map((e) => e.seq));

  // The header wins over the `after` the URL was opened with (a reconnecting EventSource), and names the daemon's seq.
  const again = await EventReader.open(web.url, `/api/follow?source=resume&after=0&daemon=${all[0].daemon}`, { 'Last-Event-ID': String(all[8].seq) });
  t.after(() => again.close());
  await again.waitForEvent('line 10', (e) => e.data.includes('"line 10"'));
  assert.deepEqual(again.entries().map((e) => e.msg), ['line 9', 'line 10']);

  const last = await EventReader.open(web.url, '/api/follow?source=resume&n=3');
  t.after(() => last.close());
  await last.waitForEvent('line 10', (e) => e.data.includes('"line 10"'));
  await write(daemon, 'resume', ['line 11']);
  await last.waitForEvent('line 11', (e) => e.data.includes('"line 11"'));
  assert.deepEqual(last.entries().map((e) => e.msg), ['line 8', 'line 9', 'line 10', 'line 11']);
});

test('follow: resuming from a seq the ring dropped starts with event: lost', async (t) => {
  const dir = tmpdir(t);
  const daemon = await startDaemon(t, dir, ['-max-lines', '10']);
  await write(daemon, 'many', Array.from({ length: 40 }, (_, i) => `m ${i}`));
  await waitForRing(daemon, 41);
  const status = await queryStatus(daemon.querySocket);
  assert.ok(status.ring.first > 5, `the ring moved on (first ${status.ring.first})`);
  const web = await startWeb(t, ['-listen', '127.0.0.1:0', '-socket', daemon.querySocket]);
  const es = await EventReader.open(web.url, `/api/follow?after=2&daemon=${status.daemon}`);
  t.after(() => es.close());
  await es.waitForEvent('m 39', (e) => e.data.includes('"m 39"'));
  assert.equal(es.events[0].event, 'hello');
  const lost = es.events[1];
  assert.equal(lost.event, 'lost');
  assert.equal(lost.id, undefined);
  const marker = JSON.parse(lost.data) as { source: string; lost: { from: number; to: number; count: number } };
  assert.equal(marker.source, 'memlogd');
  assert.equal(marker.lost.from, 3);
  assert.equal(marker.lost.to, status.ring.first - 1);
  const rest = es.events.slice(2);
  assert.ok(rest.every((e) => e.event === 'message'));
  assert.deepEqual(rest.map((e) => Number(e.id)), Array.from({ length: status.ring.next - status.ring.first }, (_, i) => status.ring.first + i));
});

test('follow: a browser that stops reading holds back neither memlogd nor another follower, and later gets event: lost', async (t) => {
  const dir = tmpdir(t);
  const daemon = await startDaemon(t, dir, ['-max-lines', '2000']);
  const web = await startWeb(t, ['-listen', '127.0.0.1:0', '-socket', daemon.querySocket]);
  const slow = await EventReader.open(web.url, '/api/follow?source=flood&source=end');
  t.after(() => slow.close());
  await slow.waitForEvent('hello', (e) => e.event === 'hello');
  slow.pause();
  const fast = await EventReader.open(web.url, '/api/follow?source=flood&source=end');
  t.after(() => fast.close());
  await fast.waitForEvent('hello', (e) => e.event === 'hello');
  // 30 MB of entries: far more than memlogd's queue, the sockets' buffers and the server's write buffer hold together.
  await flood(daemon, 'flood', 15_000, 2000);
  await write(daemon, 'end', ['LAST']);
  await fast.waitForEvent('LAST from the reading follower', (e) => e.data.includes('"msg":"LAST"'), 120_000);
  // memlogd answers, and still has the stalled browser's connection (it is a reader like any other).
  const status = await queryStatus(daemon.querySocket);
  assert.equal(status.queryClients, 3);
  assert.ok(slow.bytes < 30_000_000, `the stalled browser has not read it all (${slow.bytes} bytes)`);
  slow.resume();
  await slow.waitForEvent('LAST from the stalled follower, once it reads again', (e) => e.data.includes('"msg":"LAST"'), 120_000);
  assert.ok(
    slow.events.some((e) => e.event === 'lost'),
    'the stalled browser was told what it lost: the server did not buffer the stream for it',
  );
  // Ids only grow, and every gap is a loss marker's.
  let prev = -1;
  let lostTo = -1;
  for (const e of slow.events) {
    if (e.event === 'lost') lostTo = (JSON.parse(e.data) as { lost: { to: number } }).lost.to;
    if (e.event !== 'message') continue;
    const seq = Number(e.id);
    assert.ok(seq > prev, `seq ${seq} after ${prev}`);
    prev = seq;
  }
  assert.ok(lostTo >= 0);
});

test('follow: the browser going away closes its connection to memlogd', async (t) => {
  const dir = tmpdir(t);
  const daemon = await startDaemon(t, dir);
  const web = await startWeb(t, ['-listen', '127.0.0.1:0', '-socket', daemon.querySocket]);
  const es = await EventReader.open(web.url, '/api/follow');
  await es.waitForEvent('hello', (e) => e.event === 'hello');
  assert.equal((await queryStatus(daemon.querySocket)).queryClients, 2);
  es.close();
  await waitFor('the follow connection to close', async () => (await queryStatus(daemon.querySocket)).queryClients === 1);
});

test('status: memlogd status object, as memlog status prints it', async (t) => {
  const dir = tmpdir(t);
  const daemon = await startDaemon(t, dir);
  await write(daemon, 'svc', ['hello']);
  await waitForRing(daemon, 2);
  const web = await startWeb(t, ['-listen', '127.0.0.1:0', '-socket', daemon.querySocket]);
  const got = await request(web.url, '/api/status');
  assert.equal(got.status, 200);
  assert.equal(got.headers['content-type'], 'application/json; charset=utf-8');
  const status = JSON.parse(got.text) as Record<string, unknown> & { ring: { next: number }; ringSources: { source: string }[] };
  const cli = JSON.parse((await run(BIN('memlog'), ['status', '-socket', daemon.querySocket])).stdout) as typeof status;
  assert.equal(status.daemon, cli.daemon);
  assert.equal(status.pid, daemon.pid);
  assert.equal(status.ring.next, cli.ring.next);
  assert.deepEqual(status.ringSources.map((s) => s.source), ['memlogd', 'svc']);
  assert.deepEqual(Object.keys(status).sort(), Object.keys(cli).sort());
  assert.equal((await request(web.url, '/api/status?x=1')).status, 400);
});

interface Member {
  name: string;
  data: Buffer;
}

async function untar(gz: Buffer): Promise<Member[]> {
  const ex = extract();
  const members: Member[] = [];
  const reading = (async () => {
    for await (const entry of ex) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      members.push({ name: entry.header.name, data: Buffer.concat(chunks) });
    }
  })();
  ex.end(zlib.gunzipSync(gz));
  await reading;
  return members;
}

test('bundle: memlog bundle as a .tar.gz download, with the ring, and no file left behind', async (t) => {
  const dir = tmpdir(t);
  const daemon = await startDaemon(t, dir);
  await write(daemon, 'svc', ['for the bundle 1', 'for the bundle 2']);
  await waitForRing(daemon, 3);
  const logDir = path.join(dir, 'logs');
  fs.mkdirSync(logDir);
  fs.writeFileSync(path.join(logDir, 'svc.log'), 'an old line\n');
  const tmp = path.join(dir, 'tmp');
  fs.mkdirSync(tmp);
  const web = await startWeb(t, ['-listen', '127.0.0.1:0', '-socket', daemon.querySocket, '-log-dir', logDir], { ...process.env, TMPDIR: tmp });
  const got = await request(web.url, '/api/bundle');
  assert.equal(got.status, 200);
  assert.equal(got.headers['content-type'], 'application/gzip');
  assert.match(got.headers['content-disposition'] ?? '', /^attachment; filename="memlog-bundle-\d{8}T\d{6}Z\.tar\.gz"$/);
  const members = await untar(got.body);
  const ring = members.find((m) => m.name.endsWith('/ring.jsonl'));
  assert.ok(ring, `ring.jsonl in ${members.map((m) => m.name).join(' ')}`);
  const msgs = ring.data.toString().trim().split('\n').map((l) => (JSON.parse(l) as { msg: string }).msg);
  assert.deepEqual(msgs.slice(-2), ['for the bundle 1', 'for the bundle 2']);
  const logFile = members.find((m) => m.name.endsWith('/logs/svc.log'));
  assert.equal(logFile?.data.toString(), 'an old line\n');
  assert.ok(members.some((m) => m.name.endsWith('/summary.json')));
  await waitFor('the bundle to remove its temporary files', () => fs.readdirSync(tmp).length === 0);
  assert.deepEqual(fs.readdirSync(logDir), ['svc.log']);
});

test('SIGTERM: memlog web exits 0, closing an open event stream', async (t) => {
  const dir = tmpdir(t);
  const daemon = await startDaemon(t, dir);
  const web = await startWeb(t, ['-listen', '127.0.0.1:0', '-socket', daemon.querySocket]);
  const es = await EventReader.open(web.url, '/api/follow');
  await es.waitForEvent('hello', (e) => e.event === 'hello');
  assert.equal(await web.stop('SIGTERM'), 0);
  await waitFor('the event stream to end', () => es.ended);
  await waitFor("memlogd to see the follower's connection closed", async () => (await queryStatus(daemon.querySocket)).queryClients === 1);
  assert.equal(web.stderr(), '');
});

test('memlog web is a command of memlog, with one-line usage errors', async () => {
  const help = await run(BIN('memlog'), ['web', '-help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: memlog web /);
  assert.match((await run(BIN('memlog'), ['help'])).stdout, /\n {2}web {6}/);
  const bad = await run(BIN('memlog-web'), ['-listen', 'nonsense']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^memlog-web: invalid value "nonsense" for flag -listen: /);
  assert.equal(bad.stderr.split('\n').length, 2);
});

test("entries with -log-dir: the persister's files and the ring merged, as logread -log-dir prints them", async (t) => {
  const dir = tmpdir(t);
  const logDir = path.join(dir, 'log');
  // A small ring: the older lines are on disk only.
  const daemon = await startDaemon(t, dir, ['-max-lines', '30']);
  startPersister(t, daemon.querySocket, logDir, ['-format', 'json']);
  for (let i = 0; i < 100; i += 10) {
    await write(daemon, 'svc', Array.from({ length: 10 }, (_, j) => `disk ${i + j}`));
    await waitFor(`disk ${i + 9} on disk`, () => fs.existsSync(path.join(logDir, 'svc.log')) && fs.readFileSync(path.join(logDir, 'svc.log'), 'utf8').includes(`"disk ${i + 9}"`));
  }
  const web = await startWeb(t, ['-listen', '127.0.0.1:0', '-socket', daemon.querySocket, '-log-dir', logDir]);
  for (const [query, flags] of [
    ['source=svc', ['-source', 'svc']],
    ['source=svc&n=5', ['-source', 'svc', '-n', '5']],
    ['grep=^disk 1[0-9]$', ['-grep', '^disk 1[0-9]$']],
  ] as [string, string[]][]) {
    const expected = await run(BIN('logread'), ['-socket', daemon.querySocket, '-log-dir', logDir, '-o', 'json', ...flags]);
    assert.equal(expected.code, 0, expected.stderr);
    const got = await request(web.url, `/api/entries?${query.replace(/ /g, '%20')}`);
    assert.equal(got.status, 200, got.text);
    assert.equal(got.text, expected.stdout, query);
  }
  const all = (await request(web.url, '/api/entries?source=svc')).text.trim().split('\n');
  assert.equal(all.length, 100, 'the ring holds 30: the rest came from the disk');
  // A cursor into the ring cannot be mixed with the disk.
  const after = await request(web.url, '/api/entries?after=3');
  assert.equal(after.status, 400);
  assert.match(after.text, /^invalid value "3" for after: a cursor into the ring, it cannot be used with -log-dir\n$/);
});

test('follow: the stream ends when memlogd closes it; a quiet stream gets keepalive comments', async (t) => {
  const dir = tmpdir(t);
  const daemon = await startDaemon(t, dir);
  const web = await startWebServer({ host: '127.0.0.1', port: 0, socket: daemon.querySocket, keepaliveMs: 50, log: () => {} });
  t.after(() => web.close());
  const es = await EventReader.open(web.url, '/api/follow');
  t.after(() => es.close());
  await es.waitForEvent('hello', (e) => e.event === 'hello');
  await waitFor('two keepalive comments', () => es.comments >= 2);
  assert.equal(es.events.length, 1, 'comments are not events');
  await daemon.stop();
  await waitFor('the event stream to end with memlogd', () => es.ended);
});

test("follow's events from memlogd's lines: the seq found without parsing, loss markers and skipped reports named", () => {
  const line = (o: Record<string, unknown>): Buffer => Buffer.from(JSON.stringify(o));
  const entry = line({ time: 't', source: 'a,"seq":1', msg: 'x ,"seq":5 ,"lost":{} \\",\\"seq\\":7', seq: 42, pid: 3, sd: { seq: 9 } });
  const kind = classify(entry);
  assert.equal(kind.kind, 'entry');
  assert.equal(kind.kind === 'entry' && entry.toString('latin1', kind.seqStart, kind.seqEnd), '42');
  // A loss marker's sources may be named anything, "seq" too.
  assert.deepEqual(classify(line({ time: 't', source: 'memlogd', msg: 'lost 3 entries', lost: { from: 1, to: 3, count: 3, sources: { a: 1, seq: 2 }, unknown: 0 } })), { kind: 'lost' });
  assert.deepEqual(classify(line({ time: 't', source: 'memlogd', msg: 'skipped 1 entry', skipped: 1 })), { kind: 'skipped' });
  assert.deepEqual(classify(line({ time: 't', source: 'memlogd', msg: 'error: no' })), { kind: 'other' });
  assert.deepEqual(classify(Buffer.from('not json')), { kind: 'other' });
  const batch = new EventBatch();
  batch.add(entry);
  batch.add(line({ time: 't', source: 'memlogd', msg: 'm', lost: { from: 1, to: 1, count: 1, sources: {}, unknown: 1 } }));
  batch.add(line({ time: 't', source: 'memlogd', msg: 'm', skipped: 2 }));
  const text = batch.take().toString();
  assert.ok(batch.empty);
  const blocks = text.split('\n\n');
  assert.equal(blocks.pop(), '');
  assert.equal(blocks[0], `id: 42\ndata: ${entry.toString()}`);
  assert.match(blocks[1], /^event: lost\ndata: \{"time":"t","source":"memlogd","msg":"m","lost":\{/);
  assert.match(blocks[2], /^event: skipped\ndata: \{"time":"t","source":"memlogd","msg":"m","skipped":2\}$/);
});
