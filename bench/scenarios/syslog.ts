/**
 * syslog-8: 8 sender processes (bench/syslog-bench.c, blocking datagram
 * sends of 100-byte glibc-style messages, as syslog(3) makes them) into, one
 * after another:
 *   - a receiver that does nothing but receive: the senders' own ceiling;
 *   - rsyslogd's imuxsock on its own socket, writing each message to a file
 *     (bench/rsyslog.ts), counted as lines in that file;
 *   - memlogd's -socket-syslog with one follower (mode 1);
 *   - and, for the CPU comparison, memlogd with 8 stream writers of 100-byte
 *     lines and one follower (deliver-1's load), in the same run.
 * The clock starts when the senders are told to go and stops at the last
 * message counted by the receiver, in rsyslog's file, or by the follower.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Helper, Scope, sleep, spawnTracked } from '../children.js';
import { Daemon } from '../daemon.js';
import type { FigureSpec, Values } from '../figures.js';
import { LineCounter } from '../line-counter.js';
import { compiledHelper } from '../null-reader.js';
import { cpuMicros } from '../proc-stats.js';
import { startRsyslog } from '../rsyslog.js';
import { findProgram } from '../which.js';
import { FollowerGroup, SETTLE_MS, seconds } from '../workload.js';
import { runLoad } from './load.js';
import { scaled, type Context, type Scenario } from './types.js';

const RUN_TIMEOUT_MS = 180_000;
/** No new line for this long: what has not arrived is lost. */
const IDLE_MS = 2000;

interface Senders {
  go(): bigint;
  /** Resolves when every sender has sent all: their CPU time. */
  finished(): Promise<{ cpuMicros: number }>;
}

async function startSenders(scope: Scope, socket: string, senders: number, perSender: number): Promise<Senders> {
  const program = compiledHelper('syslog-bench');
  const helpers = Array.from({ length: senders }, (_, i) => new Helper(`syslog sender ${i}`, '', ['send', socket, String(perSender), String(i)], scope, program));
  await Promise.all(helpers.map((h) => h.nextWith('ready', 30_000)));
  return {
    go: () => {
      const at = process.hrtime.bigint();
      for (const h of helpers) h.send('go');
      return at;
    },
    finished: async () => {
      const reports = await Promise.all(helpers.map((h) => h.nextWith('end', RUN_TIMEOUT_MS)));
      return { cpuMicros: reports.reduce((n, r) => n + Number(r.cpuMicros), 0) };
    },
  };
}

async function waitForPath(p: string, alive: () => void): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!fs.existsSync(p)) {
    alive();
    if (Date.now() > deadline) throw new Error(`${p} did not appear within 15 s`);
    await sleep(5);
  }
}

/** The senders into a receiver that only receives. */
async function ceiling(senders: number, total: number): Promise<{ rate: number; sendersCpu: number }> {
  const scope = new Scope();
  try {
    const socket = path.join(scope.dir, 'sink.sock');
    const sink = new Helper('syslog sink', '', ['sink', socket, String(total)], scope, compiledHelper('syslog-bench'));
    await sink.nextWith('ready', 30_000);
    const group = await startSenders(scope, socket, senders, total / senders);
    const go = group.go();
    const sent = await group.finished();
    const got = await sink.nextWith('count', RUN_TIMEOUT_MS);
    if (Number(got.count) !== total) throw new Error(`the plain receiver got ${String(got.count)} of ${total} datagrams`);
    return { rate: total / seconds(go, BigInt(String(got.lastAt))), sendersCpu: sent.cpuMicros / total };
  } finally {
    await scope.close();
  }
}

async function intoRsyslog(rsyslogd: string, senders: number, total: number): Promise<{ rate: number; lost: number; cpu: number }> {
  const scope = new Scope();
  try {
    const rs = await startRsyslog({ rsyslogd, dir: scope.dir, mode: 'lines', spawn: spawnTracked });
    scope.adopt(rs.proc);
    const alive = (): void => {
      if (rs.proc.exitCode !== null || rs.proc.signalCode !== null) throw new Error(`rsyslogd exited: ${rs.stderr().trim()}`);
    };
    const counter = new LineCounter(rs.output, Buffer.from('sb'));
    const group = await startSenders(scope, rs.socket, senders, total / senders);
    await sleep(SETTLE_MS);
    const cpu0 = cpuMicros(rs.pid);
    const go = group.go();
    await group.finished();
    let lastAt = go;
    let last = -1;
    let progressAt = Date.now();
    for (;;) {
      alive();
      const n = counter.poll();
      const now = process.hrtime.bigint();
      if (n !== last) {
        last = n;
        lastAt = now;
        progressAt = Date.now();
      }
      if (n >= total || Date.now() - progressAt > IDLE_MS) break;
      await sleep(2);
    }
    const cpu = cpuMicros(rs.pid) - cpu0;
    await rs.stop();
    return { rate: last / seconds(go, lastAt), lost: total - last, cpu: cpu / total };
  } finally {
    await scope.close();
  }
}

