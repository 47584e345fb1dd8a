/**
 * The page's frame time while it follows a steady stream (issue 14): Debian's
 * chromium, headless, driven by playwright-core (no browser download: its
 * executablePath is the system's), a fresh profile in the scope's directory.
 *
 * Measured in the browser, by the browser's own clock: an init script (run
 * before the page's own) keeps every requestAnimationFrame timestamp (a
 * frame's start; the difference between two is that frame's time) and every
 * 'long-animation-frame' entry (Chromium's timeline of frames over 50 ms).
 * The page is opened on memlog web, following; a paced writer (its own
 * process) writes RATE lines/s into memlogd; after a warm-up, a window of
 * measureMs is read: the frames that began in it, and what the page
 * received in it (window.memlogPage, the contract's test hook: the seqs it
 * holds), with the ring's newest seq at the window's end, so the figure says
 * whether the page kept up.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Helper, numberField, sleep, timeField, type Scope } from './children.js';
import type { Values } from './figures.js';
import { findProgram } from './which.js';
import { queryStatus } from '../src/clients/query-client.js';

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** One frame at 60 Hz, ms. */
export const FRAME_60HZ = 1000 / 60;

export interface PagePlan {
  /** memlog web's base URL. */
  base: string;
  logSocket: string;
  querySocket: string;
  rate: number;
  warmMs: number;
  measureMs: number;
  note(msg: string): void;
}

/** Collects frames in the page from its first script on; window.__memlogBench. */
const INIT_SCRIPT = `(() => {
  const frames = [];
  const loaf = [];
  const bench = { frames, loaf, loafError: '' };
  Object.defineProperty(window, '__memlogBench', { value: bench });
  const tick = (t) => { frames.push(t); requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) loaf.push({ start: e.startTime, duration: e.duration, blocking: e.blockingDuration || 0 });
    }).observe({ type: 'long-animation-frame', buffered: true });
  } catch (e) {
    bench.loafError = String(e);
  }
})();`;

/** The page's clock and what it holds, read at a window's edge. */
const MARK = `(() => {
  const seqs = window.memlogPage.seqs();
  return { now: performance.now(), held: window.memlogPage.held(), last: seqs.length ? seqs[seqs.length - 1] : -1, state: window.memlogPage.state() };
})()`;

interface Mark {
  now: number;
  held: number;
  last: number;
  state: string;
}

interface Window {
  /** rAF deltas of frames that began in the window, ms. */
  deltas: number[];
  loafCount: number;
  loafMaxMs: number;
  loafBlockingMs: number;
  loafError: string;
  /** Entries with a seq after the first mark's last, held at the second mark. */
  received: number;
  /** Seqs after the first mark's last, up to the second's, that the page does not hold. */
  missing: number;
}

function windowScript(from: Mark, to: Mark): string {
  return `(() => {
  const b = window.__memlogBench;
  const deltas = [];
  for (let i = 1; i < b.frames.length; i++) if (b.frames[i] > ${from.now} && b.frames[i] <= ${to.now}) deltas.push(b.frames[i] - b.frames[i - 1]);
  const loaf = b.loaf.filter((e) => e.start >= ${from.now} && e.start < ${to.now});
  const seqs = window.memlogPage.seqs().filter((s) => s > ${from.last} && s <= ${to.last});
  return {
    deltas,
    loafCount: loaf.length,
    loafMaxMs: loaf.reduce((m, e) => Math.max(m, e.duration), 0),
    loafBlockingMs: loaf.reduce((n, e) => n + e.blocking, 0),
    loafError: b.loafError,
    received: seqs.length,
    missing: ${to.last} - ${from.last} - new Set(seqs).size,
  };
})()`;
}

function isMark(v: unknown): v is Mark {
  const m = v as Mark;
  return typeof m === 'object' && m !== null && typeof m.now === 'number' && typeof m.held === 'number' && typeof m.last === 'number' && typeof m.state === 'string';
}

