/**
 * The persister's throughput: memlogd holds LINES lines from 50 sources;
 * logwrite starts from nothing and writes them to one file per source with
 * rotation at 1 MiB. Side by side: the same bytes written to one file by a
 * single fs.createWriteStream, the ceiling to approach.
 *
 * Usage: node persist.js [--lines N] [--sources N] [--len N]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuMicros, peakRss, waitForSocket } from './proc-stats.js';
import { StateStore } from '../src/persist/state.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');

export interface PersistBenchOptions {
  lines: number;
  sources: number;
  len: number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Counts lines arriving on a mode 1 follower, to know when the ring is filled. */
function countFollower(querySocket: string): Promise<{ lines: () => number; close(): void }> {
  return new Promise((resolve) => {
    let lines = 0;
    const s = net.connect(querySocket, () => {
      s.write(Buffer.from([1]));
      resolve({ lines: () => lines, close: () => s.destroy() });
    });
    s.on('data', (chunk: Buffer) => {
      for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
    });
  });
}

function runWriter(logSocket: string, name: string, lines: number, len: number): Promise<void> {
  const child = spawn(process.execPath, [path.join(HERE, 'writer.js'), logSocket, name, String(lines), String(len)], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout.once('data', () => child.stdin.end('go\n'));
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`writer ${name} exited with ${code}`))));
  });
}

function stateSeq(dir: string): number {
  return new StateStore(dir).load(() => {}).seq;
}

function dirBytes(dir: string): number {
  return fs.readdirSync(dir).reduce((n, f) => (f.startsWith('.') ? n : n + fs.statSync(path.join(dir, f)).size), 0);
}

async function ceiling(file: string, bytes: number): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const out = fs.createWriteStream(file);
  const start = process.hrtime.bigint();
  let left = bytes;
  while (left > 0) {
    const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
    left -= piece.length;
    if (!out.write(piece)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((r) => out.end(() => r()));
  return Number(process.hrtime.bigint() - start) / 1e9;
}

export async function benchPersister(opts: PersistBenchOptions = { lines: 500_000, sources: 50, len: 100 }): Promise<[string, string][]> {
  const SOURCES = opts.sources;
  const LEN = opts.len;
  const PER_SOURCE = Math.ceil(opts.lines / SOURCES);
  const TOTAL = PER_SOURCE * SOURCES;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memlog-bench-persist-'));
  const logSocket = path.join(dir, 'log.sock');
  const querySocket = path.join(dir, 'query.sock');
  const logDir = path.join(dir, 'log');
  const daemon = spawn(process.execPath, [path.join(ROOT, 'bin/memlogd'), '-socket-log', logSocket, '-socket-query', querySocket, '-max-lines', String(TOTAL + 100), '-max-bytes', String((TOTAL + 100) * (LEN + 16))], { stdio: 'inherit' });
  let persister: ChildProcess | undefined;
  try {
    await waitForSocket(querySocket);
    const counter = await countFollower(querySocket);
    for (let i = 0; i < SOURCES; i += 10) {
      await Promise.all(Array.from({ length: Math.min(10, SOURCES - i) }, (_, k) => runWriter(logSocket, `source${String(i + k).padStart(2, '0')}`, PER_SOURCE, LEN)));
    }
    while (counter.lines() < TOTAL) await sleep(10);
    counter.close();
    const lastSeq = TOTAL; // seq 0 is "memlogd started"
    const start = process.hrtime.bigint();
    persister = spawn(process.execPath, [path.join(ROOT, 'bin/logwrite'), '-socket', querySocket, '-log-dir', logDir, '-max-log-size', String(1024 * 1024)], { stdio: 'inherit' });
    const pid = persister.pid as number;
    let cpu = 0;
    while (stateSeq(logDir) < lastSeq) {
      cpu = cpuMicros(pid);
      await sleep(5);
    }
    const sec = Number(process.hrtime.bigint() - start) / 1e9;
    cpu = cpuMicros(pid);
    const rss = peakRss(pid);
    const bytes = dirBytes(logDir);
    const files = fs.readdirSync(logDir).filter((f) => !f.startsWith('.')).length;
    const ceilSec = await ceiling(path.join(dir, 'ceiling.log'), bytes);
    return [
      ['persister: lines x sources', `${TOTAL} x ${SOURCES} (rotation at 1 MiB, ${files} files)`],
      ['persister: lines/s to files (incl. start)', fmt(TOTAL / sec)],
      ['persister: MB/s to files', (bytes / sec / 1e6).toFixed(1)],
      ['persister: CPU us per line', (cpu / TOTAL).toFixed(3)],
      ['persister: peak RSS MB', (rss / 1e6).toFixed(1)],
      ['ceiling: one createWriteStream, same bytes, MB/s', (bytes / ceilSec / 1e6).toFixed(1)],
      ['persister / ceiling', `${((ceilSec / sec) * 100).toFixed(1)} %`],
    ];
  } finally {
    persister?.kill('SIGTERM');
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const { values } = parseArgs({
    options: {
      lines: { type: 'string', default: '500000' },
      sources: { type: 'string', default: '50' },
      len: { type: 'string', default: '100' },
    },
  });
  benchPersister({ lines: Number(values.lines), sources: Number(values.sources), len: Number(values.len) }).then(
    (rows) => {
      const width = Math.max(...rows.map(([k]) => k.length));
      for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
