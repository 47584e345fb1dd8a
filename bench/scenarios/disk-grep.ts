/**
 * disk-grep: `-log-dir` with `-grep` over ~1 GB of rotated text files (a
 * third gzipped; --scale changes the size): readDiskHistory with a literal
 * that matches 0.1% of the lines, against `zgrep -F -c` over the same files
 * in the same run. Both find the same lines (checked); the figure is our
 * speed as a fraction of zgrep's (the issue: at least half).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { diskData, NEEDLE } from '../disk-data.js';
import type { FigureSpec, Values } from '../figures.js';
import { CompiledFilter } from '../../src/filter/entry-filter.js';
import { readDiskHistory } from '../../src/history/disk-history.js';
import { ROOT } from '../paths.js';
import { MB, type Context, type Scenario } from './types.js';

const BYTES = 1e9;

/** Runs a command to its end; its stdout, or a rejection with its stderr when it exits with a status other than ok. */
function output(cmd: string, args: string[], ok: number[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => (code !== null && ok.includes(code) ? resolve(out) : reject(new Error(`${cmd} exited with ${code}: ${err.trim()}`))));
  });
}

async function zgrepCount(files: string[]): Promise<number> {
  // -c: one count per file; no -h, so each line is file:count. grep exits 1 when a file has no match.
  const out = await output('zgrep', ['-F', '-c', NEEDLE, ...files], [0, 1]);
  return out.split('\n').reduce((n, line) => n + (line === '' ? 0 : Number(line.slice(line.lastIndexOf(':') + 1))), 0);
}

/** The command a user runs: logread -log-dir DIR -grep LITERAL, with no memlogd (the disk alone), its lines counted. */
async function logreadCount(dir: string): Promise<number> {
  const args = [path.join(ROOT, 'bin/logread'), '-socket', path.join(dir, 'no-memlogd.sock'), '-log-dir', dir, '-grep', NEEDLE, '-o', 'cat'];
  const out = await output(process.execPath, args, [0]);
  return out.split('\n').length - 1;
}

async function ourCount(dir: string): Promise<number> {
  const filter = new CompiledFilter({ sources: [], exclude: [], grep: NEEDLE });
  let n = 0;
  let warned = '';
  for await (const e of readDiskHistory({ dir, filter, warn: (m) => (warned ||= m) })) if (e.msg.includes(NEEDLE)) n++;
  if (warned) throw new Error(`the reader warned: ${warned}`);
  return n;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; sec: number }> {
  const t = process.hrtime.bigint();
  const value = await fn();
  return { value, sec: Number(process.hrtime.bigint() - t) / 1e9 };
}

export const diskGrep: Scenario = {
  name: 'disk-grep',
  description: 'readDiskHistory and the logread command, -grep LITERAL (0.1% of lines) over ~1 GB of rotated text files of 36 sources, a third gzipped (--scale changes the size), against zgrep -F -c over the same files',
  figures: (ctx: Context): FigureSpec[] => [
    { key: 'ofZgrep', label: 'speed as % of zgrep -F', format: 'pct', target: { op: '>=', value: 50, note: 'issue: at least half of zgrep -F' } },
    { key: 'logreadOfZgrep', label: 'logread -log-dir -grep (whole command) as % of zgrep -F', format: 'pct', target: { op: '>=', value: 50, note: 'issue: at least half of zgrep -F' } },
    { key: 'oursMbps', label: `ours MB/s of text (${((BYTES * ctx.scale) / MB).toFixed(0)} MB)`, format: 'mbps' },
    { key: 'zgrepMbps', label: 'zgrep -F MB/s of text', format: 'mbps' },
    { key: 'oursMs', label: 'ours ms', format: 'ms' },
    { key: 'logreadMs', label: 'logread command ms', format: 'ms' },
    { key: 'zgrepMs', label: 'zgrep -F ms', format: 'ms' },
    { key: 'matches', label: 'lines found (both)', format: 'count' },
  ],
  async run(ctx: Context): Promise<Values> {
    const data = await diskData(Math.round(BYTES * ctx.scale), ctx.note);
    // Both read from the page cache: whoever goes first warms it for nobody but the first run, which made the files.
    const zgrep = await timed(() => zgrepCount(data.files));
    const ours = await timed(() => ourCount(data.dir));
    const logread = await timed(() => logreadCount(data.dir));
    if (ours.value !== zgrep.value || ours.value !== data.needles || logread.value !== ours.value) {
      throw new Error(`different answers: ours ${ours.value} lines, logread ${logread.value}, zgrep ${zgrep.value}, written ${data.needles}`);
    }
    return {
      ofZgrep: (zgrep.sec / ours.sec) * 100,
      oursMbps: data.textBytes / MB / ours.sec,
      zgrepMbps: data.textBytes / MB / zgrep.sec,
      logreadOfZgrep: (zgrep.sec / logread.sec) * 100,
      oursMs: ours.sec * 1000,
      logreadMs: logread.sec * 1000,
      zgrepMs: zgrep.sec * 1000,
      matches: ours.value,
    };
  },
};
