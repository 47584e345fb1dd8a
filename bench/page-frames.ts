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
 * whether the page kept up. Before the writer starts, the same page's frames
 * while nothing comes (the idle figures: what the machine gives a page at
 * rest), then a shorter window at a lower rate, for comparison. In the window, the machine's CPU use (all processes, /proc/stat) and
 * memlog web's and memlogd's: the browser shares the machine with them.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { Helper, numberField, sleep, timeField, type Scope } from './children.js';
import type { Values } from './figures.js';
import { cpuMicros, machineCpu } from './proc-stats.js';
import { processTree } from './proc-tree.js';
import { findProgram } from './which.js';
import { queryStatus } from '../src/clients/query-client.js';

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** One frame at 60 Hz, ms. */
export const FRAME_60HZ = 1000 / 60;

export interface PagePlan {
  /** memlog web's base URL. */
  base: string;
  /** memlog web's and memlogd's pids: their CPU time in the window. */
  webPid: number;
  daemonPid: number;
  logSocket: string;
  querySocket: string;
  rate: number;
  /** A lower rate measured first, for comparison, with its own (shorter) warm-up and window. */
  lowRate: number;
  lowWarmMs: number;
  lowMeasureMs: number;
  /** Frames measured before the writer starts: the page following an idle daemon. */
  idleMs: number;
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
    // Kept as they come (the observer's own time shows in the timeline: the least work here); read after the window.
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) loaf.push(e);
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

