/**
 * The wire protocol of memlogd's two sockets (PROTOCOL.md sections 1 and 2),
 * in one place for the daemon and every client: default paths, the log
 * socket's name limit, the query socket's mode bytes, requests, the hello a
 * resuming client gets and the status answer, with their size limits.
 *
 * Upstream clients send one byte: 0 dump, 1 follow, 2 dump then follow. Our
 * extensions: mode 3 (resume) is the byte 3 followed by one line of JSON,
 * `{"daemon":"<id>","after":<seq>}`, answered by a hello line, then dump and
 * follow from the entry after `after` if the daemon is still the one with
 * that id (both fields optional); mode 4 (status) is answered by one JSON
 * line, `{"memlogd":{...}}`. Upstream daemons ignore bytes 3 and 4 (they
 * leave the connection open and silent), which is how our clients detect them.
 * Mode 5 (filter) is the byte 5 followed by one line of JSON: see
 * filter-request.ts.
 */
import { encodeFilterRequest, MAX_FILTER_LINE, MODE_FILTER, parseFilterRequest, type FilterRequest } from './filter-request.js';

export const DEFAULT_LOG_SOCKET = '/var/run/linuxkit-external-logging.sock';
export const DEFAULT_QUERY_SOCKET = '/var/run/memlogdq.sock';

/** Bytes of a stream's name read from a log socket datagram (upstream reads 512). */
export const MAX_NAME_BYTES = 512;

export const MODE_DUMP = 0;
export const MODE_FOLLOW = 1;
export const MODE_DUMP_FOLLOW = 2;
export const MODE_RESUME = 3;
/** Our extension: one JSON line describing the daemon, its ring, its streams (with their senders) and clients. */
export const MODE_STATUS = 4;

/** Longest resume request line, in bytes. */
export const MAX_REQUEST_LINE = 4096;
/** Longest status line a client accepts (it lists every stream: a few hundred bytes each, at most -max-streams). */
export const MAX_STATUS_LINE = 16 * 1024 * 1024;
/** Longest hello line a client accepts (a hello is a few hundred bytes). */
export const MAX_HELLO = 64 * 1024;
/** Version of our extensions, sent in the hello of mode 3. */
export const PROTOCOL_VERSION = 1;
/** The version a filtered hello (mode 5) says: 2 knows mode 5. */
export const FILTER_PROTOCOL_VERSION = 2;

export type QueryRequest =
  | { mode: typeof MODE_DUMP | typeof MODE_FOLLOW | typeof MODE_DUMP_FOLLOW | typeof MODE_STATUS }
  | { mode: typeof MODE_RESUME; daemon?: string; after?: number }
  | { mode: typeof MODE_FILTER; request: FilterRequest };

export class RequestError extends Error {}

/** Accumulates a request from the bytes a client sends; bytes after it are ignored. */
export class RequestParser {
  private buffered: Buffer | undefined;

  /** The request, once complete; undefined while more bytes are needed; throws RequestError for a bad one. */
  push(chunk: Buffer): QueryRequest | undefined {
    const data = this.buffered ? Buffer.concat([this.buffered, chunk]) : chunk;
    this.buffered = undefined;
    if (data.length === 0) return undefined;
    const mode = data[0];
    if (mode === MODE_DUMP || mode === MODE_FOLLOW || mode === MODE_DUMP_FOLLOW || mode === MODE_STATUS) return { mode };
    if (mode !== MODE_RESUME && mode !== MODE_FILTER) {
      throw new RequestError(
        `unknown query mode byte 0x${mode.toString(16).padStart(2, '0')}: expected 0 (dump), 1 (follow), 2 (dump then follow), 3 (resume), 4 (status) or 5 (filter)`,
      );
    }
    const [what, max] = mode === MODE_RESUME ? ['resume', MAX_REQUEST_LINE] : ['filter', MAX_FILTER_LINE];
    const nl = data.indexOf(10, 1);
    if (nl < 0) {
      if (data.length > max) throw new RequestError(`${what} request longer than ${max} bytes`);
      this.buffered = Buffer.from(data);
      return undefined;
    }
    if (nl > max) throw new RequestError(`${what} request longer than ${max} bytes`);
    if (mode === MODE_FILTER) return { mode, request: parseFilterRequest(data.subarray(1, nl)) };
    return parseResume(data.subarray(1, nl));
  }
}

