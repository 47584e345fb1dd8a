/**
 * Writers (and followers) against a daemon: ingest-N, deliver-*, transport-N.
 *
 * The clock starts when the writers are told to go (every stream already
 * handed over, every follower connected) and ingestion ends at the last
 * writer's EOF: each writer shuts down its side after its last line and the
 * daemon closes its end once it has read everything. Delivery to a follower
 * ends at the last line it got.
 */
import { Scope, sleep } from '../children.js';
import { Daemon } from '../daemon.js';
import type { FigureSpec, Values } from '../figures.js';
import { cpuMicros, peakRss } from '../proc-stats.js';
import { FollowerGroup, SETTLE_MS, WriterGroup, seconds, type FollowerResult } from '../workload.js';
import { MB, scaled, type Context, type Scenario } from './types.js';

export interface LoadPlan {
  template: string;
  writers: number;
  totalLines: number;
  followers: number;
  maxLines?: number;
  maxBytes?: number;
  quiet?: boolean;
}

export interface LoadResult {
  lines: number;
  ingestSec: number;
  daemonCpuMicros: number;
  writersCpuMicros: number;
  peakRss: number;
  followers: { result: FollowerResult; sec: number }[];
  daemonOutput: string;
}

export async function runLoad(plan: LoadPlan): Promise<LoadResult> {
  const scope = new Scope();
  try {
    const daemon = await Daemon.start(scope, { template: plan.template, maxLines: plan.maxLines, maxBytes: plan.maxBytes, quiet: plan.quiet });
    const perWriter = Math.max(1, Math.round(plan.totalLines / plan.writers));
    const lines = perWriter * plan.writers;
    const followers = plan.followers > 0 ? await FollowerGroup.start(scope, daemon.requireQuery(), plan.followers, lines) : undefined;
    const writers = await WriterGroup.start(scope, daemon.logSocket, { writers: plan.writers, linesPerWriter: perWriter });
    await sleep(SETTLE_MS);
    daemon.assertAlive();
    const cpu0 = cpuMicros(daemon.pid);
    const go = writers.go();
    const w = await writers.finished().catch((err: unknown) => {
      daemon.assertAlive(); // a crashed daemon is the better explanation
      throw err;
    });
    let cpu1 = cpuMicros(daemon.pid);
    let followed: { result: FollowerResult; sec: number }[] = [];
    if (followers) {
      const results = await followers.settle();
      cpu1 = cpuMicros(daemon.pid);
      followed = results.map((result) => ({ result, sec: seconds(go, result.lastAt) }));
    }
    daemon.assertAlive();
    const rss = peakRss(daemon.pid);
    const exit = await daemon.stop();
    return { lines, ingestSec: seconds(go, w.lastEof), daemonCpuMicros: cpu1 - cpu0, writersCpuMicros: w.cpuMicros, peakRss: rss, followers: followed, daemonOutput: exit.output };
  } finally {
    await scope.close();
  }
}

/** ingest-N: N writers, no follower. */
export function ingest(writers: number, totalLines: number): Scenario {
  return {
    name: `ingest-${writers}`,
    description: `${writers} writer${writers > 1 ? 's' : ''}, ${writers === 256 ? `${totalLines.toLocaleString('en-US')} lines in all` : `${(totalLines / writers).toLocaleString('en-US')} lines each`}, 100-byte lines, no follower; default ring`,
    figures: (): FigureSpec[] => [
      { key: 'rate', label: 'ingested lines/s', format: 'rate' },
      { key: 'ofTransport', label: `ingest / transport-${writers}`, format: 'pct' },
      { key: 'cpu', label: 'daemon CPU µs/line', format: 'us' },
      { key: 'writersCpu', label: 'writers CPU µs/line', format: 'us' },
      { key: 'rss', label: 'daemon peak RSS MB', format: 'mb' },
    ],
    async run(ctx: Context): Promise<Values> {
      const r = await runLoad({ template: ctx.template, writers, totalLines: scaled(ctx, totalLines, writers), followers: 0 });
      return { rate: r.lines / r.ingestSec, cpu: r.daemonCpuMicros / r.lines, writersCpu: r.writersCpuMicros / r.lines, rss: r.peakRss / MB };
    },
  };
}