interface Measured {
  /** rAF deltas of frames that began in the window, ms. */
  deltas: number[];
  loafCount: number;
  loafMaxMs: number;
  loafBlockingMs: number;
  loafRenderMs: number;
  loafStyleLayoutMs: number;
  loafScriptMs: number;
  /** The scripts that took the most of the long frames' time. */
  invokers: string[];
  loafError: string;
  /** The oldest seq the page holds at the end. */
  firstHeld: number;
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
  const loaf = b.loaf.filter((e) => e.startTime >= ${from.now} && e.startTime < ${to.now}).map((e) => {
    const end = e.startTime + e.duration;
    return {
      duration: e.duration,
      blocking: e.blockingDuration || 0,
      render: e.renderStart ? end - e.renderStart : 0,
      styleLayout: e.styleAndLayoutStart ? end - e.styleAndLayoutStart : 0,
      scripts: (e.scripts || []).map((x) => ({ what: (x.invoker || x.invokerType || '?') + ' ' + (x.sourceFunctionName || ''), duration: x.duration })),
    };
  });
  const invokers = {};
  for (const e of loaf) for (const x of e.scripts) invokers[x.what] = (invokers[x.what] || 0) + x.duration;
  const all = window.memlogPage.seqs();
  const seqs = all.filter((s) => s > ${from.last} && s <= ${to.last});
  return {
    deltas,
    loafCount: loaf.length,
    loafMaxMs: loaf.reduce((m, e) => Math.max(m, e.duration), 0),
    loafBlockingMs: loaf.reduce((n, e) => n + e.blocking, 0),
    loafRenderMs: loaf.reduce((n, e) => n + e.render, 0),
    loafStyleLayoutMs: loaf.reduce((n, e) => n + e.styleLayout, 0),
    loafScriptMs: loaf.reduce((n, e) => n + e.scripts.reduce((m, x) => m + x.duration, 0), 0),
    invokers: Object.entries(invokers).sort((a, b) => b[1] - a[1]).slice(0, 4).map(([w, d]) => w.trim() + ' ' + d.toFixed(0) + ' ms'),
    loafError: b.loafError,
    received: seqs.length,
    missing: ${to.last} - ${from.last} - new Set(seqs).size,
    firstHeld: all.length ? all[0] : -1,
  };
})()`;
}

/** rAF deltas of frames that began between two page times. */
function framesScript(from: number, to: number): string {
  return `(() => {
  const f = window.__memlogBench.frames;
  const deltas = [];
  for (let i = 1; i < f.length; i++) if (f[i] > ${from} && f[i] <= ${to}) deltas.push(f[i] - f[i - 1]);
  return deltas;
})()`;
}

function isMark(v: unknown): v is Mark {
  const m = v as Mark;
  return typeof m === 'object' && m !== null && typeof m.now === 'number' && typeof m.held === 'number' && typeof m.last === 'number' && typeof m.state === 'string';
}

function isMeasured(v: unknown): v is Measured {
  const w = v as Measured;
  return typeof w === 'object' && w !== null && Array.isArray(w.deltas) && typeof w.received === 'number' && typeof w.missing === 'number';
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** cpuMicros, or undefined if the process has gone (a utility process of chromium may exit at any time). */
function cpuOrUndefined(pid: number): number | undefined {
  try {
    return cpuMicros(pid);
  } catch {
    return undefined;
  }
}

/** CPU time of this bench's chromium processes (all of them: browser, renderer, GPU, utility), µs, by pid, with each one's --type. */
function chromiumCpu(chromiumPath: string): Map<number, { type: string; micros: number }> {
  const exe = fs.realpathSync(chromiumPath);
  const out = new Map<number, { type: string; micros: number }>();
  for (const p of processTree(process.pid)) {
    // /usr/bin/chromium is a shell script; the processes are /usr/lib/chromium/chromium.
    if (p.exe !== exe && path.basename(p.exe) !== 'chromium') continue;
    // Zygote children rewrite their command line as one string: look for the flag in all of it.
    const type = /--type=(\S+)/.exec(p.argv.join(' '))?.[1] ?? 'browser';
    const micros = cpuOrUndefined(p.pid);
    if (micros !== undefined) out.set(p.pid, { type, micros });
  }
  return out;
}

/** CPU time between two readings of the same processes (those that came meanwhile count from zero), in all and by process type. */
function cpuBetween(a: Map<number, { micros: number }>, b: Map<number, { type: string; micros: number }>): { all: number; byType: Map<string, number> } {
  let all = 0;
  const byType = new Map<string, number>();
  for (const [pid, x] of b) {
    const d = x.micros - (a.get(pid)?.micros ?? 0);
    all += d;
    byType.set(x.type, (byType.get(x.type) ?? 0) + d);
  }
  return { all, byType };
}

interface RateWindow {
  from: Mark;
  to: Mark;
  w: Measured;
  writerRate: number;
  /** The ring's newest seq just after the window. */
  next: number;
  busyPct: number;
  webPct: number;
  daemonPct: number;
  chromiumPct: number;
  othersPct: number;
  byType: string[];
}

/** A paced writer at rate into memlogd while the page follows: after warmMs, a window of measureMs, read in the page and from /proc. */
async function followWindow(scope: Scope, page: Page, chromiumPath: string, plan: PagePlan, rate: number, warmMs: number, measureMs: number): Promise<RateWindow> {
  // The writer goes on a few seconds past the window (it is stopped once the window is read): still writing while it is read.
  const seconds = (warmMs + measureMs) / 1000 + 4;
  const writer = new Helper('paced writer', 'paced-writer.js', [plan.logSocket, String(rate), String(seconds * 1000)], scope);
  await writer.nextWith('ready', 30_000);
  writer.send('go');
  await sleep(warmMs);
  const from: unknown = await page.evaluate(MARK);
  const writerPid = writer.child.pid as number;
  const cpu0 = {
    machine: machineCpu(),
    web: cpuMicros(plan.webPid),
    daemon: cpuMicros(plan.daemonPid),
    writer: cpuOrUndefined(writerPid) ?? 0,
    bench: process.cpuUsage(),
    chromium: chromiumCpu(chromiumPath),
    t: process.hrtime.bigint(),
  };
  await sleep(measureMs);
  const to: unknown = await page.evaluate(MARK);
  const machine1 = machineCpu();
  const busyPct = (100 * (machine1.busy - cpu0.machine.busy)) / Math.max(1, machine1.total - cpu0.machine.total);
  const wallMicros = Number(process.hrtime.bigint() - cpu0.t) / 1000;
  const webPct = (100 * (cpuMicros(plan.webPid) - cpu0.web)) / wallMicros;
  const daemonPct = (100 * (cpuMicros(plan.daemonPid) - cpu0.daemon)) / wallMicros;
  const writerPct = (100 * ((cpuOrUndefined(writerPid) ?? cpu0.writer) - cpu0.writer)) / wallMicros;
  const benchUse = process.cpuUsage(cpu0.bench);
  const benchPct = (100 * (benchUse.user + benchUse.system)) / wallMicros;
  const chromiumUse = cpuBetween(cpu0.chromium, chromiumCpu(chromiumPath));
  const chromiumPct = (100 * chromiumUse.all) / wallMicros;
  // What the machine did besides this scenario's processes (another job on it), in cores' percent.
  const othersPct = Math.max(0, busyPct * os.cpus().length - chromiumPct - webPct - daemonPct - writerPct - benchPct);
  const byType = [...chromiumUse.byType].sort((x, y) => y[1] - x[1]).map(([type, us]) => `${type} ${((100 * us) / wallMicros).toFixed(0)}%`);
  // The ring's newest entry just after: how far behind the page was.
  const next = (await queryStatus(plan.querySocket, 10_000)).ring.next;
  if (!isMark(from) || !isMark(to)) throw new Error(`the page's test hook answered ${JSON.stringify([from, to]).slice(0, 200)}`);
  const w: unknown = await page.evaluate(windowScript(from, to));
  if (!isMeasured(w)) throw new Error(`the frame window read back ${JSON.stringify(w).slice(0, 200)}`);
  writer.send('stop');
  const done = await writer.nextWith('done', 10_000);
  const writerRate = numberField(done, 'sent') / (Number(timeField(done, 'endAt') - timeField(done, 'startAt')) / 1e9);
  if (w.loafError) plan.note(`no long-animation-frame entries: ${w.loafError}`);
  if (w.firstHeld > from.last) plan.note(`the page had dropped entries of the window by its end (oldest held ${w.firstHeld}): the received count is short`);
  return { from, to, w, writerRate, next, busyPct, webPct, daemonPct, chromiumPct, othersPct, byType };
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

    const idleFrom: unknown = await page.evaluate(MARK);
    const idleCpu0 = chromiumCpu(chromiumPath);
    const idleT0 = process.hrtime.bigint();
    await sleep(plan.idleMs);
    const idleTo: unknown = await page.evaluate(MARK);
    const idleChromiumPct = (100 * cpuBetween(idleCpu0, chromiumCpu(chromiumPath)).all) / (Number(process.hrtime.bigint() - idleT0) / 1000);
    if (!isMark(idleFrom) || !isMark(idleTo)) throw new Error(`the page's test hook answered ${JSON.stringify([idleFrom, idleTo]).slice(0, 200)}`);
    const idle: unknown = await page.evaluate(framesScript(idleFrom.now, idleTo.now));
    if (!Array.isArray(idle) || idle.some((d) => typeof d !== 'number')) throw new Error('the idle frames read back wrong');
    const idleSorted = (idle as number[]).sort((a, b) => a - b);

    const low = await followWindow(scope, page, chromiumPath, plan, plan.lowRate, plan.lowWarmMs, plan.lowMeasureMs);
    const lowSorted = [...low.w.deltas].sort((a, b) => a - b);
    const { from, to, w, writerRate, next, busyPct, webPct, daemonPct, chromiumPct, othersPct, byType } = await followWindow(
      scope,
      page,
      chromiumPath,
      plan,
      plan.rate,
      plan.warmMs,
      plan.measureMs,
    );
    plan.note(`page: chromium's CPU by process (% of a core): ${byType.join(', ')}`);
    plan.note(
      `page: long frames' time: scripts ${w.loafScriptMs.toFixed(0)} ms, style and layout ${w.loafStyleLayoutMs.toFixed(0)} ms, render ${w.loafRenderMs.toFixed(0)} ms; top scripts: ${w.invokers.join('; ') || '-'}`,
    );

    const windowSec = (to.now - from.now) / 1000;
    const sorted = [...w.deltas].sort((a, b) => a - b);
    const p95 = percentile(sorted, 95);
    return {
      frameP95: p95,
      frameP95Frames: Math.round(p95 / FRAME_60HZ),
      frameP50: percentile(sorted, 50),
      frameMax: sorted.length ? sorted[sorted.length - 1] : NaN,
      fps: w.deltas.length / windowSec,
      idleP95: percentile(idleSorted, 95),
      idleP50: percentile(idleSorted, 50),
      idleChromiumCpuPct: idleChromiumPct,
      lowP95: percentile(lowSorted, 95),
      lowP50: percentile(lowSorted, 50),
      lowPageRate: low.w.received / ((low.to.now - low.from.now) / 1000),
      lowChromiumCpuPct: low.chromiumPct,
      slowFramesPct: (100 * w.deltas.filter((d) => d > 1.5 * FRAME_60HZ).length) / Math.max(1, w.deltas.length),
      loafCount: w.loafCount,
      loafMaxMs: w.loafMaxMs,
      loafBlockingMs: w.loafBlockingMs,
      pageRate: w.received / windowSec,
      writerRate,
      pageMissing: w.missing,
      pageBehind: Math.max(0, next - 1 - to.last),
      pageFollowing: to.state === 'following' ? 1 : 0,
      machineBusyPct: busyPct,
      webCpuPct: webPct,
      daemonCpuPct: daemonPct,
      chromiumCpuPct: chromiumPct,
      othersCpuPct: othersPct,
    };
  } finally {
    await context.close();
  }
}
