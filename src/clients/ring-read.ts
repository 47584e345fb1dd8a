/**
 * The ring through a filter request (mode 5): the daemon's hello, then only
 * the entries that match; a daemon that cannot filter (an upstream memlogd)
 * is read plainly and filtered here, as it is said once on stderr.
 */
import { CompiledFilter } from '../filter/entry-filter.js';
import type { FilterRequest } from '../protocol/filter-request.js';
import type { Hello } from '../protocol/wire.js';
import { entryFormatter } from './entry-formats.js';
import { pumpEntries } from './entry-stream.js';
import { connectFilter, type FilterConnection } from './filter-client.js';
import { readMode, type LogreadOptions } from './logread-options.js';
import type { ReadEntry } from './read-entry.js';
import { readUnfiltered } from './upstream-fallback.js';

export async function readRing(opts: LogreadOptions): Promise<void> {
  const conn = await connectFiltered(opts, { mode: readMode(opts), last: opts.last, filter: opts.filter });
  if (!conn.hello) return readFallback(conn, opts);
  return printFiltered(conn, conn.hello, opts);
}

/** Prints what a daemon that filters sends after its hello. */
export function printFiltered(conn: FilterConnection, hello: Hello, opts: LogreadOptions): Promise<void> {
  const format = entryFormatter(opts.format, hello.daemon);
  return pumpEntries(conn.socket, {
    path: opts.socket,
    rest: conn.rest,
    out: opts.out,
    warn: opts.warn,
    signal: opts.signal,
    onEntry: (e) => (isSkippedReport(e) ? (opts.warn(skippedWarning(e)), '') : format(e)),
  });
}

/**
 * Sends the filter request with the cursor. A seq without a daemon id is the
 * running daemon's: a request must name it (one without an id starts at the
 * oldest entry), so the id comes from a first hello and the request is made
 * again naming it.
 */
export async function connectFiltered(opts: LogreadOptions, request: Omit<FilterRequest, 'daemon' | 'after'>): Promise<FilterConnection> {
  const full: FilterRequest = { ...request, daemon: opts.daemon, after: opts.afterSeq };
  const conn = await connectFilter(opts.socket, full, opts.helloTimeoutMs);
  if (!conn.hello || opts.afterSeq === undefined || opts.daemon !== undefined) return conn;
  conn.socket.destroy();
  return connectFilter(opts.socket, { ...full, daemon: conn.hello.daemon }, opts.helloTimeoutMs);
}

/** The daemon cannot filter: filter here, after saying so once. */
function readFallback(conn: FilterConnection, opts: LogreadOptions): Promise<void> {
  if (opts.afterSeq !== undefined) {
    conn.socket.destroy();
    throw new Error(`${opts.socket} cannot resume (an upstream memlogd?): its entries carry no seq, so -after-seq cannot be used`);
  }
  opts.warn(fallbackWarning(opts.socket));
  return readUnfiltered(conn.socket, {
    path: opts.socket,
    out: opts.out,
    warn: opts.warn,
    mode: readMode(opts),
    filter: new CompiledFilter(opts.filter),
    format: opts.format,
    last: opts.last,
    signal: opts.signal,
  });
}

export function fallbackWarning(socket: string): string {
  return `${socket} cannot filter (an upstream memlogd?): logread filters on its side`;
}

/** A memlogd entry saying how many entries the -grep pattern took too long on: a warning, not an entry. */
export function isSkippedReport(e: ReadEntry): boolean {
  return e.skipped !== undefined && e.source === 'memlogd';
}

export function skippedWarning(e: ReadEntry): string {
  return `memlogd skipped ${e.skipped} ${e.skipped === 1 ? 'entry' : 'entries'} the -grep pattern took too long on${e.msg ? `: ${e.msg}` : ''}`;
}
