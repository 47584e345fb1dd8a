/**
 * The compressed ring (issue 13): ring-hold, ring-ingest, ring-dump,
 * ring-follow and ring-rss. Each runs memlogd with -compress-ring=false,
 * then with -compress-ring=true, on the same workload (ring-arms.ts), and
 * gives each figure for both and as compressed / raw.
 *
 * The workload: LogHub's samples (https://github.com/logpai/loghub), whole
 * lines, replayed by 60 sources interleaved a line at a time
 * (CorpusReplay in corpus.ts); ring-hold also gives the bench's synthetic
 * 100-byte lines, which compress unrealistically well.
 */
import { Scope, sleep } from '../children.js';
import { CORPUS_URL, CorpusReplay, corpusFiles, syntheticFiles, type CorpusFile } from '../corpus.js';
import { Daemon } from '../daemon.js';
import type { FigureSpec, Values } from '../figures.js';
import { cpuMicros, peakRss, rss } from '../proc-stats.js';
import { ARMS, ISSUE, bestOfTurns, comparedFigures, runArms, type Arm, type Compared } from '../ring-arms.js';
import { ringSettled } from '../ring-settled.js';
import { DumpReader, seconds } from '../workload.js';
import { ask, filterRequest } from './filter.js';
import { followLatency } from './latency.js';
import { MB, scaled, type Context, type Scenario } from './types.js';
import { queryStatus } from '../../src/clients/query-client.js';

const MiB = 1024 * 1024;
const LOGHUB = `LogHub (${CORPUS_URL}) whole lines, 60 interleaved sources`;
/** -max-lines where it must never bind: only -max-bytes does. */
const UNBOUND_LINES = 10_000_000;
/** -max-bytes for a raw ring of ctx.ring LogHub entries (about 125 bytes each, HDFS's longest cut to 1024). */
const RAW_BYTES_PER_ENTRY = 160;

interface Ring {
  maxLines: number;
  maxBytes: number;
}

function startArm(scope: Scope, ctx: Context, arm: Arm, ring: Ring): Promise<Daemon> {
  return Daemon.start(scope, { template: ctx.template, ...ring, args: [arm.flag] });
}

/** One arm, in a scope of its own (its daemon gone before the next arm starts). */
async function inScope<T>(fn: (scope: Scope) => Promise<T>): Promise<T> {
  const scope = new Scope();
  try {
    return await fn(scope);
  } finally {
    await scope.close();
  }
}

/** A replay of files into a started daemon; resolves once the daemon has taken in n lines more (and returns its status). */
async function replayInto(daemon: Daemon, files: CorpusFile[], n: number, linesPerTurn?: number): Promise<{ next0: number; entries: number }> {
  const next0 = (await queryStatus(daemon.requireQuery(), 10_000)).ring.next;
  const replay = new CorpusReplay(files, undefined, linesPerTurn);
  await replay.open(daemon.logSocket);
  try {
    replay.write(n);
  } finally {
    replay.close();
  }
  const status = await ringSettled(daemon, next0 + n);
  return { next0, entries: status.ring.entries };
}

// ring-hold ------------------------------------------------------------------

const HOLD_LOGHUB: Ring = { maxLines: UNBOUND_LINES, maxBytes: 16 * MiB };
/** Synthetic lines compress so well that -max-bytes never binds the compressed arm: -max-lines does, and a small ring keeps the run short. */
const HOLD_SYNTHETIC: Ring = { maxLines: 1_000_000, maxBytes: 1 * MiB };
/** Written at least this many times what the ring holds: it has overflowed that many times over. */
const OVERFLOW = 3;
const SYNTHETIC_TURN = 512;
const ROUND = 200_000;
/** Lines written at most, whatever the ring holds (a ring that holds more than a third of it is said so by the overflow figure). */
const HOLD_CAP = 8_000_000;
/** The newest entries looked at for how finely the sources interleave. */
const RUN_SAMPLE = 20_000;

