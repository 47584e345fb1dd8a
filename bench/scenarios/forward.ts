/**
 * forward-tcp and forward-relp (issue 12): `memlog forward` (bin/memlog-forward)
 * sending a ring that memlogd holds before the clock starts: 1,000,000
 * entries (x --scale) of real log text (LogHub lines cut to 99 bytes, one
 * source), on loopback, from a fresh state directory (so from the ring's
 * first entry):
 *   - forward-tcp: -to tcp:// into bench/octet-sink.c, which does nothing
 *     but walk the octet-counted frames (RFC 6587) and count them;
 *   - forward-relp: -to relp:// into rsyslogd's imrelp writing one short
 *     constant line per message (bench/rsyslog.ts), counted in that file; and,
 *     in the same run, rsyslog forwarding the same lines itself: an rsyslogd
 *     reading a file of them with imfile and sending them with omrelp into a
 *     second, identical imrelp receiver. memlog forward runs with its default
 *     window (1024), omrelp with 4096: at 1024 or less it stalls each time its
 *     window fills (on this machine 23,600 lines/s at 1024, 680 at its
 *     default of 128); from 4096 up it runs at 105,000-120,000. So rsyslog is
 *     given its better setting.
 * imfile rather than imuxsock, for fairness: both forwarders then send a
 * backlog already stored (memlogd's ring; the file, written before rsyslog's
 * clock starts and in the page cache), so each figure is forwarding alone.
 * Fed through imuxsock, rsyslog's figure would be bounded by its datagram
 * intake and the senders (syslog-8: about 90,000 msgs/s), which memlog
 * forward does not pay here.
 * Each clock runs from the forwarder's spawn (node starting, or rsyslogd
 * reading its config) to the last message counted at the receiver. CPU per
 * line: the forwarder's whole life, its start included; memlogd's and the
 * receiver's over the same span. memlogd, the forwarder and the receiver
 * share the machine's cores.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Helper, Scope, exited, makeTempDir, numberField, removeTempDir, sleep, spawnTracked, stopChild, timeField, type Message } from '../children.js';
import { corpusLines, fillFromCorpus } from '../corpus.js';
import { Daemon } from '../daemon.js';
import type { FigureSpec, Values } from '../figures.js';
import { LineCounter } from '../line-counter.js';
import { compiledHelper } from '../null-reader.js';
import { ROOT } from '../paths.js';
import { cpuMicros } from '../proc-stats.js';
import { missingModules, startRelpForwarder, startRelpReceiver, type RelpRsyslog } from '../rsyslog.js';
import { ringSettled } from '../ring-settled.js';
import { findProgram } from '../which.js';
import { seconds } from '../workload.js';
import { scaled, type Context, type Scenario } from './types.js';

const ISSUE = 'issue 12';
const LINES = 1_000_000;
/** Entries memlogd may add of its own (start notices) beside the corpus's. */
const SLACK = 1000;
/** No new message for this long: what has not arrived is lost. */
const IDLE_MS = 3000;
/** For the first message: the forwarder starting and connecting. */
const FIRST_MS = 30_000;
/** omrelp's windowSize: the smallest of those tried at which it does not stall (see above). */
const RSYSLOG_RELP_WINDOW = 4096;

/** Where receivers write: /dev/shm when there is one (no disk writeback beside the measurement). */
function outputBase(): string | undefined {
  return fs.existsSync('/dev/shm') ? '/dev/shm' : undefined;
}

interface Ring {
  daemon: Daemon;
  query: string;
  /** The corpus text in the ring, one entry per line, in ring order. */
  text: Buffer;
  /** Entries the ring holds (the corpus's and memlogd's own): what the forwarder sends. */
  entries: number;
}

/** A daemon holding n corpus lines of one source; resolves once the ring has them all. */
async function preload(scope: Scope, ctx: Context, n: number): Promise<Ring> {
  const daemon = await Daemon.start(scope, { template: ctx.template, maxLines: n + SLACK, maxBytes: (n + SLACK) * 160 });
  const query = daemon.requireQuery();
  const lines = corpusLines();
  ctx.note(`filling ${n.toLocaleString('en-US')} entries from ${lines.length} corpus lines`);
  const text = await fillFromCorpus(daemon.logSocket, lines, n, 1);
  const status = await ringSettled(daemon, n);
  // All of them still there: nothing pushed out by -max-bytes.
  if (status.ring.entries < n || status.ring.entries > n + SLACK) {
    throw new Error(`the ring holds ${status.ring.entries} entries after ${n} were written (maxLines ${n + SLACK}, maxBytes ${(n + SLACK) * 160})`);
  }
  return { daemon, query, text, entries: status.ring.entries };
}

