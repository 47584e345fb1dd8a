/**
 * Where the ring keeps its entries' bytes (each entry's meta fragment, then
 * its message, back to back). Two kinds: the raw arena, and compressed
 * blocks. The ring keeps everything else (sequence numbers, times, sources,
 * severities, each entry's offset and length) in its own arrays, so that
 * filters on those never touch the text.
 */
export interface TextStore {
  /** The budget for text in memory, in bytes (-max-bytes). */
  readonly capacity: number;
  /** The highest position an entry's message can have in its buffer. */
  readonly maxOffset: number;
  /** Bytes of memory the text takes now (compressed blocks count compressed). */
  readonly stored: number;
  /**
   * Room for the next entry's `room` bytes, making room by dropping the
   * oldest entries (through the ring) as needed: returns its position in
   * headBuffer. The entry's sequence number is nextSeq.
   */
  reserve(room: number, nextSeq: number): number;
  /** The buffer the last reserve() found room in. */
  readonly headBuffer: Buffer;
  /** The entry reserved at headBuffer[pos, end) is written. */
  advance(end: number): void;
  /**
   * The buffer holding entry seq's bytes at ring.offset(seq). It stays valid
   * until the next call of bufferOf or reserve: use it at once.
   */
  bufferOf(seq: number): Buffer;
  /**
   * The last entry e in (from, to] such that entries [from, e) lie back to
   * back in one buffer and span less than maxBytes (at least one entry).
   */
  runEnd(from: number, to: number, maxBytes: number): number;
  /** Every entry before first has been dropped. */
  released(first: number): void;
}

/** What a store asks of the ring: the entries it holds, oldest first. */
export interface HeldEntries {
  /** Sequence number of the oldest entry held, and of the next to come. */
  readonly first: number;
  readonly next: number;
  /** Store position where an entry's bytes start (its meta, if any, then its message). */
  start(seq: number): number;
  offset(seq: number): number;
  /** Drops the oldest entry (the store's released() hears of it). */
  dropOldest(): void;
}

/**
 * The last entry e in (from, to] such that entries [from, e) have offsets at
 * or after from's and less than maxBytes after it: with offsets that rise
 * from `from` until the entries leave its buffer (or wrap to its start), the
 * test is monotonic and a binary search finds the bound.
 */
export function contiguousEnd(held: HeldEntries, from: number, to: number, maxBytes: number): number {
  const base = held.offset(from);
  let lo = from + 1; // [from, lo) qualifies
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1; // does [from, mid) qualify?
    const off = held.offset(mid - 1);
    if (off >= base && off - base < maxBytes) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
