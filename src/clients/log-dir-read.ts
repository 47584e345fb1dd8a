/**
 * `-log-dir`: what the persister wrote to the directory and what the ring
 * holds, as one stream in time order (each entry once: src/history/merge.ts),
 * `-n` over that stream; then, with -F (or -f -n), the ring followed from the
 * last entry its dump covered, so that nothing is missed or repeated. With no
 * memlogd to ask, the directory alone, said once on stderr. With -f alone
 * (new entries only) the directory has nothing to add.
 */
import { once } from 'node:events';
import { formatRfc3339Nano, parseRfc3339 } from '../entry/rfc3339.js';
import { CompiledFilter } from '../filter/entry-filter.js';
import { readDiskHistory } from '../history/disk-history.js';
import type { HistoryEntry } from '../history/history-entry.js';
import { mergeHistory } from '../history/merge.js';
import { MODE_DUMP, MODE_DUMP_FOLLOW, MODE_FOLLOW, type Hello } from '../protocol/wire.js';
import { entryFormatter, formatJson } from './entry-formats.js';
import { LastN } from './entry-stream.js';
import { connectFilter, type FilterConnection } from './filter-client.js';
import { readMode, type LogreadOptions } from './logread-options.js';
import { ConnectError, connectQuery, LineReader } from './query-client.js';
import { entryMatches, parseReadEntry, type ReadEntry } from './read-entry.js';
import { fallbackWarning, isSkippedReport, printFiltered, readRing, skippedWarning } from './ring-read.js';
import { readUnfiltered } from './upstream-fallback.js';

/** The ring's part of the dump, and what following it needs afterwards. */
interface RingDump {
  /** Undefined for a daemon that cannot filter (an upstream memlogd): entries are filtered here and have no seq. */
  hello: Hello | undefined;
  entries: AsyncIterable<HistoryEntry>;
  /** What the dump gave, once it has been read. */
  seen: { lastSeq?: number };
}

export async function readWithLogDir(opts: LogreadOptions): Promise<void> {
  const mode = readMode(opts);
  if (mode === MODE_FOLLOW) return readRing({ ...opts, logDir: undefined });
  const dir = opts.logDir as string;
  const filter = new CompiledFilter(opts.filter);
  let ring: RingDump | undefined;
  try {
    ring = await dumpRing(opts, filter);
  } catch (err) {
    if (!(err instanceof ConnectError)) throw err;
    opts.warn(`${err.message}: reading ${dir} alone${mode === MODE_DUMP ? '' : ', not following'}`);
  }
  const disk = readDiskHistory({ dir, filter, warn: opts.warn });
  await printHistory(ring ? mergeHistory(disk, ring.entries) : disk, opts);
  if (mode === MODE_DUMP_FOLLOW && ring) await followRing(ring, opts, filter);
}

async function dumpRing(opts: LogreadOptions, filter: CompiledFilter): Promise<RingDump> {
  const conn = await connectFilter(opts.socket, { mode: MODE_DUMP, filter: opts.filter }, opts.helloTimeoutMs);
  closeOnAbort(conn, opts.signal);
  if (!conn.hello) opts.warn(fallbackWarning(opts.socket));
  const seen: RingDump['seen'] = {};
  return { hello: conn.hello, entries: ringEntries(conn, conn.hello?.daemon, seen, opts, conn.hello ? undefined : filter), seen };
}

/** An abort closes the dump's connection at once; reading it then fails, which ends the merge. */
function closeOnAbort(conn: FilterConnection, signal: AbortSignal | undefined): void {
  if (!signal) return;
  if (signal.aborted) return void conn.socket.destroy();
  const onAbort = (): void => void conn.socket.destroy();
  signal.addEventListener('abort', onAbort, { once: true });
  conn.socket.once('close', () => signal.removeEventListener('abort', onAbort));
}

