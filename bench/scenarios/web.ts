/**
 * web: memlog web (issue 14), each figure next to what it relays, measured
 * in the same run against the same memlogd:
 *
 * 1. GET /api/entries with a filter over a ring of 1,000,000 entries (--ring
 *    N) of LogHub text (cut to 99 bytes, 100 sources, as the filter scenario
 *    fills it; each line with the severity its text suggests), beside
 *    `logread -o json` with the same flags and beside the same request sent
 *    to memlogd from this process: a 0.1% grep literal, then source=svc-1*
 *    (10%) with p=err, median of 3, the three taking turns; an unfiltered
 *    dump for comparison (one try each). Every answer is read to its end and
 *    counted chunk by chunk; time from the request (logread: the spawn) to
 *    the end.
 * 2. SSE: one /api/follow client (its own process, parsing id:/event:/data:
 *    as they come) while 8 writers flood memlogd with 1,000,000 lines; then
 *    the same flood to a `logread -f -o json` follower, then to a client of
 *    memlogd's own follow stream (mode 1). Entries/s from the writers' go to
 *    the last entry received, and what was lost.
 * 3. The page in Debian's chromium (page-frames.ts) following 10,000
 *    lines/s: frame times from the browser's own timeline, and what the page
 *    received. Skipped, saying why, where chromium is missing.
 */
import { Helper, Scope, numberField, sleep, timeField, type Message } from '../children.js';
import { corpusLines, fillFromCorpus, wordWithFrequency } from '../corpus.js';
import { Daemon } from '../daemon.js';
import type { FigureSpec, Values } from '../figures.js';
import { PRIORITY_PREFIX_FLAG, withLevel } from '../leveled-corpus.js';
import { FRAME_60HZ, pageFrames } from '../page-frames.js';
import { cpuMicros } from '../proc-stats.js';
import { ringSettled } from '../ring-settled.js';
import { httpCount, logreadCount, type Counted } from '../stream-count.js';
import { WebServer } from '../web-server.js';
import { SETTLE_MS, WriterGroup, seconds } from '../workload.js';
import { median } from '../figures.js';
import { ask, filterRequest } from './filter.js';
import { ringConfig } from './load.js';
import { FULL_RING } from './memory.js';
import { MB, scaled, type Context, type Scenario } from './types.js';
import { queryStatus } from '../../src/clients/query-client.js';

const TRIES = 3;
const FLOOD_WRITERS = 8;
const FLOOD_LINES = 1_000_000;
/** A follower that got nothing for this long has all it will get. */
const FOLLOW_IDLE_MS = 1000;
const PAGE_RATE = 10_000;
const PAGE_WARM_MS = 1500;
const PAGE_MEASURE_MS = 7000;
const PAGE_IDLE_MS = 2000;
const PAGE_LOW_RATE = 1000;
const PAGE_LOW_WARM_MS = 1000;
const PAGE_LOW_MEASURE_MS = 3000;
const ISSUE = 'issue 14';

/** One filter, as query parameters, as logread's flags, and as memlogd's request. */
interface Query {
  params: [string, string][];
  flags: string[];
  /** The request logread sends (mode 5, or 0 for a plain dump). */
  request: Buffer;
}

interface Compared {
  webMs: number;
  logreadMs: number;
  /** The same request straight to memlogd's query socket from this process: no process start, no HTTP. */
  directMs: number;
  lines: number;
  bytes: number;
  /** Tries whose web answer was not logread's (line or byte count). */
  differ: number;
}

/** One comparison's figures, keyed `<prefix>WebMs`, `<prefix>Ratio` (web / logread), `<prefix>OfDirect` (web / memlogd direct)... */
function comparedValues(prefix: string, r: Compared): Values {
  return {
    [`${prefix}WebMs`]: r.webMs,
    [`${prefix}LogreadMs`]: r.logreadMs,
    [`${prefix}Ratio`]: r.webMs / r.logreadMs,
    [`${prefix}DirectMs`]: r.directMs,
    [`${prefix}OfDirect`]: r.webMs / r.directMs,
    [`${prefix}Lines`]: r.lines,
  };
}

