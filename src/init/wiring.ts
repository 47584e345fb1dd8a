/**
 * Where a program's stdout and stderr go, as LinuxKit's init wires them.
 *
 * With memlogd: an on-boot action gets a socketpair per stream (runc's way),
 * a service a FIFO per stream (containerd's way); the read ends go to memlogd
 * named `onboot.NNN-NAME` / `NAME`, with `.out` for stdout. Without memlogd (or
 * when handing over fails), output goes to files: LOGDIR/NAME.log and
 * LOGDIR/NAME.out.log for services, LOGDIR/onboot/NNN-NAME.log and .out.log
 * for on-boot actions.
 *
 * The init keeps the write ends of a service's FIFOs for the service's whole
 * life, so memlogd reads one stream per service across restarts. It also
 * keeps a copy of every read end it handed over: if memlogd dies, writers see
 * no EPIPE (a reader is still there), and a new memlogd gets them again.
 */
import fs from 'node:fs';
import path from 'node:path';
import { mkfifo, sendFdsAsync, socketpair } from '../native.js';
import { closeAllQuietly } from '../fds.js';
import type { KeptStream } from './stream-keeper.js';

export interface Stdio {
  /** fds to give the program as stdout and stderr. */
  out: number;
  err: number;
  /** Where it went, for the init's own log. */
  describe: string;
  /** Read ends handed to memlogd, now the caller's to keep (for a new memlogd) and to close once the program is gone for good. */
  handed: KeptStream[];
  /** Closes the init's copies of the write ends (after spawn for on-boot actions, at the end for services). */
  close(): void;
}

/** A socketpair per stream, read ends handed to memlogd. */
export async function socketpairsToMemlogd(logSocket: string, name: string): Promise<Stdio> {
  const fds: number[] = [];
  try {
    const [outRead, outWrite] = socketpair();
    fds.push(outRead, outWrite);
    const [errRead, errWrite] = socketpair();
    fds.push(errRead, errWrite);
    await sendFdsAsync(logSocket, Buffer.from(`${name}.out`), [outRead]);
    await sendFdsAsync(logSocket, Buffer.from(name), [errRead]);
    return {
      out: outWrite,
      err: errWrite,
      describe: `memlogd as ${name} and ${name}.out`,
      handed: [
        { name: `${name}.out`, fd: outRead },
        { name, fd: errRead },
      ],
      close: () => closeAllQuietly([outWrite, errWrite]),
    };
  } catch (err) {
    closeAllQuietly(fds);
    throw err;
  }
}

/** A FIFO per stream in fifoDir, read ends handed to memlogd. */
export async function fifosToMemlogd(logSocket: string, fifoDir: string, name: string): Promise<Stdio> {
  fs.mkdirSync(fifoDir, { recursive: true, mode: 0o700 });
  const fds: number[] = [];
  const handed: KeptStream[] = [];
  try {
    const ends = async (suffix: string): Promise<number> => {
      const fifo = path.join(fifoDir, `${name}${suffix}`);
      fs.rmSync(fifo, { force: true });
      mkfifo(fifo, 0o600);
      const read = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
      fds.push(read);
      // Blocking for the program (it expects an ordinary stdout); it opens at once since a reader exists.
      const write = fs.openSync(fifo, fs.constants.O_WRONLY);
      fds.push(write);
      fs.rmSync(fifo, { force: true }); // the open ends keep it alive; nothing else should open it
      const source = `${name}${suffix === '.err' ? '' : '.out'}`;
      await sendFdsAsync(logSocket, Buffer.from(source), [read]);
      handed.push({ name: source, fd: read });
      return write;
    };
    const out = await ends('.out');
    const err = await ends('.err');
    return { out, err, describe: `memlogd as ${name} and ${name}.out`, handed, close: () => closeAllQuietly([out, err]) };
  } catch (err) {
    closeAllQuietly(fds);
    throw err;
  }
}

/**
 * The file a stream's output goes to without memlogd: LOGDIR/NAME.log for a
 * service's stream NAME (stdout is NAME.out), LOGDIR/onboot/NNN-NAME.log for
 * an on-boot action's, as LinuxKit's init does.
 */
export function fallbackFile(logDir: string, name: string): string {
  const onboot = /^onboot\.(.+)$/.exec(name);
  return onboot ? path.join(logDir, 'onboot', `${onboot[1]}.log`) : path.join(logDir, `${name}.log`);
}

/** Files, appended to: the fallback without memlogd. */
export function toFiles(logDir: string, name: string): Stdio {
  const errFile = fallbackFile(logDir, name);
  const outFile = fallbackFile(logDir, `${name}.out`);
  fs.mkdirSync(path.dirname(errFile), { recursive: true });
  const flags = fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW;
  const out = fs.openSync(outFile, flags, 0o640);
  let err: number;
  try {
    err = fs.openSync(errFile, flags, 0o640);
  } catch (e) {
    closeAllQuietly([out]);
    throw e;
  }
  return { out, err, describe: `${errFile.replace(/\.log$/, '')}.log and .out.log`, handed: [], close: () => closeAllQuietly([out, err]) };
}