/** The dump's entries as history entries; clientFilter when the daemon did not filter. */
async function* ringEntries(
  conn: FilterConnection,
  daemon: string | undefined,
  seen: RingDump['seen'],
  opts: LogreadOptions,
  clientFilter: CompiledFilter | undefined,
): AsyncGenerator<HistoryEntry> {
  const lines = new LineReader();
  const batch: HistoryEntry[] = [];
  let malformed = 0;
  const onLine = (line: Buffer): void => {
    const e = parseReadEntry(line);
    if (!e) {
      if (++malformed <= 3) opts.warn(`not an entry: ${line.toString('utf8').slice(0, 200)}`);
      return;
    }
    if (isSkippedReport(e)) return opts.warn(skippedWarning(e));
    if (clientFilter && !entryMatches(clientFilter, e)) return;
    if (e.seq !== undefined) seen.lastSeq = e.seq;
    const h = toHistory(e, daemon);
    if (h) batch.push(h);
  };
  if (conn.rest.length > 0) lines.push(conn.rest, onLine);
  for await (const chunk of conn.socket) {
    lines.push(chunk as Buffer, onLine);
    yield* batch.splice(0);
  }
}

function toHistory(e: ReadEntry, daemon: string | undefined): HistoryEntry | undefined {
  const t = parseRfc3339(e.time);
  if (!t) return undefined;
  const h: HistoryEntry = { sec: t.sec, nsec: t.nsec, source: e.source, msg: e.msg, precision: 'ns' };
  if (e.seq !== undefined) h.seq = e.seq;
  if (daemon !== undefined) h.daemon = daemon;
  if (e.pid !== undefined) h.pid = e.pid;
  if (e.uid !== undefined) h.uid = e.uid;
  if (e.gid !== undefined) h.gid = e.gid;
  if (e.severity !== undefined) h.severity = e.severity;
  if (e.extra) h.extra = e.extra;
  return h;
}

function historyText(h: HistoryEntry, opts: LogreadOptions): string {
  const e: ReadEntry = { time: formatRfc3339Nano(h.sec, h.precision === 's' ? 0 : h.nsec), source: h.source, msg: h.msg };
  for (const k of ['seq', 'pid', 'uid', 'gid', 'severity'] as const) if (h[k] !== undefined) e[k] = h[k];
  if (h.extra) e.extra = h.extra;
  return opts.format === 'json' ? formatJson(e, h.daemon) : entryFormatter(opts.format)(e);
}

/** Prints the merged stream (its last n with -n), waiting for the output when it is behind. */
async function printHistory(entries: AsyncIterable<HistoryEntry>, opts: LogreadOptions): Promise<void> {
  if (opts.last !== undefined) {
    const kept = new LastN<HistoryEntry>(opts.last);
    for await (const h of entries) kept.put(h);
    opts.out.write(kept.take().map((h) => historyText(h, opts)).join(''));
    return;
  }
  let text = '';
  for await (const h of entries) {
    text += historyText(h, opts);
    if (text.length < 64 * 1024) continue;
    // An abort (the output went away, and with it any 'drain') ends the wait with an AbortError.
    if (!opts.out.write(text)) await once(opts.out, 'drain', { signal: opts.signal });
    text = '';
  }
  opts.out.write(text);
}

/** Follows the ring from where its dump ended: a resume naming the daemon and the last seq the dump covered. */
async function followRing(ring: RingDump, opts: LogreadOptions, filter: CompiledFilter): Promise<void> {
  const plain = { path: opts.socket, out: opts.out, warn: opts.warn, filter, format: opts.format, signal: opts.signal };
  if (!ring.hello) {
    // An upstream memlogd cannot resume: new entries from now on (any that came since the dump are not seen).
    return readUnfiltered(await connectQuery(opts.socket, MODE_FOLLOW), { ...plain, mode: MODE_FOLLOW });
  }
  const after = Math.max(ring.seen.lastSeq ?? -1, ring.hello.next - 1);
  const conn = await connectFilter(opts.socket, { mode: MODE_DUMP_FOLLOW, daemon: ring.hello.daemon, after, filter: opts.filter }, opts.helloTimeoutMs);
  if (!conn.hello) {
    opts.warn(fallbackWarning(opts.socket));
    return readUnfiltered(conn.socket, { ...plain, mode: MODE_DUMP_FOLLOW });
  }
  return printFiltered(conn, conn.hello, opts);
}