async function compareQuery(base: string, querySocket: string, q: Query, tries = TRIES): Promise<Compared> {
  const url = `${base}/api/entries${q.params.length ? `?${new URLSearchParams(q.params).toString()}` : ''}`;
  const args = ['-socket', querySocket, '-o', 'json', ...q.flags];
  const web: Counted[] = [];
  const logread: Counted[] = [];
  const direct: number[] = [];
  const kinds = [
    async (): Promise<void> => void web.push(await httpCount(url)),
    async (): Promise<void> => void logread.push(await logreadCount(args)),
    async (): Promise<void> => void direct.push((await ask(querySocket, q.request)).ms),
  ];
  let differ = 0;
  for (let t = 0; t < tries; t++) {
    // Taking turns, so that going first (a cold cache, a busy spell) falls on each.
    for (let k = 0; k < kinds.length; k++) await kinds[(k + t) % kinds.length]();
    if (web[t].lines !== logread[t].lines || web[t].bytes !== logread[t].bytes) differ++;
  }
  return {
    webMs: median(web.map((c) => c.ms)),
    logreadMs: median(logread.map((c) => c.ms)),
    directMs: median(direct),
    lines: web[0].lines,
    bytes: web[0].bytes,
    differ,
  };
}

interface Followed {
  rate: number;
  entries: number;
  lost: number;
  markers: number;
  lostByMarkers: number;
  /** CPU time of the relay (memlog web, or logread; for mode 1, the counting client) per entry received, µs. */
  relayCpu: number;
  /** CPU time of the counting client per entry, µs (its start-up included): is it the bottleneck? */
  clientCpu: number;
}

/** Resolves once memlogd counts `want` query clients besides the status query that asks (a dump just ended may still be counted for a moment). */
async function queryClients(querySocket: string, want: number, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (let n = -1; n !== want + 1; await sleep(10)) {
    n = (await queryStatus(querySocket, 10_000)).queryClients;
    if (Date.now() > deadline) throw new Error(`${what}: memlogd counts ${n} query clients after 10 s, expected ${want + 1} (with the status query)`);
  }
}

/** One follower (SSE, logread -f, or memlogd's mode 1) while the writers flood memlogd. */
async function follow(ctx: Context, scope: Scope, daemon: Daemon, web: WebServer, kind: 'sse' | 'logread' | 'memlogd'): Promise<Followed> {
  const query = daemon.requireQuery();
  await queryClients(query, 0, 'before the follower');
  const helper = new Helper(`${kind} follower`, 'stream-follower.js', kind === 'sse' ? ['sse', `${web.base}/api/follow`] : [kind, query], scope);
  let progressAt = Date.now();
  let latest: Message = {};
  const ready = await helper.nextWith('ready', 30_000);
  helper.onMessage = (m) => {
    if (m.status) {
      progressAt = Date.now();
      latest = m;
    }
  };
  await queryClients(query, 1, `the ${kind} follower`);
  const relayPid = kind === 'sse' ? (web.child.pid as number) : kind === 'logread' ? numberField(ready, 'pid') : helper.child.pid as number;

  const perWriter = Math.ceil(scaled(ctx, FLOOD_LINES, FLOOD_WRITERS) / FLOOD_WRITERS);
  const writers = await WriterGroup.start(scope, daemon.logSocket, { writers: FLOOD_WRITERS, linesPerWriter: perWriter, prefix: `flood-${kind}-` });
  await sleep(SETTLE_MS);
  daemon.assertAlive();
  const cpu0 = cpuMicros(relayPid);
  const go = writers.go();
  await writers.finished().catch((err: unknown) => {
    daemon.assertAlive();
    throw err;
  });
  // Until everything written is in or marked lost, or nothing more comes.
  progressAt = Date.now();
  const deadline = Date.now() + 120_000;
  const total = writers.lines;
  const got = (): number => (latest.entries === undefined ? 0 : numberField(latest, 'entries') + numberField(latest, 'lostByMarkers'));
  while (got() < total && Date.now() - progressAt < FOLLOW_IDLE_MS && Date.now() < deadline) await sleep(20);
  const cpu1 = cpuMicros(relayPid);
  helper.send('stop');
  const final = await helper.nextWith('final', 10_000);
  daemon.assertAlive();
  web.assertAlive();
  const entries = numberField(final, 'entries');
  return {
    rate: entries / seconds(go, timeField(final, 'lastAt')),
    entries,
    lost: Math.max(0, total - entries),
    markers: numberField(final, 'markers'),
    lostByMarkers: numberField(final, 'lostByMarkers'),
    relayCpu: (cpu1 - cpu0) / Math.max(1, entries),
    clientCpu: numberField(final, 'cpuMicros') / Math.max(1, entries),
  };
}