interface Forwarder {
  child: ChildProcess;
  pid: number;
  /** Throws, with what it said, if it has exited. */
  alive(): void;
  stop(): Promise<void>;
}

/** bin/memlog-forward -to url, run by this node directly (so its pid is the forwarder's own), from a fresh state directory. */
function startForwarder(scope: Scope, query: string, url: string, stateDir: string): Forwarder {
  const args = [path.join(ROOT, 'bin', 'memlog-forward'), '-to', url, '-socket', query, '-state-dir', stateDir, '-hostname', 'bench'];
  const child = spawnTracked(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  scope.adopt(child);
  let said = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (s: string) => (said = (said + s).slice(-2000)));
  let failure: Error | undefined;
  child.once('error', (err) => (failure = new Error(`cannot start memlog-forward: ${err.message}`)));
  return {
    child,
    pid: child.pid ?? -1,
    alive: () => {
      if (failure) throw failure;
      if (exited(child)) throw new Error(`memlog-forward exited (${child.signalCode ?? `status ${child.exitCode}`})${said ? `: ${said.trim()}` : ''}`);
      if (child.pid === undefined) throw new Error('memlog-forward did not start');
    },
    stop: () => stopChild(child),
  };
}

interface Counted {
  lines: number;
  lastAt: bigint;
}

/** Waits until the sink has counted total messages, or none came for IDLE_MS; its last report. */
async function settleSink(sink: Helper, total: number, since: bigint, alive: () => void): Promise<Message> {
  let latest: Message | undefined;
  sink.onMessage = (m) => {
    if (m.count !== undefined) latest = m;
  };
  let last = -1;
  let progressAt = Date.now();
  let askedAt = 0;
  for (;;) {
    alive();
    if (exited(sink.child)) await sink.next(1000); // rejects with why it exited
    const n = latest ? numberField(latest, 'count') : 0;
    if (latest && n >= total) return latest;
    if (n !== last) {
      last = n;
      progressAt = Date.now();
    }
    if (Date.now() - progressAt > (n === 0 ? FIRST_MS : IDLE_MS)) {
      if (latest) return latest;
      throw new Error(`the sink got nothing within ${FIRST_MS / 1000} s of the forwarder's start (${seconds(since, process.hrtime.bigint()).toFixed(1)} s)`);
    }
    if (Date.now() - askedAt >= 200) {
      askedAt = Date.now();
      sink.send('?');
    }
    await sleep(20);
  }
}

/** An rsyslogd receiving RELP into a counted file; the caller stops it. */
async function relpReceiver(scope: Scope, rsyslogd: string, name: string, outDir: string): Promise<{ rs: RelpRsyslog; counter: LineCounter; alive(): void }> {
  const dir = path.join(scope.dir, name);
  fs.mkdirSync(dir);
  const rs = await startRelpReceiver({ rsyslogd, dir, output: path.join(outDir, `${name}.out`), spawn: spawnTracked });
  scope.adopt(rs.proc);
  return {
    rs,
    counter: new LineCounter(rs.output),
    alive: () => {
      if (exited(rs.proc)) throw new Error(`the imrelp receiver rsyslogd exited: ${[rs.stderr().trim(), rs.internal()].filter(Boolean).join(' / ')}`);
    },
  };
}

interface ForwardResult {
  rate: number;
  lost: number;
  cpu: number;
  memlogdCpu: number;
  receiverCpu: number;
}

async function memlogRelp(scope: Scope, ring: Ring, rsyslogd: string, outDir: string): Promise<ForwardResult> {
  const recv = await relpReceiver(scope, rsyslogd, 'receiver-memlog', outDir);
  const m0 = cpuMicros(ring.daemon.pid);
  const r0 = cpuMicros(recv.rs.pid);
  const t0 = process.hrtime.bigint();
  const fwd = startForwarder(scope, ring.query, `relp://127.0.0.1:${recv.rs.port}`, path.join(scope.dir, 'state-relp'));
  const alive = (): void => {
    ring.daemon.assertAlive();
    recv.alive();
    fwd.alive();
  };
  const got: Counted = await recv.counter.settle(ring.entries, t0, IDLE_MS, FIRST_MS, alive);
  const cpu = cpuMicros(fwd.pid);
  const memlogdCpu = cpuMicros(ring.daemon.pid) - m0;
  const receiverCpu = cpuMicros(recv.rs.pid) - r0;
  if (got.lines === 0) throw new Error(`rsyslog's imrelp got nothing from memlog-forward within ${FIRST_MS / 1000} s: ${recv.rs.internal()}`);
  await fwd.stop();
  await recv.rs.stop();
  return { rate: got.lines / seconds(t0, got.lastAt), lost: ring.entries - got.lines, cpu: cpu / got.lines, memlogdCpu: memlogdCpu / got.lines, receiverCpu: receiverCpu / got.lines };
}

