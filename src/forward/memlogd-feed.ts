/**
 * The forwarder's side of memlogd's query socket: a connection that resumes
 * after a cursor (mode 3), or with a filter (mode 5, which resumes the same
 * way and sends only matching entries). An upstream memlogd answers neither:
 * the connection is plain dump-and-follow (mode 2), without seqs, and the
 * filter is applied here.
 */
import type net from 'node:net';
import { connectFilter } from '../clients/filter-client.js';
import { connectResume } from '../clients/query-client.js';
import type { Filter } from '../filter/entry-filter.js';
import { CompiledFilter } from '../filter/entry-filter.js';
import { MODE_DUMP_FOLLOW } from '../protocol/wire.js';
import type { Hello } from '../protocol/wire.js';
import type { Cursor } from './cursor-store.js';

export interface Feed {
  socket: net.Socket;
  /** Undefined: an upstream daemon (no seqs, no resume). */
  hello: Hello | undefined;
  /** Bytes that came with the hello. */
  rest: Buffer;
  /** The filter to apply here (the daemon could not), if any. */
  localFilter: CompiledFilter | undefined;
}

/** True when the filter selects something less than everything. */
export function filters(filter: Filter | undefined): filter is Filter {
  return filter !== undefined && !new CompiledFilter(filter).all;
}

export async function connectFeed(path: string, cursor: Cursor | undefined, filter: Filter | undefined, helloTimeoutMs?: number): Promise<Feed> {
  const want = cursor ? { daemon: cursor.daemon, after: cursor.seq } : {};
  if (filters(filter)) {
    const c = await connectFilter(path, { mode: MODE_DUMP_FOLLOW, ...want, filter }, helloTimeoutMs);
    return { ...c, localFilter: c.hello ? undefined : new CompiledFilter(filter) };
  }
  const c = await connectResume(path, want, helloTimeoutMs);
  return { ...c, localFilter: undefined };
}
