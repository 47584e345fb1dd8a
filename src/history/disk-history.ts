/**
 * The persister's directory as one time-ordered history: each source's files
 * oldest first (log-dir.ts), read and filtered one source at a time
 * (source-stream.ts), merged across sources by time with a heap. Streaming:
 * memory is a chunk or two per source, whatever the size of the files.
 */
import type { CompiledFilter } from '../filter/entry-filter.js';
import { MinHeap } from './heap.js';
import { compareTimes, type HistoryEntry } from './history-entry.js';
import { listLogDir } from './log-dir.js';
import { SourceStream } from './source-stream.js';

export interface DiskHistoryOptions {
  dir: string;
  filter: CompiledFilter;
  /** Each unreadable or corrupt file reported once, by name. */
  warn(msg: string): void;
  /** Names known elsewhere (the ring), to name hashed stems in text files. */
  knownSources?: readonly string[];
}

/** Bytes per read at most, and at least (unless there are very many sources: see chunkSizeFor). */
const MAX_CHUNK = 1 << 20;
const MIN_CHUNK = 64 << 10;
/** What the chunks of all sources together aim to stay within (each source holds about two). */
const CHUNK_BUDGET = 256 << 20;

function chunkSizeFor(sources: number): number {
  return Math.max(MIN_CHUNK, Math.min(MAX_CHUNK, Math.floor(CHUNK_BUDGET / (2 * Math.max(1, sources)))));
}

/** Sources started together. */
const FIRST_BATCH = 64;

interface Head {
  entry: HistoryEntry;
  stream: SourceStream;
  /** The source's place in the listing: equal times come out in a fixed order. */
  order: number;
}

const earlier = (a: Head, b: Head): boolean => {
  const c = compareTimes(a.entry, b.entry);
  return c !== 0 ? c < 0 : a.order < b.order;
};

/** Every entry under dir that passes the filter, in time order across all sources and their rotated files. */
export function readDiskHistory(opts: DiskHistoryOptions): AsyncIterable<HistoryEntry> {
  return {
    async *[Symbol.asyncIterator]() {
      const sources = listLogDir(opts.dir, opts.filter, opts.knownSources, opts.warn);
      const chunkSize = chunkSizeFor(sources.length);
      const streams = sources.map((files) => new SourceStream(files, opts.filter, opts.warn, chunkSize));
      const heap = new MinHeap<Head>(earlier);
      try {
        // The sources' first entries a batch at a time: their reads (and inflates) run side by side, and
        // a directory of many small files does not have them all open at once.
        for (let i = 0; i < streams.length; i += FIRST_BATCH) {
          const firsts = await Promise.all(streams.slice(i, i + FIRST_BATCH).map((s) => s.next()));
          firsts.forEach((entry, j) => entry && heap.push({ entry, stream: streams[i + j], order: i + j }));
        }
        for (let head = heap.pop(); head !== undefined; head = heap.pop()) {
          yield head.entry;
          const entry = await head.stream.next();
          if (entry) heap.push({ entry, stream: head.stream, order: head.order });
        }
      } finally {
        await Promise.all(streams.map((s) => s.close()));
      }
    },
  };
}