export const web: Scenario = {
  name: 'web',
  description: `${ISSUE}, memlog web beside what it relays: /api/entries with a filter over a full ring (1,000,000 LogHub entries, --ring N) vs logread -o json, same flags, median of ${TRIES}; /api/follow (SSE) entries/s to one client while 8 writers flood 1,000,000 lines, vs logread -f -o json and memlogd's own follow stream; the page's frame time in headless chromium following ${PAGE_RATE.toLocaleString('en-US')} lines/s`,
  figures: (ctx: Context): FigureSpec[] => {
    const n = ctx.ring.toLocaleString('en-US');
    const full = ctx.ring === FULL_RING;
    const ratio = (): FigureSpec['target'] => (full ? { op: '<=', value: 1.5, note: `${ISSUE}, with 1,000,000 entries` } : undefined);
    return [
      { key: 'grepWebMs', label: `/api/entries?grep=LITERAL (0.1%), ${n} entries: ms`, format: 'ms' },
      { key: 'grepLogreadMs', label: '  logread -o json -grep LITERAL: ms', format: 'ms' },
      { key: 'grepRatio', label: '  web / logread', format: 'ratio', target: ratio() },
      { key: 'grepDirectMs', label: '  the same request to memlogd from this process: ms', format: 'ms' },
      { key: 'grepOfDirect', label: '  web / memlogd direct', format: 'ratio' },
      { key: 'grepLines', label: '  lines', format: 'count' },
      { key: 'srcWebMs', label: `/api/entries?source=svc-1*&p=err (about 1.8%): ms`, format: 'ms' },
      { key: 'srcLogreadMs', label: "  logread -o json -source 'svc-1*' -p err: ms", format: 'ms' },
      { key: 'srcRatio', label: '  web / logread', format: 'ratio', target: ratio() },
      { key: 'srcDirectMs', label: '  the same request to memlogd from this process: ms', format: 'ms' },
      { key: 'srcOfDirect', label: '  web / memlogd direct', format: 'ratio' },
      { key: 'srcLines', label: '  lines', format: 'count' },
      { key: 'allWebMs', label: '/api/entries unfiltered (whole ring, one try): ms', format: 'ms' },
      { key: 'allLogreadMs', label: '  logread -o json: ms', format: 'ms' },
      { key: 'allRatio', label: '  web / logread', format: 'ratio' },
      { key: 'allDirectMs', label: '  the same request to memlogd from this process: ms', format: 'ms' },
      { key: 'allOfDirect', label: '  web / memlogd direct', format: 'ratio' },
      { key: 'allWebMBps', label: '  web MB/s of JSON', format: 'mbps' },
      { key: 'differ', label: "answers unlike logread's (lines or bytes)", format: 'count', target: { op: '==', value: 0, note: 'a check' } },

      { key: 'sseRate', label: '/api/follow (SSE) entries/s to one client, 8 writers flooding', format: 'rate', target: { op: '>=', value: 50_000, note: ISSUE } },
      { key: 'sseLost', label: '  SSE: entries lost (written - received)', format: 'count' },
      { key: 'sseLostByMarkers', label: '  SSE: entries lost, by its loss events', format: 'count' },
      { key: 'sseMarkers', label: '  SSE: loss events', format: 'count' },
      { key: 'sseCpu', label: '  memlog web CPU µs/entry', format: 'us' },
      { key: 'sseClientCpu', label: '  SSE client CPU µs/entry (parsing as it comes)', format: 'us' },
      { key: 'logreadRate', label: '  logread -f -o json entries/s, the same flood', format: 'rate' },
      { key: 'logreadLost', label: '  logread: entries lost (written - received)', format: 'count' },
      { key: 'logreadCpu', label: '  logread CPU µs/entry', format: 'us' },
      { key: 'sseOfLogread', label: '  SSE / logread', format: 'pct' },
      { key: 'rawRate', label: "  memlogd's own follow stream (mode 1, a counting client) entries/s, the same flood", format: 'rate' },
      { key: 'rawLost', label: '  memlogd mode 1: entries lost', format: 'count' },
      { key: 'sseOfRaw', label: '  SSE / memlogd mode 1', format: 'pct' },

      { key: 'frameP95', label: `page frame time p95 ms, following ${PAGE_RATE / 1000}k lines/s`, format: 'ms', target: { op: '<=', value: 2 * FRAME_60HZ, note: 'two frames at 60 Hz; one is the ideal (next row)' } },
      { key: 'frameP95Frames', label: '  p95 in 60 Hz frames (rounded)', format: 'count', target: { op: '<=', value: 1, note: 'ideal: one frame at 60 Hz' } },
      { key: 'frameP50', label: '  frame time p50 ms', format: 'ms' },
      { key: 'frameMax', label: '  frame time max ms', format: 'ms' },
      { key: 'fps', label: '  frames/s', format: 'mb' },
      { key: 'idleP95', label: '  idle (no lines, the same page, before): frame time p95 ms', format: 'ms' },
      { key: 'idleP50', label: '  idle: frame time p50 ms', format: 'ms' },
      { key: 'slowFramesPct', label: '  frames over 25 ms (1.5 frames)', format: 'pct' },
      { key: 'loafCount', label: '  long animation frames (> 50 ms)', format: 'count' },
      { key: 'loafMaxMs', label: '  longest animation frame ms', format: 'ms' },
      { key: 'loafBlockingMs', label: '  their blocking time, total ms', format: 'ms' },
      { key: 'pageRate', label: '  lines/s the page received', format: 'rate', target: { op: '>=', value: 0.95 * PAGE_RATE, note: 'kept up (5% for the window edges)' } },
      { key: 'writerRate', label: '  lines/s written', format: 'rate' },
      { key: 'pageMissing', label: '  seqs the page lacks in the window', format: 'count', target: { op: '==', value: 0, note: 'a check' } },
      { key: 'pageBehind', label: "  entries behind the ring's newest at the end", format: 'count' },
      { key: 'pageFollowing', label: "  the page's state at the end is 'following' (1: yes)", format: 'count', target: { op: '==', value: 1, note: 'a check' } },
      { key: 'machineBusyPct', label: '  machine CPU busy meanwhile (all cores, all processes)', format: 'pct' },
      { key: 'othersCpuPct', label: "  other processes than this scenario's meanwhile (% of a core)", format: 'pct' },
      { key: 'chromiumCpuPct', label: "  this bench's chromium CPU meanwhile (all its processes, % of a core)", format: 'pct' },
      { key: 'idleChromiumCpuPct', label: '  idle: its chromium CPU (% of a core)', format: 'pct' },
      { key: 'lowP95', label: `  at ${PAGE_LOW_RATE / 1000}k lines/s (before, ${PAGE_LOW_MEASURE_MS / 1000} s): frame time p95 ms`, format: 'ms' },
      { key: 'lowP50', label: `  at ${PAGE_LOW_RATE / 1000}k lines/s: frame time p50 ms`, format: 'ms' },
      { key: 'lowPageRate', label: `  at ${PAGE_LOW_RATE / 1000}k lines/s: lines/s the page received`, format: 'rate' },
      { key: 'lowChromiumCpuPct', label: `  at ${PAGE_LOW_RATE / 1000}k lines/s: its chromium CPU (% of a core)`, format: 'pct' },
      { key: 'webCpuPct', label: '  memlog web CPU meanwhile (% of a core)', format: 'pct' },
      { key: 'daemonCpuPct', label: '  memlogd CPU meanwhile (% of a core)', format: 'pct' },
    ];
  },
  async run(ctx: Context): Promise<Values> {
    const scope = new Scope();
    try {
      const n = ctx.ring;
      const daemon = await Daemon.start(scope, { template: ctx.template, ...ringConfig(n), args: [PRIORITY_PREFIX_FLAG] });
      const query = daemon.requireQuery();
      const web = await WebServer.start(scope, query);
      const lines = corpusLines();
      const literal = wordWithFrequency(lines, 0.001);
      ctx.note(`filling ${n.toLocaleString('en-US')} entries; literal "${literal}"; ${web.base}`);
      await fillFromCorpus(daemon.logSocket, lines.map(withLevel), n);
      await ringSettled(daemon, n);

      const grep = await compareQuery(web.base, query, { params: [['grep', literal]], flags: ['-grep', literal], request: filterRequest({ grep: literal }) });
      const src = await compareQuery(web.base, query, {
        params: [['source', 'svc-1*'], ['p', 'err']],
        flags: ['-source', 'svc-1*', '-p', 'err'],
        request: filterRequest({ sources: ['svc-1*'], priority: 3 }),
      });
      // One try: a whole ring is seconds each way, and it is for comparison only.
      const all = await compareQuery(web.base, query, { params: [], flags: [], request: Buffer.from([0]) }, 1);
      const values: Values = {
        ...comparedValues('grep', grep),
        ...comparedValues('src', src),
        ...comparedValues('all', all),
        allWebMBps: all.bytes / MB / (all.webMs / 1000),
        differ: grep.differ + src.differ + all.differ,
      };

      const sse = await follow(ctx, scope, daemon, web, 'sse');
      const lr = await follow(ctx, scope, daemon, web, 'logread');
      const raw = await follow(ctx, scope, daemon, web, 'memlogd');
      Object.assign(values, {
        sseRate: sse.rate,
        sseLost: sse.lost,
        sseLostByMarkers: sse.lostByMarkers,
        sseMarkers: sse.markers,
        sseCpu: sse.relayCpu,
        sseClientCpu: sse.clientCpu,
        logreadRate: lr.rate,
        logreadLost: lr.lost,
        logreadCpu: lr.relayCpu,
        sseOfLogread: (100 * sse.rate) / lr.rate,
        rawRate: raw.rate,
        rawLost: raw.lost,
        sseOfRaw: (100 * sse.rate) / raw.rate,
      });

      const page = await pageFrames(scope, {
        base: web.base,
        webPid: web.child.pid as number,
        daemonPid: daemon.pid,
        logSocket: daemon.logSocket,
        querySocket: query,
        rate: PAGE_RATE,
        lowRate: PAGE_LOW_RATE,
        lowWarmMs: PAGE_LOW_WARM_MS,
        lowMeasureMs: PAGE_LOW_MEASURE_MS,
        idleMs: PAGE_IDLE_MS,
        warmMs: PAGE_WARM_MS,
        measureMs: PAGE_MEASURE_MS,
        note: ctx.note,
      });
      if (page) Object.assign(values, page);
      daemon.assertAlive();
      web.assertAlive();
      await daemon.stop();
      return values;
    } finally {
      await scope.close();
    }
  },
};
