/**
 * persister: the persister's throughput. memlogd holds 500,000 lines of 100
 * bytes from 50 sources; logwrite starts from nothing and writes them to one
 * file per source with rotation at 1 MiB. Side by side: the same bytes
 * written to one file by a single fs.createWriteStream, the ceiling to approach.
 * persister-fsync: the same with -fsync (the files, then the state, fsynced
 * at every flush), so that the two figures come from the same run.
 *
 * This measures our logwrite, not a daemon: it always runs against our
 * memlogd (the default template), whatever --daemon says, since it relies on
 * our sequence numbers to see when everything is on disk.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Scope, exited, sleep, spawnTracked } from './children.js';
import { DEFAULT_TEMPLATE, Daemon } from './daemon.js';
import type { FigureSpec, Values } from './figures.js';
import { ROOT } from './paths.js';
import { cpuMicros, peakRss } from './proc-stats.js';
import { MB, scaled, type Context, type Scenario } from './scenarios/types.js';
import { WriterGroup } from './workload.js';
import { StateStore } from '../src/persist/state.js';

const SOURCES = 50;
const LINES = 500_000;
const LEN = 100;
const TIMEOUT_MS = 180_000;

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

function persisterScenario(name: string, flags: string[], what: string): Scenario {
  return {
    name,
    description: `logwrite (our persister)${what} writes ${LINES.toLocaleString('en-US')} lines of ${LEN} bytes from ${SOURCES} sources, held by our memlogd, to one file per source (rotation at 1 MiB), from a cold start; next to one createWriteStream writing the same bytes (the ceiling). Always against bin/memlogd`,
    figures: (): FigureSpec[] => [
      { key: 'rate', label: 'lines/s to files (incl. start)', format: 'rate' },
      { key: 'mbps', label: 'MB/s to files', format: 'mbps' },
      { key: 'cpu', label: 'persister CPU µs/line', format: 'us' },
      { key: 'rss', label: 'persister peak RSS MB', format: 'mb' },
      { key: 'files', label: 'files written', format: 'count' },
      { key: 'ceiling', label: 'ceiling: one createWriteStream, MB/s', format: 'mbps' },
      { key: 'ofCeiling', label: 'persister / ceiling', format: 'pct' },
    ],
    async run(ctx: Context): Promise<Values> {
      const scope = new Scope();
      try {
        const perSource = Math.ceil(scaled(ctx, LINES, SOURCES) / SOURCES);
        const total = perSource * SOURCES;
        const logDir = path.join(scope.dir, 'log');
        const daemon = await Daemon.start(scope, { template: DEFAULT_TEMPLATE, maxLines: total + 100, maxBytes: (total + 100) * (LEN + 16) });
        // Ten sources at a time, as the bench always did; each round ends when memlogd has read it all.
        for (let i = 0; i < SOURCES; i += 10) {
          const group = await WriterGroup.start(scope, daemon.logSocket, { writers: Math.min(10, SOURCES - i), linesPerWriter: perSource, prefix: `source${i / 10}` });
          group.go();
          await group.finished();
        }
        daemon.assertAlive();
        const lastSeq = total; // seq 0 is "memlogd started"
        const out = fs.openSync(path.join(scope.dir, 'logwrite.out'), 'w');
        const start = process.hrtime.bigint();
        const child = spawnTracked(process.execPath, [path.join(ROOT, 'bin/logwrite'), '-socket', daemon.requireQuery(), '-log-dir', logDir, '-max-log-size', String(1024 * 1024), ...flags], {
          cwd: ROOT,
          stdio: ['ignore', out, out],
        });
        fs.closeSync(out);
        scope.adopt(child);
        const pid = await new Promise<number>((resolve, reject) => {
          child.once('spawn', () => resolve(child.pid as number));
          child.once('error', reject);
        });
        let cpu = 0;
        const deadline = Date.now() + TIMEOUT_MS;
        while (stateSeq(logDir) < lastSeq) {
          if (exited(child)) throw new Error(`logwrite exited (status ${child.exitCode}): ${fs.readFileSync(path.join(scope.dir, 'logwrite.out'), 'utf8').slice(-2000)}`);
          if (Date.now() > deadline) throw new Error(`logwrite did not write ${total} lines within ${TIMEOUT_MS / 1000} s`);
          cpu = cpuMicros(pid);
          await sleep(5);
        }
        const sec = Number(process.hrtime.bigint() - start) / 1e9;
        cpu = cpuMicros(pid);
        const rss = peakRss(pid);
        const bytes = dirBytes(logDir);
        const files = fs.readdirSync(logDir).filter((f) => !f.startsWith('.')).length;
        const ceilSec = await ceiling(path.join(scope.dir, 'ceiling.log'), bytes);
        await daemon.stop();
        return {
          rate: total / sec,
          mbps: bytes / sec / MB,
          cpu: cpu / total,
          rss: rss / MB,
          files,
          ceiling: bytes / ceilSec / MB,
          ofCeiling: (ceilSec / sec) * 100,
        };
      } finally {
        await scope.close();
      }
    },
  };
}

export const persister = persisterScenario('persister', [], '');
export const persisterFsync = persisterScenario('persister-fsync', ['-fsync'], ' with -fsync');
