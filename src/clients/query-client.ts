/**
 * Client side of the query socket: connect, send the mode byte, and get the
 * JSON lines back one by one. Works against our daemon and upstream's.
 */
import net from 'node:net';

export interface WireEntry {
  time: string;
  source: string;
  msg: string;
}

export class ConnectError extends Error {
  constructor(
    readonly path: string,
    readonly code: string | undefined,
    detail: string,
  ) {
    super(`cannot connect to ${path}: ${detail}`);
  }
}

const REASONS: Record<string, string> = {
  ENOENT: 'no such socket (is memlogd running?)',
  ECONNREFUSED: 'connection refused (no daemon is listening there)',
  EACCES: 'permission denied',
  ENOTSOCK: 'not a socket',
  EPROTOTYPE: 'not a stream socket (is that the log socket rather than the query socket?)',
};

/** Connects to the query socket and sends the mode byte; rejects with a ConnectError. */
export function connectQuery(path: string, mode: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(path);
    const onError = (err: NodeJS.ErrnoException): void => {
      socket.destroy();
      reject(new ConnectError(path, err.code, (err.code && REASONS[err.code]) ?? err.message));
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      socket.write(Buffer.from([mode]));
      resolve(socket);
    });
  });
}

/** Splits a byte stream into lines; a line may arrive across any number of chunks. */
export class LineReader {
  private rest: Buffer | undefined;

  /** Calls onLine for each complete line (without its newline). */
  push(chunk: Buffer, onLine: (line: Buffer) => void): void {
    let data = chunk;
    if (this.rest) {
      data = Buffer.concat([this.rest, chunk]);
      this.rest = undefined;
    }
    let pos = 0;
    for (;;) {
      const nl = data.indexOf(10, pos);
      if (nl < 0) break;
      onLine(data.subarray(pos, nl));
      pos = nl + 1;
    }
    if (pos < data.length) this.rest = Buffer.from(data.subarray(pos));
  }

  /** What is left after the last newline (a stream cut mid-line). */
  get pending(): number {
    return this.rest?.length ?? 0;
  }
}

/** Parses one wire line; undefined if it is not an entry. */
export function parseEntry(line: Buffer): WireEntry | undefined {
  try {
    const value: unknown = JSON.parse(line.toString('utf8'));
    if (typeof value !== 'object' || value === null) return undefined;
    const e = value as Record<string, unknown>;
    if (typeof e.time !== 'string' || typeof e.source !== 'string' || typeof e.msg !== 'string') return undefined;
    return e as unknown as WireEntry;
  } catch {
    return undefined;
  }
}