/** Mean length of a run of consecutive entries from one source among the newest RUN_SAMPLE (memlogd's own left out). */
async function meanRun(query: string): Promise<number> {
  const a = await ask(query, filterRequest({}, RUN_SAMPLE), true);
  let runs = 0;
  let entries = 0;
  let last = '';
  for (const line of a.text.toString('utf8').split('\n').slice(1)) {
    if (line === '') continue;
    const source = (JSON.parse(line) as { source?: string }).source ?? '';
    if (source === 'memlogd') continue;
    entries++;
    if (source !== last) runs++;
    last = source;
  }
  return entries / runs;
}

/** Replays files until the ring has overflowed OVERFLOW times (or HOLD_CAP lines): what it holds then. */
async function hold(ctx: Context, arm: Arm, files: CorpusFile[], ring: Ring, linesPerTurn?: number): Promise<Values> {
  return inScope(async (scope) => {
    const daemon = await startArm(scope, ctx, arm, ring);
    const query = daemon.requireQuery();
    const next0 = (await queryStatus(query, 10_000)).ring.next;
    const replay = new CorpusReplay(files, undefined, linesPerTurn);
    await replay.open(daemon.logSocket);
    const cap = scaled(ctx, HOLD_CAP, ROUND);
    let status;
    try {
      let round = scaled(ctx, ROUND, 1000);
      for (;;) {
        replay.write(round);
        status = await ringSettled(daemon, next0 + replay.lines);
        const want = Math.min(cap, OVERFLOW * status.ring.entries);
        if (replay.lines >= want) break;
        // Enough to reach OVERFLOW times what it holds now (it may hold more once more has come).
        round = Math.max(round, want - replay.lines);
      }
    } finally {
      replay.close();
    }
    const run = await meanRun(query);
    await daemon.stop();
    return {
      held: status.ring.entries,
      overflow: replay.lines / status.ring.entries,
      ringMB: status.ring.bytes / MB,
      textPerEntry: replay.bytes / replay.lines,
      // Entries of memlogd's own would make it negative: those are not a loss.
      missing: Math.max(0, next0 + replay.lines - status.ring.next),
      run,
    };
  });
}

const HOLD_FIGURES: Compared[] = [
  { key: 'held', label: 'entries held (LogHub, -max-bytes 16 MiB)', format: 'count', ratioTarget: { op: '>=', value: 5, note: ISSUE } },
  { key: 'overflow', label: '  lines written / entries held', format: 'ratio', ratio: false },
  { key: 'ringMB', label: '  ring bytes (status) MB', format: 'mb', ratio: false },
  { key: 'textPerEntry', label: '  bytes per line written', format: 'count', ratio: false },
  // 'mb' for its one decimal.
  { key: 'run', label: `  mean run of one source's entries (newest ${RUN_SAMPLE / 1000}k)`, format: 'mb', ratio: false },
  { key: 'missing', label: '  lines written, not in the ring', format: 'count', ratio: false, target: { op: '==', value: 0, note: 'a check' } },
  { key: 'synthHeld', label: 'entries held (synthetic lines: compress unrealistically well; -max-bytes 1 MiB, -max-lines 1M)', format: 'count' },
  { key: 'synthOverflow', label: '  synthetic: lines written / entries held', format: 'ratio', ratio: false },
];

export const ringHold: Scenario = {
  name: 'ring-hold',
  description: `issue 13: entries a ring of -max-bytes 16 MiB (-max-lines 10,000,000, never binding) holds once ${LOGHUB} have overflowed it ${OVERFLOW} times, raw then compressed; the same with synthetic 100-byte lines (-max-bytes 1 MiB, -max-lines 1,000,000)`,
  figures: (): FigureSpec[] => comparedFigures(HOLD_FIGURES),
  run: (ctx: Context): Promise<Values> =>
    runArms(HOLD_FIGURES, async (arm) => {
      const loghub = await hold(ctx, arm, corpusFiles(true), HOLD_LOGHUB);
      // The lines are all the same: how they interleave does not matter, and big turns are quicker.
      const synth = await hold(ctx, arm, syntheticFiles(), HOLD_SYNTHETIC, SYNTHETIC_TURN);
      return { ...loghub, synthHeld: synth.held, synthOverflow: synth.overflow };
    }),
};

// ring-ingest ----------------------------------------------------------------

