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
import { mkfifo, sendFds, socketpair } from '../native.js';

/** A read end handed to memlogd, of which the init keeps a copy. */
export interface HandedStream {
  name: string;
  fd: number;
}

export interface Stdio {
  /** fds to give the program as stdout and stderr. */
  out: number;
  err: number;
  /** Where it went, for the init's own log. */
  describe: string;
  /** Read ends handed to memlogd (copies kept by the init), for a new memlogd. */
  handed: HandedStream[];
  /** Closes the init's copies of the write ends (after spawn for on-boot actions, at the end for services). */
  close(): void;
  /** Closes the init's copies of the read ends (once the program is gone for good). */
  release(): void;
}

function closeAll(fds: number[]): void {
  for (const fd of fds) {
    try {
      fs.closeSync(fd);
    } catch {
      // already closed
    }
  }
}

/** A socketpair per stream, read ends handed to memlogd. */
export function socketpairsToMemlogd(logSocket: string, name: string): Stdio {
  const fds: number[] = [];
  try {
    const [outRead, outWrite] = socketpair();
    fds.push(outRead, outWrite);
    const [errRead, errWrite] = socketpair();
    fds.push(errRead, errWrite);
    sendFds(logSocket, Buffer.from(`${name}.out`), [outRead]);
    sendFds(logSocket, Buffer.from(name), [errRead]);
    return {
      out: outWrite,
      err: errWrite,
      describe: `memlogd as ${name} and ${name}.out`,
      handed: [
        { name: `${name}.out`, fd: outRead },
        { name, fd: errRead },
      ],
      close: () => closeAll([outWrite, errWrite]),
      release: () => closeAll([outRead, errRead]),
    };
  } catch (err) {
    closeAll(fds);
    throw err;
  }
}

/** A FIFO per stream in fifoDir, read ends handed to memlogd. */
export function fifosToMemlogd(logSocket: string, fifoDir: string, name: string): Stdio {
  fs.mkdirSync(fifoDir, { recursive: true, mode: 0o700 });
  const fds: number[] = [];
  const handed: HandedStream[] = [];
  try {
    const ends = (suffix: string): number => {
      const fifo = path.join(fifoDir, `${name}${suffix}`);
      fs.rmSync(fifo, { force: true });
      mkfifo(fifo, 0o600);
      const read = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
      fds.push(read);
      // Blocking for the program (it expects an ordinary stdout); it opens at once since a reader exists.
      const write = fs.openSync(fifo, fs.constants.O_WRONLY);
      fds.push(write);
      const source = `${name}${suffix === '.err' ? '' : '.out'}`;
      sendFds(logSocket, Buffer.from(source), [read]);
      handed.push({ name: source, fd: read });
      fs.rmSync(fifo, { force: true }); // the open ends keep it alive; nothing else should open it
      return write;
    };
    const out = ends('.out');
    const err = ends('.err');
    return {
      out,
      err,
      describe: `memlogd as ${name} and ${name}.out`,
      handed,
      close: () => closeAll([out, err]),
      release: () => closeAll(handed.map((h) => h.fd)),
    };
  } catch (err) {
    closeAll(fds);
    throw err;
  }
}

/** Files, appended to: the fallback without memlogd. */
export function toFiles(dir: string, name: string): Stdio {
  fs.mkdirSync(dir, { recursive: true });
  const flags = fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW;
  const out = fs.openSync(path.join(dir, `${name}.out.log`), flags, 0o640);
  let err: number;
  try {
    err = fs.openSync(path.join(dir, `${name}.log`), flags, 0o640);
  } catch (e) {
    closeAll([out]);
    throw e;
  }
  return { out, err, describe: `${path.join(dir, name)}.log and .out.log`, handed: [], close: () => closeAll([out, err]), release: () => {} };
}
