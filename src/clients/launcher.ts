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
import { sendFdsAsync, socketpair } from '../native.js';

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

/**
 * Hands one end of a new socketpair to memlogd; resolves to the end to write
 * to. While memlogd's queue is full it waits (for at most the send timeout)
 * without blocking the event loop: the tees go on meanwhile.
 */
export async function handOver(socketPath: string, name: string): Promise<number> {
  const [local, remote] = socketpair();
  try {
    await sendFdsAsync(socketPath, Buffer.from(name), [remote]);
    return local;
  } catch (err) {
    fs.closeSync(local);
    throw err;
  } finally {
    fs.closeSync(remote);
  }
}

/** How often a stream whose memlogd went away tries to hand itself to a new one. */
const RECONNECT_MS = 250;

/**
 * Copies a child's output to a local stream and to memlogd, pausing the child
 * when either is full. If memlogd goes away (killed, restarted), the child
 * sees nothing of it: the output still reaches the local stream, and a new
 * socketpair is handed to the log socket, under the same name, as soon as a
 * memlogd takes it again.
 */
function tee(from: Readable, local: Writable, toMemlogd: net.Socket | undefined, reconnect: (() => Promise<net.Socket | undefined>) | undefined): Promise<void> {
  let memlogd: net.Socket | undefined;
  let retry: NodeJS.Timeout | undefined;
  let ended = false;
  const attach = (socket: net.Socket): void => {
    memlogd = socket;
    socket.on('error', () => {
      // memlogd went away: keep going locally, and look for a new one.
      socket.destroy();
      if (memlogd === socket) memlogd = undefined;
      scheduleReconnect();
    });
  };
  const scheduleReconnect = (): void => {
    if (!reconnect || retry || ended) return;
    retry = setTimeout(() => {
      void reconnect().then((socket) => {
        retry = undefined;
        if (socket && ended) socket.destroy(); // the output ended while it was handed over
        else if (socket) attach(socket);
        else scheduleReconnect();
      });
    }, RECONNECT_MS);
    retry.unref();
  };
  if (toMemlogd) attach(toMemlogd);
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
      ended = true;
      if (retry) clearTimeout(retry);
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
    outFd = await handOver(opts.socket, `${name}.out`);
    errFd = await handOver(opts.socket, name);
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
    // Streams handed over at start find their way back to a restarted memlogd; without one at start, none is sought.
    const again = (streamName: string) => async (): Promise<net.Socket | undefined> => {
      try {
        return toMemlogd(await handOver(opts.socket, streamName));
      } catch {
        return undefined;
      }
    };
    const connected = outFd !== undefined;
    const copied = Promise.all([
      tee(child.stdout, opts.stdout, toMemlogd(outFd), connected ? again(`${name}.out`) : undefined),
      tee(child.stderr, opts.stderr, toMemlogd(errFd), connected ? again(name) : undefined),
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