/** A ring that both arms fill early (so the measured lines evict, as in a running system). */
const INGEST_RING: Ring = { maxLines: UNBOUND_LINES, maxBytes: 4 * MiB };
const INGEST_WARMUP = 500_000;
/** Lines per source turn of the bulk workload: about 64 KiB, the daemon's read (its cheapest way in, so compression's share is at its largest). */
const BULK_TURN = 512;
const BULK_LINES = 1_000_000;
/** The interleaved workload: a line per source turn, the daemon reading a line or two at a time (as the other ring-* scenarios fill). */
const FINE_LINES = 300_000;

const INGEST_FIGURES: Compared[] = [
  { key: 'cpuBulk', label: 'daemon CPU µs/line, bulk (64 KiB reads)', format: 'us', ratioTarget: { op: '<=', value: 1.3, note: ISSUE } },
  { key: 'cpuFine', label: 'daemon CPU µs/line, interleaved (a line per read)', format: 'us', ratioTarget: { op: '<=', value: 1.3, note: ISSUE } },
  { key: 'rateBulk', label: '  bulk: lines/s (write to all taken in, 50 ms polls)', format: 'rate', ratio: false },
  { key: 'rateFine', label: '  interleaved: lines/s (the same)', format: 'rate', ratio: false },
  { key: 'missing', label: '  lines written, not taken in', format: 'count', ratio: false, target: { op: '==', value: 0, note: 'a check' } },
];

/** n lines into a running daemon: its CPU time per line, the rate, what did not arrive. */
async function ingestCost(daemon: Daemon, files: CorpusFile[], n: number, linesPerTurn: number): Promise<{ cpu: number; rate: number; missing: number }> {
  const t0 = process.hrtime.bigint();
  const cpu0 = cpuMicros(daemon.pid);
  const r = await replayInto(daemon, files, n, linesPerTurn);
  const cpu = cpuMicros(daemon.pid) - cpu0;
  const sec = seconds(t0, process.hrtime.bigint());
  const next1 = (await queryStatus(daemon.requireQuery(), 10_000)).ring.next;
  return { cpu: cpu / n, rate: n / sec, missing: Math.max(0, r.next0 + n - next1) };
}

export const ringIngest: Scenario = {
  name: 'ring-ingest',
  description: `issue 13: memlogd's CPU time per line (/proc/PID) taking in ${LOGHUB} into a full ring (-max-bytes 4 MiB, after 500,000 lines of warm-up): 1,000,000 lines written 512 lines per source turn (64 KiB reads), then 300,000 a line per turn; raw then compressed`,
  figures: (): FigureSpec[] => comparedFigures(INGEST_FIGURES),
  run: (ctx: Context): Promise<Values> => {
    const files = corpusFiles(true);
    return runArms(INGEST_FIGURES, (arm) =>
      inScope(async (scope) => {
        const daemon = await startArm(scope, ctx, arm, INGEST_RING);
        await replayInto(daemon, files, scaled(ctx, INGEST_WARMUP, 1000), BULK_TURN);
        const bulk = await ingestCost(daemon, files, scaled(ctx, BULK_LINES, 1000), BULK_TURN);
        const fine = await ingestCost(daemon, files, scaled(ctx, FINE_LINES, 1000), 1);
        await daemon.stop();
        return { cpuBulk: bulk.cpu, cpuFine: fine.cpu, rateBulk: bulk.rate, rateFine: fine.rate, missing: bulk.missing + fine.missing };
      }),
    );
  },
};

// ring-dump ------------------------------------------------------------------

/** Dumps (or follows) taken per arm, the arms taking turns; the best of each arm's is kept. */
const TRIES = 3;

/** A full ring of ctx.ring LogHub entries, raw or compressed, the same flags for both: -max-lines binds. */
function fullRing(ctx: Context): Ring {
  return { maxLines: ctx.ring, maxBytes: ctx.ring * RAW_BYTES_PER_ENTRY };
}

interface Prepared {
  scope: Scope;
  daemon: Daemon;
  /** Entries its ring holds once filled. */
  entries: number;
}

/**
 * Both arms' daemons at once, each in a scope of its own (its own socket
 * paths), each given n lines of files; then measure(arm's daemon) as the
 * measurements take turns (bestOfTurns).
 */