/** rsyslog forwarding the same lines from a file (imfile -> omrelp) into an identical receiver. */
async function rsyslogRelp(scope: Scope, text: Buffer, total: number, rsyslogd: string, outDir: string): Promise<{ rate: number; lost: number; cpu: number; receiverCpu: number }> {
  const input = path.join(outDir, 'corpus.log');
  fs.writeFileSync(input, text);
  const recv = await relpReceiver(scope, rsyslogd, 'receiver-rsyslog', outDir);
  const dir = path.join(scope.dir, 'forwarder-rsyslog');
  fs.mkdirSync(dir);
  const r0 = cpuMicros(recv.rs.pid);
  const t0 = process.hrtime.bigint();
  const fwd = startRelpForwarder({ rsyslogd, dir, input, port: recv.rs.port, window: RSYSLOG_RELP_WINDOW, spawn: spawnTracked });
  scope.adopt(fwd.proc);
  const alive = (): void => {
    recv.alive();
    if (exited(fwd.proc)) throw new Error(`the forwarding rsyslogd exited: ${[fwd.stderr().trim(), fwd.internal()].filter(Boolean).join(' / ')}`);
  };
  const got = await recv.counter.settle(total, t0, IDLE_MS, FIRST_MS, alive);
  const cpu = cpuMicros(fwd.pid);
  const receiverCpu = cpuMicros(recv.rs.pid) - r0;
  if (got.lines === 0) throw new Error(`rsyslog's imrelp got nothing from rsyslog's omrelp within ${FIRST_MS / 1000} s: ${fwd.internal()} / ${recv.rs.internal()}`);
  await fwd.stop();
  await recv.rs.stop();
  return { rate: got.lines / seconds(t0, got.lastAt), lost: total - got.lines, cpu: cpu / got.lines, receiverCpu: receiverCpu / got.lines };
}

export const forwardTcp: Scenario = {
  name: 'forward-tcp',
  description: `memlog forward -to tcp:// (RFC 5424, octet-counted) sends a preloaded ring of ${LINES.toLocaleString('en-US')} real log lines (one source) on loopback into bench/octet-sink.c, which only counts frames; forwarder spawn to last frame`,
  figures: (): FigureSpec[] => [
    { key: 'rate', label: 'forwarded lines/s (tcp)', format: 'rate', target: { op: '>=', value: 400_000, note: ISSUE } },
    { key: 'lost', label: 'lines lost', format: 'count', target: { op: '==', value: 0, note: ISSUE } },
    { key: 'cpu', label: 'forwarder CPU µs/line (start included)', format: 'us', target: { op: '<=', value: 2, note: ISSUE } },
    { key: 'memlogdCpu', label: 'memlogd CPU µs/line (same span)', format: 'us' },
    { key: 'sinkCpu', label: 'receiver (octet-sink) CPU µs/line', format: 'us' },
    { key: 'wireBytes', label: 'bytes per message on the wire', format: 'count' },
    { key: 'lines', label: 'lines forwarded (ring entries)', format: 'count' },
  ],
  async run(ctx: Context): Promise<Values> {
    const scope = new Scope();
    try {
      const ring = await preload(scope, ctx, scaled(ctx, LINES, 1000));
      const sink = new Helper('octet sink', '', [String(ring.entries)], scope, compiledHelper('octet-sink'));
      const port = numberField(await sink.nextWith('ready', 30_000), 'port');
      const m0 = cpuMicros(ring.daemon.pid);
      const t0 = process.hrtime.bigint();
      const fwd = startForwarder(scope, ring.query, `tcp://127.0.0.1:${port}`, path.join(scope.dir, 'state-tcp'));
      const report = await settleSink(sink, ring.entries, t0, () => {
        ring.daemon.assertAlive();
        fwd.alive();
      });
      const cpu = cpuMicros(fwd.pid);
      const memlogdCpu = cpuMicros(ring.daemon.pid) - m0;
      const count = numberField(report, 'count');
      const bad = numberField(report, 'bad');
      if (bad > 0) throw new Error(`the sink closed ${bad} connection(s) on a frame that is not octet-counted`);
      await fwd.stop();
      ring.daemon.assertAlive();
      await ring.daemon.stop();
      return {
        rate: count / seconds(t0, timeField(report, 'lastAt')),
        lost: ring.entries - count,
        cpu: cpu / count,
        memlogdCpu: memlogdCpu / count,
        sinkCpu: numberField(report, 'cpuMicros') / count,
        wireBytes: numberField(report, 'bytes') / count,
        lines: count,
      };
    } finally {
      await scope.close();
    }
  },
};

