/**
 * logread as a library: dump or follow the ring and print it. Without a
 * filter, `-n`, a cursor or `-o json` it asks as upstream's logread does (one
 * mode byte, so it works against any memlogd at once); with one, it sends a
 * filter request (mode 5) and falls back to filtering on its side when the
 * daemon cannot filter (an upstream memlogd).
 */
import { entryFormatter } from './entry-formats.js';
import { pumpEntries } from './entry-stream.js';
import { readWithLogDir } from './log-dir-read.js';
import { needsFilter, readMode, type LogreadOptions } from './logread-options.js';
import { connectQuery } from './query-client.js';
import { readRing } from './ring-read.js';

export type { LogreadOptions } from './logread-options.js';

/** Resolves when the daemon ends the stream (dump) or the connection drops. */
export async function logread(opts: LogreadOptions): Promise<void> {
  if (opts.logDir !== undefined) return readWithLogDir(opts);
  if (!needsFilter(opts)) {
    const socket = await connectQuery(opts.socket, readMode(opts));
    return pumpEntries(socket, { path: opts.socket, out: opts.out, warn: opts.warn, onEntry: entryFormatter(opts.format), signal: opts.signal });
  }
  return readRing(opts);
}