async function withBothArms(ctx: Context, ring: Ring, files: CorpusFile[], n: number, measure: (prepared: Map<Arm['key'], Prepared>) => Promise<Values>): Promise<Values> {
  const prepared = new Map<Arm['key'], Prepared>();
  const scopes: Scope[] = [];
  try {
    for (const arm of ARMS) {
      const scope = new Scope();
      scopes.push(scope);
      const daemon = await startArm(scope, ctx, arm, ring);
      const { entries } = n > 0 ? await replayInto(daemon, files, n) : { entries: 0 };
      prepared.set(arm.key, { scope, daemon, entries });
    }
    return await measure(prepared);
  } finally {
    for (const scope of scopes) await scope.close();
  }
}

function armOf(prepared: Map<Arm['key'], Prepared>, arm: Arm): Prepared {
  const p = prepared.get(arm.key);
  if (!p) throw new Error(`no daemon for the ${arm.key} arm`);
  return p;
}

function dumpFigures(ctx: Context): Compared[] {
  return [
    { key: 'rate', label: `dump entries/s (${ctx.ring.toLocaleString('en-US')} entries, best of ${TRIES})`, format: 'rate', best: 'max', ratio: 'pct', ratioTarget: { op: '>=', value: 50, note: ISSUE } },
    { key: 'ms', label: '  dump time ms', format: 'ms', ratio: false },
    { key: 'readerCpu', label: '  reader CPU µs/entry', format: 'us', ratio: false },
    { key: 'missing', label: '  entries held, not received (worst)', format: 'count', best: 'max', ratio: false, target: { op: '==', value: 0, note: 'a check' } },
    { key: 'short', label: `  ring short of ${ctx.ring.toLocaleString('en-US')} entries`, format: 'count', best: 'max', ratio: false, target: { op: '==', value: 0, note: 'a check' } },
  ];
}

export const ringDump: Scenario = {
  name: 'ring-dump',
  description: `issue 13: a mode 0 reader (its own process) dumps a full ring of 1,000,000 entries (--ring N) of ${LOGHUB} (-max-lines 1000000, -max-bytes 160 MB in both arms): entries/s from connect to end of stream; both daemons filled, then ${TRIES} dumps of each taking turns, the best kept`,
  figures: (ctx: Context): FigureSpec[] => comparedFigures(dumpFigures(ctx)),
  run: (ctx: Context): Promise<Values> =>
    withBothArms(ctx, fullRing(ctx), corpusFiles(true), ctx.ring, (prepared) =>
      bestOfTurns(dumpFigures(ctx), TRIES, async (arm) => {
        const { scope, daemon, entries } = armOf(prepared, arm);
        const reader = await DumpReader.start(scope, daemon.requireQuery());
        const r = await reader.run();
        daemon.assertAlive();
        const sec = seconds(r.connectAt, r.endAt);
        const received = r.lines + r.memlogd;
        return { rate: received / sec, ms: sec * 1000, readerCpu: r.cpuMicros / received, missing: entries - received, short: ctx.ring - entries };
      }),
    ),
};

// ring-follow ----------------------------------------------------------------

/** One rate, about 12 MB/s of text: the compressor has a 64 KiB block to do every 5 ms. */
const FOLLOW_RATES = [100_000];
const FOLLOW_WARMUP_MS = 300;
const FOLLOW_MEASURE_MS = 1000;
const FOLLOW_TRIES = 5;

function k(rate: number): string {
  return `${rate / 1000}k`;
}

const FOLLOW_FIGURES: Compared[] = FOLLOW_RATES.flatMap((rate): Compared[] => [
  {
    key: `p99_${rate}`,
    label: `p99 ms at ${k(rate)} lines/s (best of ${FOLLOW_TRIES})`,
    format: 'ms',
    // "Unchanged", read as: at most 20 % more.
    ratioTarget: { op: '<=', value: 1.2, note: `${ISSUE}: unchanged, read as ≤ 1.2x` },
  },
  { key: `p50_${rate}`, label: `  p50 ms at ${k(rate)} lines/s`, format: 'ms' },
  { key: `max_${rate}`, label: `  max ms at ${k(rate)} lines/s`, format: 'ms', ratio: false },
  { key: `lost_${rate}`, label: `  lines lost at ${k(rate)} lines/s (worst)`, format: 'count', best: 'max', ratio: false, target: { op: '==', value: 0, note: 'a check' } },
  { key: `achieved_${rate}`, label: `  lines/s sent at ${k(rate)}`, format: 'rate', ratio: false },
]);