/** transport-N: the same writers into the null reader (bench/null-reader.c). */
export function transport(writers: number, totalLines: number): Scenario {
  return {
    name: `transport-${writers}`,
    description: `the transport limit: ingest-${writers}'s writers into bench/null-reader.c (recvmsg, epoll, 64 KiB reads, memchr)`,
    figures: (): FigureSpec[] => [
      { key: 'rate', label: 'lines/s read', format: 'rate' },
      { key: 'cpu', label: 'reader CPU µs/line', format: 'us' },
      { key: 'writersCpu', label: 'writers CPU µs/line', format: 'us' },
      { key: 'missing', label: 'lines missing (sent - counted)', format: 'count', target: { op: '==', value: 0, note: 'a check of the bench itself' } },
    ],
    async run(ctx: Context): Promise<Values> {
      const template = `'${ctx.nullReader()}' {log}`;
      const r = await runLoad({ template, writers, totalLines: scaled(ctx, totalLines, writers), followers: 0, quiet: true });
      const m = /lines (\d+)/.exec(r.daemonOutput);
      return { rate: r.lines / r.ingestSec, cpu: r.daemonCpuMicros / r.lines, writersCpu: r.writersCpuMicros / r.lines, missing: m ? r.lines - Number(m[1]) : NaN };
    },
  };
}

export interface DeliverTargets {
  rate: number;
  lostZero: boolean;
  cpu?: number;
}

/** deliver-*: writers with followers reading as fast as they can (mode 1). */
export function deliver(name: string, writers: number, totalLines: number, followers: number, targets: DeliverTargets): Scenario {
  const issue = 'issue';
  return {
    name,
    description: `${writers} writers, ${totalLines.toLocaleString('en-US')} lines in all, ${followers} follower process${followers > 1 ? 'es' : ''} (mode 1); default ring`,
    figures: (): FigureSpec[] => [
      { key: 'ingest', label: 'ingested lines/s', format: 'rate' },
      { key: 'rate', label: followers > 1 ? 'delivered lines/s (slowest follower)' : 'delivered lines/s', format: 'rate', target: { op: '>=', value: targets.rate, note: issue } },
      { key: 'lost', label: followers > 1 ? 'lines lost (worst follower)' : 'lines lost', format: 'count', target: targets.lostZero ? { op: '==', value: 0, note: issue } : undefined },
      { key: 'lostPct', label: followers > 1 ? 'lost % (worst follower)' : 'lost %', format: 'pct' },
      { key: 'markers', label: 'memlogd lines (markers) per follower', format: 'count' },
      { key: 'markerCount', label: 'lost per markers (worst follower)', format: 'count' },
      { key: 'cpu', label: 'daemon CPU µs/line', format: 'us', target: targets.cpu === undefined ? undefined : { op: '<=', value: targets.cpu, note: issue } },
      { key: 'followerCpu', label: 'follower CPU µs/line (busiest)', format: 'us' },
      { key: 'rss', label: 'daemon peak RSS MB', format: 'mb' },
    ],
    async run(ctx: Context): Promise<Values> {
      const r = await runLoad({ template: ctx.template, writers, totalLines: scaled(ctx, totalLines, writers), followers });
      const rates = r.followers.map((f) => f.result.lines / f.sec);
      const lost = r.followers.map((f) => r.lines - f.result.lines);
      const worst = Math.max(...lost);
      // Each follower's own figures: in the results file only.
      const each: Values = {};
      r.followers.forEach((_f, i) => {
        each[`follower${i}Rate`] = rates[i];
        each[`follower${i}Lost`] = lost[i];
      });
      return {
        ...each,
        ingest: r.lines / r.ingestSec,
        rate: Math.min(...rates),
        lost: worst,
        lostPct: (worst / r.lines) * 100,
        markers: Math.max(...r.followers.map((f) => f.result.memlogd)),
        markerCount: Math.max(...r.followers.map((f) => f.result.lostByMarkers)),
        cpu: r.daemonCpuMicros / r.lines,
        followerCpu: Math.max(...r.followers.map((f) => f.result.cpuMicros)) / r.lines,
        rss: r.peakRss / MB,
      };
    },
  };
}

/** Fills a running daemon's ring: 8 writers, lines in all, 100 bytes each; resolves at the last EOF with the rate. */
export async function fill(scope: Scope, daemon: Daemon, lines: number): Promise<{ lines: number; rate: number }> {
  const writers = Math.min(8, lines);
  const perWriter = Math.ceil(lines / writers);
  const group = await WriterGroup.start(scope, daemon.logSocket, { writers, linesPerWriter: perWriter, prefix: 'fill' });
  await sleep(SETTLE_MS);
  daemon.assertAlive();
  const go = group.go();
  const w = await group.finished().catch((err: unknown) => {
    daemon.assertAlive();
    throw err;
  });
  return { lines: perWriter * writers, rate: (perWriter * writers) / seconds(go, w.lastEof) };
}

/** The daemon flags for a ring of n 100-byte entries: maxLines n, maxBytes 110 bytes per entry. */
export function ringConfig(n: number): { maxLines: number; maxBytes: number } {
  return { maxLines: n, maxBytes: n * 110 };
}
