/**
 * Reading a whole answer and only counting it (bytes and lines), chunk by
 * chunk as it comes, never into one string: an HTTP GET (a new connection
 * each, as a browser's first request or curl's), or a command's stdout
 * (bin/logread). Time: from the request (or spawn) to the end of the body
 * (or the process's exit with its stdout read to the end).
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { ROOT } from './paths.js';

export interface Counted {
  ms: number;
  bytes: number;
  lines: number;
}

const TIMEOUT_MS = 120_000;

function counter(): { add(chunk: Buffer): void; bytes(): number; lines(): number } {
  let bytes = 0;
  let lines = 0;
  return {
    add(chunk: Buffer): void {
      bytes += chunk.length;
      for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
    },
    bytes: () => bytes,
    lines: () => lines,
  };
}

/** GET url, its body counted; rejects on a status other than 200. */
export function httpCount(url: string): Promise<Counted> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const c = counter();
    const req = http.get(url, { agent: false }, (res) => {
      if (res.statusCode !== 200) {
        const body: Buffer[] = [];
        res.on('data', (d: Buffer) => body.push(d));
        res.on('end', () => reject(new Error(`GET ${url}: ${res.statusCode} ${Buffer.concat(body).toString('utf8').trim().slice(0, 200)}`)));
        return;
      }
      res.on('data', (d: Buffer) => c.add(d));
      res.once('error', reject);
      res.once('end', () => resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, bytes: c.bytes(), lines: c.lines() }));
    });
    req.setTimeout(TIMEOUT_MS, () => req.destroy(new Error(`GET ${url}: no answer within ${TIMEOUT_MS / 1000} s`)));
    req.once('error', reject);
  });
}

/** bin/logread with args, its stdout counted (it writes to a pipe we read as fast as it comes); rejects unless it exits 0. */
export function logreadCount(args: string[]): Promise<Counted> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const c = counter();
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/logread'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
    child.stdout.on('data', (d: Buffer) => c.add(d));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => (err = (err + s).slice(-2000)));
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run logread: ${e.message}`));
    });
    // 'close': stdout has been read to its end, and the process has exited.
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code !== 0) reject(new Error(`logread ${args.join(' ')}: ${signal ?? `status ${code}`}${err ? `: ${err.trim()}` : ''}`));
      else resolve({ ms, bytes: c.bytes(), lines: c.lines() });
    });
  });
}
