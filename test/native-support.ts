/** What the addon's tests share: sockets in a temporary directory, fd counts, child processes. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { bindDgram, DgramReceiver, sendFds, type NativeSystemError } from '../src/native.js';
import { socketsAt, waitFor } from './helpers.js';

export const NATIVE_URL = new URL('../src/native.js', import.meta.url).href;

/** The test file's temporary directory, removed after its tests. */
export const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memlog-native-'));
after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

let seq = 0;
export function sockPath(): string {
  return path.join(dir, `s${seq++}.sock`);
}

export function countFds(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

/** Waits until cond holds (helpers' waitFor: the deadline only bounds a failure). */
export async function until(what: string, cond: () => boolean): Promise<void> {
  await waitFor(what, () => cond() || undefined);
}

/** Waits until this process has as many fds open as at baseline (handles close their fds in a later loop turn). */
export async function fdsBackTo(baseline: number): Promise<void> {
  await until(`fds back to ${baseline}`, () => countFds() === baseline);
  assert.equal(countFds(), baseline);
}

/** Waits until the socket bound at socketPath is closed (gone from /proc/net/unix, even if its path was unlinked). */
export async function released(socketPath: string): Promise<void> {
  await until(`the socket at ${socketPath} closed`, () => socketsAt(socketPath).length === 0);
}

export interface Datagram {
  name: Buffer;
  fds: number[];
  flags: number;
}

/** A DgramReceiver on a new socket, collecting what it gets. */
export function receiver(maxName = 256, maxFds?: number) {
  const p = sockPath();
  const got: Datagram[] = [];
  const r = new DgramReceiver(bindDgram(p), maxName, (name, fds, flags) => got.push({ name, fds, flags }), { maxFds });
  return {
    path: p,
    got,
    r,
    close(): void {
      r.close();
      fs.rmSync(p, { force: true });
    },
  };
}

/**
 * A socket bound at a new path that nobody reads, its queue filled until a
 * send fails with EAGAIN; `filled` datagrams went in.
 */
export function fullSocket(): { path: string; fd: number; filled: number } {
  const p = sockPath();
  const fd = bindDgram(p);
  for (let filled = 0; filled < 100_000; filled++) {
    try {
      sendFds(p, Buffer.from('fill'), []);
    } catch (err) {
      assert.equal((err as NativeSystemError).code, 'EAGAIN');
      return { path: p, fd, filled };
    }
  }
  throw new Error(`the queue of ${p} never filled`);
}

export function closeAll(fds: number[]): void {
  for (const fd of fds) fs.closeSync(fd);
}

/** Writes `text` on `from` and checks it arrives on `to`. */
export function assertConnected(from: number, to: number, text: string): void {
  fs.writeSync(from, text);
  const buf = Buffer.alloc(64);
  const n = fs.readSync(to, buf, 0, buf.length, null);
  assert.equal(buf.subarray(0, n).toString(), text);
}

/** Checks err is a system error shaped like Node's, with that code (and syscall). */
export function assertSystemError(err: unknown, code: string, syscall?: string): NativeSystemError {
  assert.ok(err instanceof Error, `expected an Error with code ${code}`);
  const e = err as NativeSystemError;
  assert.equal(e.code, code);
  assert.equal(typeof e.errno, 'number');
  assert.equal(e.errno, -(os.constants.errno as Record<string, number>)[code]!);
  if (syscall !== undefined) assert.equal(e.syscall, syscall);
  return e;
}

export function assertSysError(fn: () => unknown, code: string, syscall?: string): NativeSystemError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  return assertSystemError(caught, code, syscall);
}

/** What a promise was rejected with (and a failure if it was not). */
export async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/**
 * Runs an ES module snippet in a child node process with `native` imported
 * (and fs), SOCK set to a new socket path. A child that is never told what it
 * waits for is killed at the deadline, which only bounds a failure (status null).
 */
export function runChild(code: string, args: string[] = []) {
  const script = `import * as native from ${JSON.stringify(NATIVE_URL)};\nimport fs from 'node:fs';\n${code}`;
  return spawnSync(process.execPath, [...args, '--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 30_000,
    killSignal: 'SIGKILL',
    env: { ...process.env, SOCK: sockPath() },
  });
}
