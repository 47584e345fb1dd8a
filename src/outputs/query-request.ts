/**
 * What a query client asks for. Upstream clients send one byte: 0 dump,
 * 1 follow, 2 dump then follow. Our extension, mode 3 (resume), is the byte 3
 * followed by one line of JSON, `{"daemon":"<id>","after":<seq>}`: dump then
 * follow from the entry after `after`, if the daemon is still the one with
 * that id; both fields are optional. Upstream daemons ignore byte 3 (they leave
 * the connection open and silent), which is how our clients detect them.
 */

export const MODE_DUMP = 0;
export const MODE_FOLLOW = 1;
export const MODE_DUMP_FOLLOW = 2;
export const MODE_RESUME = 3;
/** Our extension: one JSON line describing the daemon, its ring, its streams (with their senders) and clients. */
export const MODE_STATUS = 4;

/** Longest resume request line, in bytes. */
export const MAX_REQUEST_LINE = 4096;

export type QueryRequest =
  | { mode: typeof MODE_DUMP | typeof MODE_FOLLOW | typeof MODE_DUMP_FOLLOW | typeof MODE_STATUS }
  | { mode: typeof MODE_RESUME; daemon?: string; after?: number };

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
    if (mode !== MODE_RESUME) {
      throw new RequestError(
        `unknown query mode byte 0x${mode.toString(16).padStart(2, '0')}: expected 0 (dump), 1 (follow), 2 (dump then follow), 3 (resume) or 4 (status)`,
      );
    }
    const nl = data.indexOf(10, 1);
    if (nl < 0) {
      if (data.length > MAX_REQUEST_LINE) throw new RequestError(`resume request longer than ${MAX_REQUEST_LINE} bytes`);
      this.buffered = Buffer.from(data);
      return undefined;
    }
    return parseResume(data.subarray(1, nl));
  }
}

export function parseResume(line: Buffer): QueryRequest {
  let value: unknown;
  try {
    value = JSON.parse(line.toString('utf8'));
  } catch {
    throw new RequestError('resume request is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new RequestError('resume request is not a JSON object');
  const { daemon, after } = value as Record<string, unknown>;
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
  if (request.mode !== MODE_RESUME) return Buffer.from([request.mode]);
  const body: Record<string, unknown> = {};
  if (request.daemon !== undefined) body.daemon = request.daemon;
  if (request.after !== undefined) body.after = request.after;
  return Buffer.concat([Buffer.from([MODE_RESUME]), Buffer.from(JSON.stringify(body) + '\n')]);
}