export const forwardRelp: Scenario = {
  name: 'forward-relp',
  description: `memlog forward -to relp:// sends a preloaded ring of ${LINES.toLocaleString('en-US')} real log lines (one source) on loopback into rsyslogd imrelp (-> one short line per message in a file); then, same run, rsyslogd forwards the same lines itself (imfile -> omrelp, window ${RSYSLOG_RELP_WINDOW}) into an identical receiver; spawn to last line`,
  figures: (): FigureSpec[] => [
    { key: 'rate', label: 'memlog forward, relp lines/s', format: 'rate', target: { op: '>=', value: 150_000, note: ISSUE } },
    { key: 'lost', label: 'memlog lines lost', format: 'count', target: { op: '==', value: 0, note: ISSUE } },
    { key: 'cpu', label: 'memlog forwarder CPU µs/line (start included)', format: 'us', target: { op: '<=', value: 2, note: ISSUE } },
    { key: 'memlogdCpu', label: 'memlogd CPU µs/line (same span)', format: 'us' },
    { key: 'receiverCpu', label: 'receiver rsyslogd (imrelp) CPU µs/line', format: 'us' },
    { key: 'rsyslogRate', label: 'rsyslog imfile -> omrelp, lines/s', format: 'rate' },
    { key: 'rsyslogLost', label: 'rsyslog lines lost', format: 'count' },
    { key: 'rsyslogCpu', label: 'rsyslog forwarder CPU µs/line (start included)', format: 'us' },
    { key: 'rsyslogReceiverCpu', label: 'its receiver rsyslogd CPU µs/line', format: 'us' },
    { key: 'vsRsyslog', label: 'memlog relp lines/s / rsyslog relp lines/s', format: 'ratio', target: { op: '>=', value: 0.5, note: `${ISSUE}: at least half as fast` } },
    { key: 'cpuVsRsyslog', label: 'memlog forwarder CPU per line / rsyslog', format: 'ratio' },
  ],
  async run(ctx: Context): Promise<Values> {
    // Without imrelp there is no receiver for either forwarder: said plainly, as this run's error.
    const rsyslogd = findProgram('rsyslogd');
    if (!rsyslogd) throw new Error('rsyslogd not found (apt-get install rsyslog rsyslog-relp): forward-relp needs it as the RELP receiver');
    const noImrelp = missingModules(['imrelp']);
    if (noImrelp) throw new Error(`${noImrelp}: forward-relp needs it as the RELP receiver`);
    const scope = new Scope();
    const outDir = makeTempDir(outputBase());
    try {
      const total = scaled(ctx, LINES, 1000);
      const ring = await preload(scope, ctx, total);
      const m = await memlogRelp(scope, ring, rsyslogd, outDir);
      ring.daemon.assertAlive();
      await ring.daemon.stop();
      fs.rmSync(path.join(outDir, 'receiver-memlog.out'), { force: true });
      const values: Values = { rate: m.rate, lost: m.lost, cpu: m.cpu, memlogdCpu: m.memlogdCpu, receiverCpu: m.receiverCpu };

      const noForwarding = missingModules(['imfile', 'omrelp']);
      if (noForwarding) {
        ctx.note(`forward-relp: ${noForwarding}: rsyslog's own forwarding is not measured, its figures and the ratio are left out`);
        return values;
      }
      const r = await rsyslogRelp(scope, ring.text, total, rsyslogd, outDir);
      values.rsyslogRate = r.rate;
      values.rsyslogLost = r.lost;
      values.rsyslogCpu = r.cpu;
      values.rsyslogReceiverCpu = r.receiverCpu;
      values.vsRsyslog = m.rate / r.rate;
      values.cpuVsRsyslog = m.cpu / r.cpu;
      return values;
    } finally {
      try {
        await scope.close();
      } finally {
        removeTempDir(outDir);
      }
    }
  },
};
