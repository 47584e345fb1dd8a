/**
 * logread against a daemon that cannot filter (an upstream memlogd): the
 * same output, filtered on this side. The stream is plain mode 0, 1 or 2.
 *
 * `-n` with a follow needs to know where mode 2's dump part ends, and plain
 * mode 2 does not say. A plain dump (mode 0) made just after says it: its last
 * line is an entry the follow stream has too, sent byte for byte the same. The
 * follow stream's entries up to and including that one are its dump part, the
 * last n of them printed, the rest printed as they come. The follow stream
 * alone decides what is printed, so nothing is missed or repeated; at worst a
 * few entries that came between the two connections count as new.
 */
import type net from 'node:net';
import { compareInstants } from '../filter/time-spec.js';
import type { CompiledFilter } from '../filter/entry-filter.js';
import { parseRfc3339 } from '../entry/rfc3339.js';
import { MODE_DUMP } from '../protocol/wire.js';
import { entryFormatter, type OutputFormat } from './entry-formats.js';
import { LastN, pumpEntries, type PumpOptions } from './entry-stream.js';
import { connectQuery, LineReader } from './query-client.js';
import { entryMatches, parseReadEntry, type ReadEntry } from './read-entry.js';

export interface FallbackOptions extends Pick<PumpOptions, 'path' | 'out' | 'warn' | 'signal'> {
  /** The plain mode the socket was opened in. */
  mode: number;
  filter: CompiledFilter;
  format: OutputFormat;
  last?: number;
}

export async function readUnfiltered(socket: net.Socket, opts: FallbackOptions): Promise<void> {
  const format = entryFormatter(opts.format);
  const printed = (e: ReadEntry): string => (entryMatches(opts.filter, e) ? format(e) : '');
  const pump = { path: opts.path, out: opts.out, warn: opts.warn, signal: opts.signal };
  if (opts.last === undefined || opts.mode === 1) {
    return pumpEntries(socket, { ...pump, onEntry: printed });
  }
  const kept = new LastN<string>(opts.last);
  if (opts.mode === MODE_DUMP) {
    await pumpEntries(socket, { ...pump, onEntry: (e) => keep(kept, printed(e)) });
    opts.out.write(kept.take().join(''));
    return;
  }
  // Mode 2 with -n: find the end of the dump part (see above).
  const boundary = new DumpBoundary(kept, printed);
  const follow = pumpEntries(socket, { ...pump, onEntry: (e, line) => boundary.entry(e, line) });
  try {
    opts.out.write(boundary.dumpEnds(await lastOfDump(opts.path)));
  } catch (err) {
    socket.destroy();
    throw err;
  }
  await follow;
  opts.out.write(boundary.streamEnds());
}

/** Keeps a matching entry's text (a non-matching one prints '' and does not count towards n). */
function keep(kept: LastN<string>, text: string): string {
  if (text !== '') kept.put(text);
  return '';
}

interface LastOfDump {
  line: Buffer;
  entry: ReadEntry;
}

/** The last entry of a plain dump, as sent; undefined for an empty ring. */
function lastOfDump(path: string): Promise<LastOfDump | undefined> {
  return connectQuery(path, MODE_DUMP).then(
    (socket) =>
      new Promise((resolve, reject) => {
        const lines = new LineReader();
        let last: LastOfDump | undefined;
        socket.on('data', (chunk: Buffer) =>
          lines.push(chunk, (line) => {
            const entry = parseReadEntry(line);
            if (entry) last = { line: Buffer.from(line), entry };
          }),
        );
        socket.on('end', () => resolve(last));
        socket.on('error', (err) => reject(new Error(`connection to ${path} failed: ${err.message}`)));
      }),
  );
}

/** Splits the follow stream into its dump part (the last n kept) and what comes after (printed as it comes). */
class DumpBoundary {
  /** Entries that came before the dump said where its end is. */
  private waiting: { entry: ReadEntry; line: Buffer }[] | undefined = [];
  private last: Buffer | undefined;
  private lastTime: { sec: number; nsec: number } | undefined;
  private inDump = true;

  constructor(
    private readonly kept: LastN<string>,
    private readonly printed: (e: ReadEntry) => string,
  ) {}

  entry(entry: ReadEntry, line: Buffer): string {
    if (this.waiting) {
      this.waiting.push({ entry, line: Buffer.from(line) });
      return '';
    }
    if (!this.inDump) return this.printed(entry);
    if (this.last === undefined) return this.endDump() + this.printed(entry);
    if (line.equals(this.last)) {
      keep(this.kept, this.printed(entry));
      return this.endDump();
    }
    // The dump's last entry already gone from the ring (or never seen): anything newer than it is new.
    const t = this.lastTime && parseRfc3339(entry.time);
    if (this.lastTime && t && compareInstants(t, this.lastTime) > 0) return this.endDump() + this.printed(entry);
    return keep(this.kept, this.printed(entry));
  }

  /** The dump's last line is known: what the entries that waited for it print. */
  dumpEnds(last: LastOfDump | undefined): string {
    const waiting = this.waiting ?? [];
    this.waiting = undefined;
    this.last = last?.line;
    this.lastTime = last && parseRfc3339(last.entry.time);
    return waiting.map((w) => this.entry(w.entry, w.line)).join('');
  }

  /** The stream ended: a dump part not ended yet prints now. */
  streamEnds(): string {
    const text = this.waiting ? this.dumpEnds(undefined) : '';
    return text + (this.inDump ? this.endDump() : '');
  }

  private endDump(): string {
    this.inDump = false;
    return this.kept.take().join('');
  }
}