/** A request line's JSON object; RequestError naming the request (`resume request`) if it is not one. */
export function parseRequestObject(line: Buffer, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(line.toString('utf8'));
  } catch {
    throw new RequestError(`${what} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new RequestError(`${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

export function parseResume(line: Buffer): QueryRequest {
  const { daemon, after } = parseRequestObject(line, 'resume request');
  if (daemon !== undefined && (typeof daemon !== 'string' || daemon.length > 64)) {
    throw new RequestError('resume request: "daemon" must be a string of at most 64 characters');
  }
  if (after !== undefined && (typeof after !== 'number' || !Number.isSafeInteger(after) || after < -1)) {
    throw new RequestError('resume request: "after" must be a whole number, -1 or more');
  }
  return { mode: MODE_RESUME, daemon, after };
}

/** The bytes a client sends for a request. */
export function encodeRequest(request: QueryRequest): Buffer {
  if (request.mode === MODE_FILTER) return encodeFilterRequest(request.request);
  if (request.mode !== MODE_RESUME) return Buffer.from([request.mode]);
  const body: Record<string, unknown> = {};
  if (request.daemon !== undefined) body.daemon = request.daemon;
  if (request.after !== undefined) body.after = request.after;
  return Buffer.concat([Buffer.from([MODE_RESUME]), Buffer.from(JSON.stringify(body) + '\n')]);
}

/** The first line a resuming client gets from our daemon. */
export interface Hello {
  protocol: number;
  daemon: string;
  first: number;
  next: number;
  /** Sequence number of the first entry that will follow (entries before it and after `after` are reported lost). */
  start: number;
  /** Mode 5: the daemon filters (only matching entries follow). */
  filter?: boolean;
}

export function encodeHello(hello: Hello): string {
  return JSON.stringify({ memlogd: hello }) + '\n';
}

/**
 * What a status request (mode 4) is told: the fields every client may rely
 * on; the daemon sends more (streams, counters: see `memlog status`).
 */
export interface DaemonFacts {
  daemon: string;
  pid: number;
  ring: { first: number; next: number; entries: number; bytes: number };
  [field: string]: unknown;
}

export interface DaemonStatus extends DaemonFacts {
  /** Query connections open now, this one included. */
  queryClients: number;
}

export function encodeStatus(status: DaemonStatus): string {
  return JSON.stringify({ memlogd: status }) + '\n';
}

/**
 * The `memlogd` object of a hello or status line, or why the line is not one.
 * An answer that is an entry (`{"msg":"error: ..."}`) is a refusal and says so.
 */
export function parseAnswer(line: Buffer): { memlogd: Record<string, unknown> } | { refused: string } {
  let value: unknown;
  try {
    value = JSON.parse(line.toString('utf8'));
  } catch {
    return { refused: 'an answer that is not JSON' };
  }
  if (typeof value !== 'object' || value === null) return { refused: 'an answer that is not a JSON object' };
  const { memlogd, msg } = value as Record<string, unknown>;
  if (typeof memlogd === 'object' && memlogd !== null && !Array.isArray(memlogd)) return { memlogd: memlogd as Record<string, unknown> };
  return { refused: typeof msg === 'string' ? msg : line.toString('utf8').slice(0, 200) };
}

export function isHello(value: Record<string, unknown>): value is Record<string, unknown> & Hello {
  return typeof value.daemon === 'string' && typeof value.first === 'number' && typeof value.next === 'number' && typeof value.start === 'number';
}

export function isStatus(value: Record<string, unknown>): value is DaemonStatus {
  const ring = value.ring as Record<string, unknown> | undefined;
  return typeof value.daemon === 'string' && typeof ring === 'object' && ring !== null && typeof ring.next === 'number' && typeof ring.first === 'number';
}
