/**
 * Client side of the query socket: connect, send the mode byte, and get the
 * JSON lines back one by one. Works against our daemon and upstream's.
 */
import net from 'node:net';
import {
  encodeRequest,
  isHello,
  isStatus,
  MAX_HELLO,
  MAX_STATUS_LINE,
  MODE_DUMP_FOLLOW,
  MODE_RESUME,
  MODE_STATUS,
  parseAnswer,
  type DaemonStatus,
  type Hello,
  type QueryRequest,
} from '../protocol/wire.js';

export type { Hello } from '../protocol/wire.js';

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
  EPIPE: 'the daemon closed the connection at once (out of file descriptors?)',
  ECONNRESET: 'the daemon closed the connection at once (out of file descriptors?)',
};

/**
 * Connects to the query socket and sends the request (a bare mode byte, a whole request, or its encoded bytes); rejects with a
 * ConnectError. It resolves once the request is written: a daemon that closed the connection at once (out of
 * fds) makes that write fail, and the failure must come here, not as an 'error' before the caller listens.
 */
export function connectQuery(path: string, request: number | QueryRequest | Buffer): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(path);
    const onError = (err: NodeJS.ErrnoException): void => {
      socket.destroy();
      reject(new ConnectError(path, err.code, (err.code && REASONS[err.code]) ?? err.message));
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      const bytes = typeof request === 'number' ? Buffer.from([request]) : Buffer.isBuffer(request) ? request : encodeRequest(request);
      socket.write(bytes, (err) => {
        if (err) return; // onError has it
        socket.off('error', onError);
        resolve(socket);
      });
    });
  });
}

/**
 * Splits a byte stream into lines; a line may arrive across any number of
 * chunks. The stream comes from another process: a line longer than maxLine
 * bytes (far longer than any entry) is dropped, not buffered without bound.
 */
export class LineReader {
  private rest: Buffer | undefined;
  /** In the middle of a dropped over-long line. */
  private skipping = false;
  /** Lines dropped for being longer than maxLine. */
  overlong = 0;

  constructor(private readonly maxLine = 8 * 1024 * 1024) {}

  /** Calls onLine for each complete line (without its newline). */
  push(chunk: Buffer, onLine: (line: Buffer) => void): void {
    let data = chunk;
    let pos = 0;
    if (this.skipping) {
      const nl = data.indexOf(10);
      if (nl < 0) return;
      this.skipping = false;
      pos = nl + 1;
    } else if (this.rest) {
      data = Buffer.concat([this.rest, chunk]);
      this.rest = undefined;
    }
    for (;;) {
      const nl = data.indexOf(10, pos);
      if (nl < 0) break;
      onLine(data.subarray(pos, nl));
      pos = nl + 1;
    }
    if (pos >= data.length) return;
    if (data.length - pos > this.maxLine) {
      this.overlong++;
      this.skipping = true;
    } else {
      this.rest = Buffer.from(data.subarray(pos));
    }
  }

  /** What is left after the last newline (a stream cut mid-line). */
  get pending(): number {
    return this.rest?.length ?? 0;
  }

  /** Takes what is left after the last newline, if anything (the stream stops here). */
  takeRest(): Buffer | undefined {
    const rest = this.rest;
    this.rest = undefined;
    this.skipping = false;
    return rest;
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

export interface ResumeConnection {
  socket: net.Socket;
  /** Undefined when the daemon did not answer the resume request (an upstream daemon): the stream is plain mode 2. */
  hello: Hello | undefined;
  /** Bytes that came with the hello, to be read as the start of the stream. */
  rest: Buffer;
}

/**
 * The first line the daemon sends on socket, and what came after it; 'silent'
 * if nothing complete came within timeoutMs (an upstream daemon says nothing
 * to our extensions). The socket is paused when this resolves.
 */
export function firstLine(socket: net.Socket, path: string, what: string, maxBytes: number, timeoutMs: number): Promise<{ line: Buffer; rest: Buffer } | 'silent' | Error> {
  return new Promise((resolve) => {
    let got: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => finish('silent'), timeoutMs);
    const finish = (result: { line: Buffer; rest: Buffer } | 'silent' | Error): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.pause();
      resolve(result);
    };
    const onClose = (): void => finish(new Error(`${path} closed the connection before answering ${what}`));
    const onData = (chunk: Buffer): void => {
      got = got.length === 0 ? chunk : Buffer.concat([got, chunk]);
      const nl = got.indexOf(10);
      if (nl >= 0) return finish({ line: got.subarray(0, nl), rest: got.subarray(nl + 1) });
      // Whatever sends this much without a newline is not our daemon.
      if (got.length > maxBytes) finish(new Error(`${path} answered ${what} with ${got.length} bytes and no newline`));
    };
    socket.on('data', onData);
    socket.on('close', onClose);
  });
}

/**
 * Asks to resume after `after` (mode 3). A daemon that does not answer within
 * helloTimeoutMs is taken for an upstream one, which ignores mode 3: the
 * connection is made again in plain mode 2.
 */
export async function connectResume(path: string, want: { daemon?: string; after?: number }, helloTimeoutMs = 2000): Promise<ResumeConnection> {
  const socket = await connectQuery(path, { mode: MODE_RESUME, ...want });
  const answer = await firstLine(socket, path, 'the resume request', MAX_HELLO, helloTimeoutMs);
  if (answer === 'silent') {
    socket.destroy();
    return { socket: await connectQuery(path, MODE_DUMP_FOLLOW), hello: undefined, rest: Buffer.alloc(0) };
  }
  if (answer instanceof Error) {
    socket.destroy();
    throw answer;
  }
  const parsed = parseAnswer(answer.line);
  if ('refused' in parsed || !isHello(parsed.memlogd)) {
    socket.destroy();
    throw new Error(`${path} refused the resume request: ${'refused' in parsed ? parsed.refused : 'not a hello'}`);
  }
  return { socket, hello: parsed.memlogd, rest: answer.rest };
}

/**
 * What the daemon says of itself (mode 4): its id, its ring, its streams and
 * clients. Costs the daemon one line, unlike a dump. Rejects with a
 * ConnectError when nothing listens, and with an Error when the daemon does
 * not answer within timeoutMs (an upstream memlogd has no status) or answers
 * something else.
 */
export async function queryStatus(path: string, timeoutMs = 2000): Promise<DaemonStatus> {
  const socket = await connectQuery(path, MODE_STATUS);
  try {
    const answer = await firstLine(socket, path, 'the status request', MAX_STATUS_LINE, timeoutMs);
    if (answer === 'silent') throw new Error(`${path} sent no status within ${timeoutMs} ms (an upstream memlogd has no status)`);
    if (answer instanceof Error) throw answer;
    const parsed = parseAnswer(answer.line);
    if ('refused' in parsed) throw new Error(`${path} did not answer with a status: ${parsed.refused}`);
    if (!isStatus(parsed.memlogd)) throw new Error(`${path} answered with a status missing its daemon id or ring`);
    return parsed.memlogd;
  } finally {
    socket.destroy();
  }
}
