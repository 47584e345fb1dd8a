/**
 * npm run bench: memlogd under load, then the persister; figures printed as a table.
 *
 *   daemon: 8 writers x 200,000 lines of 100 bytes, one follower (mode 1) counting lines;
 *   persister: see persist.ts.
 *
 * Options: --writers N --lines N --len N --followers N --only daemon|persister,
 * and any memlogd flags after `--`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuMicros, peakRss, waitForSocket } from './proc-stats.js';
import { benchPersister } from './persist.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');

const { values, positionals } = parseArgs({
  options: {
    writers: { type: 'string', default: '8' },
    lines: { type: 'string', default: '200000' },
    len: { type: 'string', default: '100' },
    followers: { type: 'string', default: '1' },
    only: { type: 'string' },
  },
  allowPositionals: true,
});
const WRITERS = Number(values.writers);
const LINES = Number(values.lines);
const LEN = Number(values.len);
const FOLLOWERS = Number(values.followers);
const TOTAL = WRITERS * LINES;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function connectWhenReady(socketPath: string, started: bigint): Promise<number> {
  await waitForSocket(socketPath);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

interface Follower {
  lines: number;
  lastAt: bigint;
}

function startFollower(socketPath: string): Promise<Follower> {
  return new Promise((resolve, reject) => {
    const f: Follower = { lines: 0, lastAt: 0n };
    const s = net.connect(socketPath, () => {
      s.write(Buffer.from([1]));
      resolve(f);
    });
    s.on('error', reject);
    s.on('data', (chunk: Buffer) => {
      let pos = 0;
      for (;;) {
        const nl = chunk.indexOf(10, pos);
        if (nl < 0) break;
        f.lines++;
        pos = nl + 1;
      }
      f.lastAt = process.hrtime.bigint();
    });
  });
}

function startWriter(logSocket: string, name: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [path.join(HERE, 'writer.js'), logSocket, name, String(LINES), String(LEN)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout?.once('data', () => resolve(child));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`writer ${name} exited with ${code} before it was ready`)));
  });
}

async function benchDaemon(): Promise<[string, string][]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memlog-bench-'));
  const logSocket = path.join(dir, 'log.sock');
  const querySocket = path.join(dir, 'query.sock');
  const started = process.hrtime.bigint();
  const daemon = spawn(process.execPath, [path.join(ROOT, 'bin/memlogd'), '-socket-log', logSocket, '-socket-query', querySocket, ...positionals], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const readyMs = await connectWhenReady(querySocket, started);
  const pid = daemon.pid as number;
  try {
    const followers = await Promise.all(Array.from({ length: FOLLOWERS }, () => startFollower(querySocket)));
    const writers = await Promise.all(Array.from({ length: WRITERS }, (_, i) => startWriter(logSocket, `writer${i}`)));
    await sleep(100); // let the daemon settle after accepting the streams
    const cpuBefore = cpuMicros(pid);
    const go = process.hrtime.bigint();
    const writersDone = Promise.all(writers.map((w) => new Promise<bigint>((r) => w.once('exit', () => r(process.hrtime.bigint())))));
    for (const w of writers) w.stdin?.end('go\n');
    const ends = await writersDone;
    const writtenAt = ends.reduce((a, b) => (a > b ? a : b));
    // Delivery is done when every follower has everything, or nothing more comes for a second.
    let idleSince = Date.now();
    let last = -1;
    for (;;) {
      const got = followers.reduce((n, f) => n + f.lines, 0);
      if (followers.every((f) => f.lines >= TOTAL)) break;
      if (got !== last) {
        last = got;
        idleSince = Date.now();
      } else if (Date.now() - idleSince > 1000) break;
      await sleep(5);
    }
    const cpu = cpuMicros(pid) - cpuBefore;
    const writeSec = Number(writtenAt - go) / 1e9;
    const rows: [string, string][] = [
      ['writers x lines x bytes', `${WRITERS} x ${LINES} x ${LEN}`],
      ['followers', String(FOLLOWERS)],
      ['ingested lines/s (until writers done)', fmt(TOTAL / writeSec)],
    ];
    followers.forEach((f, i) => {
      const sec = Number((f.lastAt > 0n ? f.lastAt : go) - go) / 1e9;
      rows.push([`follower ${i}: delivered lines/s`, fmt(f.lines / sec)]);
      rows.push([`follower ${i}: lines lost`, String(Math.max(0, TOTAL - f.lines))]);
    });
    rows.push(['daemon CPU us per line', (cpu / TOTAL).toFixed(3)]);
    rows.push(['daemon peak RSS MB', (peakRss(pid) / 1e6).toFixed(1)]);
    rows.push(['start to both sockets ready ms', readyMs.toFixed(1)]);
    return rows;
  } finally {
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

async function main(): Promise<void> {
  const rows: [string, string][] = [];
  if (values.only !== 'persister') rows.push(...(await benchDaemon()));
  if (values.only !== 'daemon') rows.push(...(await benchPersister()));
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