async function intoMemlogd(ctx: Context, senders: number, total: number): Promise<{ rate: number; lost: number; cpu: number }> {
  const scope = new Scope();
  try {
    const socket = path.join(scope.dir, 'syslog.sock');
    const daemon = await Daemon.start(scope, { template: `${ctx.template} -socket-syslog '${socket}'` });
    await waitForPath(socket, () => daemon.assertAlive());
    const followers = await FollowerGroup.start(scope, daemon.requireQuery(), 1, total);
    const group = await startSenders(scope, socket, senders, total / senders);
    await sleep(SETTLE_MS);
    daemon.assertAlive();
    const cpu0 = cpuMicros(daemon.pid);
    const go = group.go();
    await group.finished().catch((err: unknown) => {
      daemon.assertAlive(); // a crashed daemon is the better explanation
      throw err;
    });
    const [f] = await followers.settle(IDLE_MS);
    const cpu = cpuMicros(daemon.pid) - cpu0;
    daemon.assertAlive();
    await daemon.stop();
    return { rate: f.lines / seconds(go, f.lastAt), lost: total - f.lines, cpu: cpu / total };
  } finally {
    await scope.close();
  }
}

export function syslog(senders: number, totalMessages: number): Scenario {
  const issue = 'issue 11';
  return {
    name: `syslog-${senders}`,
    description: `${senders} syslog senders (datagrams, 100 bytes, glibc's form), ${totalMessages.toLocaleString('en-US')} messages in all: a plain receiver, rsyslogd imuxsock into a file, memlogd -socket-syslog with 1 follower; and memlogd with ${senders} stream writers for the CPU comparison`,
    figures: (): FigureSpec[] => [
      { key: 'ceiling', label: 'senders into a plain receiver, msgs/s', format: 'rate' },
      { key: 'sendersCpu', label: 'senders CPU µs/msg', format: 'us' },
      { key: 'rsyslogRate', label: 'rsyslog imuxsock -> file, msgs/s', format: 'rate' },
      { key: 'rsyslogLost', label: 'rsyslog messages lost', format: 'count' },
      { key: 'rsyslogCpu', label: 'rsyslog CPU µs/msg', format: 'us' },
      { key: 'rate', label: 'memlogd delivered msgs/s', format: 'rate', target: { op: '>=', value: 300_000, note: issue } },
      { key: 'lost', label: 'memlogd messages lost', format: 'count', target: { op: '==', value: 0, note: issue } },
      { key: 'cpu', label: 'memlogd CPU µs/msg', format: 'us' },
      { key: 'streamCpu', label: 'memlogd CPU µs/stream line (same run)', format: 'us' },
      { key: 'cpuVsStream', label: 'memlogd CPU per msg / per stream line', format: 'ratio', target: { op: '<=', value: 2, note: issue } },
      { key: 'vsRsyslog', label: 'memlogd msgs/s / rsyslog msgs/s', format: 'ratio' },
      { key: 'cpuVsRsyslog', label: 'memlogd CPU per msg / rsyslog', format: 'ratio' },
    ],
    async run(ctx: Context): Promise<Values> {
      const total = scaled(ctx, totalMessages / senders, 1) * senders;
      const values: Values = {};
      const c = await ceiling(senders, total);
      values.ceiling = c.rate;
      values.sendersCpu = c.sendersCpu;

      const rsyslogd = findProgram('rsyslogd');
      if (rsyslogd) {
        const r = await intoRsyslog(rsyslogd, senders, total);
        values.rsyslogRate = r.rate;
        values.rsyslogLost = r.lost;
        values.rsyslogCpu = r.cpu;
      } else {
        ctx.note('syslog: rsyslogd not found (apt-get install rsyslog): its figures are left out');
      }

      let m: { rate: number; lost: number; cpu: number } | undefined;
      try {
        m = await intoMemlogd(ctx, senders, total);
      } catch (err) {
        // The other figures still stand; this one is said plainly, not crashed on.
        ctx.note(`syslog: memlogd with -socket-syslog failed, so its figures are left out: ${(err as Error).message.trim().split('\n').filter(Boolean).join(' / ').slice(0, 600)}`);
      }
      if (m) {
        values.rate = m.rate;
        values.lost = m.lost;
        values.cpu = m.cpu;
        const stream = await runLoad({ template: ctx.template, writers: senders, totalLines: total, followers: 1 });
        values.streamCpu = stream.daemonCpuMicros / stream.lines;
        values.cpuVsStream = m.cpu / values.streamCpu;
        if (values.rsyslogRate) {
          values.vsRsyslog = m.rate / values.rsyslogRate;
          values.cpuVsRsyslog = m.cpu / values.rsyslogCpu;
        }
      }
      return values;
    },
  };
}
