/**
 * The launcher (upstream pkg/memlogd/cmd/logwrite): runs a command with its
 * stdout and stderr handed to memlogd as NAME.out and NAME, and teed to the
 * launcher's own stdout and stderr, so nothing about the command changes.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { sendFds, socketpair } from '../native.js';

export interface LaunchOptions {
  socket: string;
  /** Source name for stderr; stdout is NAME.out. Defaults to the command. */
  name?: string;
  command: string;
  args: string[];
  stdout: Writable;
  stderr: Writable;
  /** Told once when memlogd cannot be reached. */
  warn(msg: string): void;
}

/** Hands one end of a new socketpair to memlogd; returns the end to write to, or undefined. */
function handOver(socketPath: string, name: string): number {
  const [local, remote] = socketpair();
  try {
    sendFds(socketPath, Buffer.from(name), [remote]);
    return local;
  } catch (err) {
    fs.closeSync(local);
    throw err;
  } finally {
    fs.closeSync(remote);
  }
}

/** Copies a child's output to a local stream and to memlogd, pausing the child when either is full. */
function tee(from: Readable, local: Writable, toMemlogd: net.Socket | undefined): Promise<void> {
  let memlogd = toMemlogd;
  memlogd?.on('error', () => {
    // memlogd went away: the output still reaches the local stream.
    memlogd?.destroy();
    memlogd = undefined;
  });
  const waitFor = new Set<Writable>();
  const release = (w: Writable): void => {
    waitFor.delete(w);
    if (waitFor.size === 0) from.resume();
  };
  from.on('data', (chunk: Buffer) => {
    if (!local.write(chunk)) {
      waitFor.add(local);
      local.once('drain', () => release(local));
    }
    const m = memlogd;
    if (m && !m.write(chunk)) {
      waitFor.add(m);
      m.once('drain', () => release(m));
      m.once('close', () => release(m));
    }
    if (waitFor.size > 0) from.pause();
  });
  return new Promise((resolve) => {
    from.on('end', () => {
      const m = memlogd;
      if (!m) return resolve();
      m.end(() => resolve());
      m.once('close', () => resolve());
    });
  });
}

export async function launch(opts: LaunchOptions): Promise<number> {
  const name = opts.name && opts.name !== '' ? opts.name : opts.command;
  let outFd: number | undefined;
  let errFd: number | undefined;
  try {
    outFd = handOver(opts.socket, `${name}.out`);
    errFd = handOver(opts.socket, name);
  } catch (err) {
    if (outFd !== undefined) fs.closeSync(outFd);
    outFd = errFd = undefined;
    const e = err as NodeJS.ErrnoException;
    opts.warn(`cannot hand output to memlogd at ${opts.socket} (${e.code ?? e.message}); running without it`);
  }
  const toMemlogd = (fd: number | undefined): net.Socket | undefined =>
    fd === undefined ? undefined : new net.Socket({ fd, readable: false, writable: true });

  const child = spawn(opts.command, opts.args, { stdio: ['inherit', 'pipe', 'pipe'] });
  const spawned = await new Promise<Error | undefined>((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', (err) => resolve(err));
  });
  if (spawned) {
    for (const fd of [outFd, errFd]) if (fd !== undefined) fs.closeSync(fd);
    const code = (spawned as NodeJS.ErrnoException).code;
    opts.stderr.write(`logwrite: cannot run "${opts.command}": ${spawned.message}\n`);
    return code === 'ENOENT' ? 127 : 126;
  }

  const forward = (signal: NodeJS.Signals): void => {
    child.kill(signal);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  try {
    const copied = Promise.all([
      tee(child.stdout, opts.stdout, toMemlogd(outFd)),
      tee(child.stderr, opts.stderr, toMemlogd(errFd)),
    ]);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.once('exit', (c, s) => resolve([c, s])),
    );
    await copied;
    if (code !== null) return code;
    return 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0);
  } finally {
    process.off('SIGINT', forward);
    process.off('SIGTERM', forward);
  }
}