function isWindow(v: unknown): v is Window {
  const w = v as Window;
  return typeof w === 'object' && w !== null && Array.isArray(w.deltas) && typeof w.received === 'number' && typeof w.missing === 'number';
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Why the figure cannot be measured here, or undefined. */
export function pageSkipReason(): string | undefined {
  if (!findProgram('chromium')) return "no chromium on this machine (Debian's package: apt-get install chromium; the bench installs nothing)";
  return undefined;
}

/** The figures (see web.ts), or undefined with a note saying why they were skipped. */
export async function pageFrames(scope: Scope, plan: PagePlan): Promise<Values | undefined> {
  const chromiumPath = findProgram('chromium');
  if (!chromiumPath) {
    plan.note(`page frame time SKIPPED: ${pageSkipReason() ?? ''}`);
    return undefined;
  }
  let pw: typeof import('playwright-core');
  try {
    pw = await import('playwright-core');
  } catch (err) {
    plan.note(`page frame time SKIPPED: playwright-core cannot be loaded (npm ci installs it, a devDependency): ${(err as Error).message.split('\n')[0]}`);
    return undefined;
  }
  const profile = path.join(scope.dir, 'chromium-profile');
  fs.mkdirSync(profile);
  const context = await pw.chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 800 },
  });
  try {
    await context.addInitScript({ content: INIT_SCRIPT });
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(`${plan.base}/`);
    await page.waitForFunction("window.memlogPage !== undefined && window.memlogPage.state() === 'following'", undefined, { timeout: 20_000 });

    const seconds = (plan.warmMs + plan.measureMs) / 1000 + 1;
    const writer = new Helper('paced writer', 'paced-writer.js', [plan.logSocket, String(plan.rate), String(seconds * 1000)], scope);
    await writer.nextWith('ready', 30_000);
    writer.send('go');
    await sleep(plan.warmMs);
    const from: unknown = await page.evaluate(MARK);
    await sleep(plan.measureMs);
    const to: unknown = await page.evaluate(MARK);
    // The ring's newest entry just after: how far behind the page was.
    const next = (await queryStatus(plan.querySocket, 10_000)).ring.next;
    if (!isMark(from) || !isMark(to)) throw new Error(`the page's test hook answered ${JSON.stringify([from, to]).slice(0, 200)}`);
    const w: unknown = await page.evaluate(windowScript(from, to));
    if (!isWindow(w)) throw new Error(`the frame window read back ${JSON.stringify(w).slice(0, 200)}`);
    const done = await writer.nextWith('done', seconds * 1000 + 10_000);
    if (w.loafError) plan.note(`no long-animation-frame entries: ${w.loafError}`);
    if (to.held >= 100_000) plan.note(`the page held ${to.held} entries at the window's end (its bound): the received count may be short`);

    const windowSec = (to.now - from.now) / 1000;
    const sorted = [...w.deltas].sort((a, b) => a - b);
    const p95 = percentile(sorted, 95);
    return {
      frameP95: p95,
      frameP95Frames: Math.round(p95 / FRAME_60HZ),
      frameP50: percentile(sorted, 50),
      frameMax: sorted.length ? sorted[sorted.length - 1] : NaN,
      fps: w.deltas.length / windowSec,
      slowFramesPct: (100 * w.deltas.filter((d) => d > 1.5 * FRAME_60HZ).length) / Math.max(1, w.deltas.length),
      loafCount: w.loafCount,
      loafMaxMs: w.loafMaxMs,
      loafBlockingMs: w.loafBlockingMs,
      pageRate: w.received / windowSec,
      writerRate: numberField(done, 'sent') / (Number(timeField(done, 'endAt') - timeField(done, 'startAt')) / 1e9),
      pageMissing: w.missing,
      pageBehind: Math.max(0, next - 1 - to.last),
      pageFollowing: to.state === 'following' ? 1 : 0,
    };
  } finally {
    await context.close();
  }
}
