/** Starting memlog-forward for tests, and writing numbered lines into memlogd. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { BIN, openStream, waitFor } from './helpers.js';

export interface ForwarderProcess {
  proc: ChildProcess;
  stderr(): string;
  /** Ends it with a signal (SIGTERM by default) and waits for its exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export function startForwarder(t: { after(fn: () => void | Promise<void>): void }, querySocket: string, stateDir: string, args: string[]): ForwarderProcess {
  const proc = spawn(process.execPath, [BIN('memlog-forward'), '-socket', querySocket, '-state-dir', stateDir, '-hostname', 'testhost', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const f: ForwarderProcess = {
    proc,
    stderr: () => stderr,
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
  };
  t.after(() => f.stop('SIGKILL'));
  return f;
}

/** A stream into memlogd under name; write(from, to) writes lines `<prefix> <n>` for n in [from, to). */
export async function numberedWriter(logSocket: string, name: string, prefix = 'line'): Promise<{ write(from: number, to: number): void; close(): void }> {
  const fd = await openStream(logSocket, name);
  return {
    write(from, to) {
      const parts: string[] = [];
      for (let n = from; n < to; n++) parts.push(`${prefix} ${n}\n`);
      const buf = Buffer.from(parts.join(''));
      // A blocking socket: a write waits while memlogd is behind.
      let off = 0;
      while (off < buf.length) off += fs.writeSync(fd, buf, off);
    },
    close: () => fs.closeSync(fd),
  };
}

/** The numbers n of messages `<prefix> <n>`, in the order they came. */
export function numbers(msgs: { msg: string }[], prefix = 'line'): number[] {
  const out: number[] = [];
  for (const m of msgs) {
    const match = new RegExp(`^${prefix} (\\d+)$`).exec(m.msg);
    if (match) out.push(Number(match[1]));
  }
  return out;
}

/** Each of 0..n-1 at least once; how many came more than once. */
export function missingAndTwice(got: number[], n: number): { missing: number[]; twice: number } {
  const seen = new Uint8Array(n);
  let twice = 0;
  for (const x of got) {
    if (x < n && seen[x]) twice++;
    if (x < n) seen[x] = 1;
  }
  const missing: number[] = [];
  for (let i = 0; i < n; i++) if (!seen[i]) missing.push(i);
  return { missing, twice };
}

/**
 * Rounds of: start the forwarder, write perRound more lines, wait until the
 * receiver has more than `progress` new ones, kill -9 the forwarder. Returns
 * how many lines were written.
 */
export async function killDuringFlow(
  t: { after(fn: () => void | Promise<void>): void },
  o: { querySocket: string; stateDir: string; args: string[]; writer: { write(from: number, to: number): void }; rounds: number; perRound: number; received(): number; progress: number; timeoutMs?: number },
): Promise<number> {
  let written = 0;
  for (let round = 0; round < o.rounds; round++) {
    const f = startForwarder(t, o.querySocket, o.stateDir, o.args);
    o.writer.write(written, written + o.perRound);
    written += o.perRound;
    const before = o.received();
    await waitFor('lines forwarded in this round', () => o.received() > before + o.progress, o.timeoutMs ?? 60_000);
    await f.stop('SIGKILL');
  }
  return written;
}