export const ringFollow: Scenario = {
  name: 'ring-follow',
  description: `issue 13: write-to-follower latency at ${FOLLOW_RATES.map((r) => r.toLocaleString('en-US')).join(' and ')} lines/s of LogHub whole lines (${CORPUS_URL}; one stream, the files interleaved), as the latency scenario measures it, in a ring of -max-bytes 16 MiB; both daemons up, ${FOLLOW_TRIES} runs of each taking turns, the best kept`,
  figures: (): FigureSpec[] => comparedFigures(FOLLOW_FIGURES),
  run: (ctx: Context): Promise<Values> =>
    withBothArms(ctx, HOLD_LOGHUB, [], 0, (prepared) =>
      bestOfTurns(FOLLOW_FIGURES, FOLLOW_TRIES, (arm) => {
        const { scope, daemon } = armOf(prepared, arm);
        return followLatency(scope, daemon, { rates: FOLLOW_RATES, warmupMs: FOLLOW_WARMUP_MS, measureMs: FOLLOW_MEASURE_MS, text: 'loghub' });
      }),
    ),
};

// ring-rss -------------------------------------------------------------------

/** -max-bytes of the compressed arm: 1,000,000 compressed entries fit (at 4x or better). */
const RSS_COMPRESSED_BYTES = 32 * MiB;

function rssRing(ctx: Context, arm: Arm): Ring {
  const maxBytes = arm.key === 'comp' ? Math.max(MiB, Math.round((RSS_COMPRESSED_BYTES * ctx.ring) / 1_000_000)) : ctx.ring * RAW_BYTES_PER_ENTRY;
  return { maxLines: ctx.ring, maxBytes };
}

function rssFigures(ctx: Context): Compared[] {
  const full = ctx.ring === 1_000_000;
  return [
    {
      key: 'peak',
      label: `peak RSS MB (VmHWM), ${ctx.ring.toLocaleString('en-US')} entries held`,
      format: 'mb',
      target: full ? { op: '<=', value: 80, note: `${ISSUE}, with 1,000,000 entries` } : undefined,
    },
    { key: 'after', label: '  RSS MB after the fill (VmRSS)', format: 'mb' },
    { key: 'maxBytesMB', label: '  -max-bytes MB', format: 'mb', ratio: false },
    { key: 'short', label: `  ring short of ${ctx.ring.toLocaleString('en-US')} entries`, format: 'count', ratio: false, target: { op: '==', value: 0, note: 'a check' } },
  ];
}

export const ringRss: Scenario = {
  name: 'ring-rss',
  description: `issue 13: RSS of memlogd holding 1,000,000 entries (--ring N) of ${LOGHUB}, -max-lines 1000000: compressed with -max-bytes 32 MiB, beside raw with -max-bytes 160 MB`,
  figures: (ctx: Context): FigureSpec[] => comparedFigures(rssFigures(ctx)),
  run: (ctx: Context): Promise<Values> => {
    const files = corpusFiles(true);
    return runArms(rssFigures(ctx), (arm) =>
      inScope(async (scope) => {
        const ring = rssRing(ctx, arm);
        const daemon = await startArm(scope, ctx, arm, ring);
        const { entries } = await replayInto(daemon, files, ctx.ring);
        // As the memory scenario: a moment for the last allocations to show in VmRSS.
        await sleep(200);
        daemon.assertAlive();
        const values = { peak: peakRss(daemon.pid) / MB, after: rss(daemon.pid) / MB, maxBytesMB: ring.maxBytes / MB, short: ctx.ring - entries };
        await daemon.stop();
        return values;
      }),
    );
  },
};

/** In the suite's order. */
export const RING_SCENARIOS: Scenario[] = [ringHold, ringIngest, ringDump, ringFollow, ringRss];