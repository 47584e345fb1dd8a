/**
 * The ring: the newest entries, bounded by count and by bytes, oldest dropped first.
 *
 * A text store holds the messages back to back (raw bytes as read, in one
 * arena or in blocks compressed once filled: text-store.ts); typed arrays
 * indexed by slot hold where each message is, its length
 * and its source id: 10 bytes per entry, and 4 more for what syslog entries
 * carry: severity and facility (255: none) and the length of a "meta" fragment,
 * extra JSON fields (`,"transport":"syslog",...`) stored just
 * before the message, so that a message's own bytes stay contiguous for the
 * encoder and the scans, which never look between two messages. Receipt times are kept per run of
 * entries that share one (all the lines of one read do), in a second small
 * ring. Appending is a copy into the store and a few array stores: no object
 * per entry, nothing for the GC to trace.
 *
 * Every entry gets a sequence number, increasing by one per entry for the life
 * of the ring; readers (dumps, followers) are just cursors over those numbers.
 */
import { Arena } from './arena.js';
import { BLOCK_BYTES, BlockStore, MIN_COMPRESSED } from './blocks.js';
import { EvictionLog } from './eviction-log.js';
import type { SourceTable } from './sources.js';
import type { HeldEntries, TextStore } from './text-store.js';

/** Severity or facility not known. */
export const NONE = 255;
/** Longest meta fragment stored with an entry. */
export const MAX_META = 0xffff;

export interface RingOptions {
  maxLines: number;
  /** Bytes of message text the ring may hold. */
  maxBytes: number;
  /** Longest message stored; the arena is never smaller than this. */
  maxLineLen: number;
  /** Compress filled blocks of text (rings of MIN_COMPRESSED bytes and more); default false. */
  compress?: boolean;
  /** Raw bytes per compressed block (default BLOCK_BYTES, at most a sixteenth of the ring); given, it compresses rings of any size (tests). */
  blockBytes?: number;
}

export class Ring implements HeldEntries {
  readonly maxLines: number;
  readonly capacity: number;
  /** Where the entries' bytes are: raw, or in compressed blocks. */
  readonly store: TextStore;
  /** 16 bits when the store's positions are (blocks of at most 64 KiB). */
  private readonly offsets: Uint16Array | Uint32Array;
  /** 16 bits when lines are at most 64 KiB long (the default is 1 KiB). */
  private readonly lengths: Uint16Array | Uint32Array;
  /** 16 bits until a source id needs more (then widened once). */
  private sourceIds: Uint16Array | Uint32Array;
  /**
   * Per slot: severity + 1 (0-7, so 1-8), facility + 1, 0 for none; bytes of
   * meta before the message. Made on the first entry that has any of them
   * (syslog): a ring of stream lines never holds these 4 bytes per entry.
   */
  private severities: Uint8Array | undefined;
  private facilities: Uint8Array | undefined;
  private metaLengths: Uint16Array | undefined;
  /** Time runs: the first sequence number of each run, and its time. */
  private readonly runSeq: Float64Array;
  private readonly runSec: Uint32Array;
  private readonly runNsec: Uint32Array;
  private timeHead = 0; // index of the oldest run
  private timeRuns = 0;
  /** The run the last lookup found: readers go through entries in order. */
  private timeCursor = 0;
  /** Sequence number of the oldest entry held. */
  private firstSeq = 0;
  /** Sequence number the next entry will get. */
  private nextSeq = 0;
  private bytesHeld = 0;
  /** Entries pushed out to make room, for the life of the ring. */
  evicted = 0;
  /** Message bytes appended, for the life of the ring. */
  appendedBytes = 0;
  /** Whose entries were dropped, for loss reports. */
  private readonly evictions: EvictionLog;
  /** Per source id: entries and message bytes held (for status), grown as ids grow. */
  private heldEntries = new Float64Array(64);
  private heldBytes = new Float64Array(64);

  constructor(
    opts: RingOptions,
    readonly sources: SourceTable,
  ) {
    if (!(opts.maxLines >= 1)) throw new RangeError('the ring needs room for at least one line');
    this.maxLines = opts.maxLines;
    this.evictions = new EvictionLog(sources);
    this.capacity = Math.max(opts.maxBytes, opts.maxLineLen, 1);
    this.store =
      opts.compress && (this.capacity >= MIN_COMPRESSED || opts.blockBytes !== undefined)
        ? new BlockStore(this.capacity, opts.blockBytes ?? BLOCK_BYTES, opts.maxLineLen + MAX_META + 1, MAX_META, this)
        : new Arena(this.capacity, this);
    this.offsets = this.store.maxOffset <= 0xffff ? new Uint16Array(this.maxLines) : new Uint32Array(this.maxLines);
    this.lengths = opts.maxLineLen <= 0xffff ? new Uint16Array(this.maxLines) : new Uint32Array(this.maxLines);
    this.sourceIds = new Uint16Array(this.maxLines);
    // As many runs as entries at worst; the arrays' pages are only touched as runs are added.
    this.runSeq = new Float64Array(this.maxLines);
    this.runSec = new Uint32Array(this.maxLines);
    this.runNsec = new Uint32Array(this.maxLines);
  }

  get first(): number {
    return this.firstSeq;
  }

  get next(): number {
    return this.nextSeq;
  }

  get count(): number {
    return this.nextSeq - this.firstSeq;
  }

  get bytes(): number {
    return this.bytesHeld;
  }

  /** Stores src[start, end) as one entry (the caller has already cut it to max-line-len). */
  append(sourceId: number, sec: number, nsec: number, src: Uint8Array, start: number, end: number): void {
    const len = end - start;
    if (this.nextSeq - this.firstSeq === this.maxLines) this.dropOldest();
    // An empty message still takes one byte, so that no two held entries share an
    // offset and head === tail can only mean a full arena.
    const room = len === 0 ? 1 : len;
    const pos = this.store.reserve(room, this.nextSeq);
    if (len > 0) this.store.headBuffer.set(src.subarray(start, end), pos);
    const slot = this.nextSeq % this.maxLines;
    this.offsets[slot] = pos;
    this.lengths[slot] = len;
    this.setSource(slot, sourceId);
    if (this.metaLengths !== undefined) {
      (this.severities as Uint8Array)[slot] = 0;
      (this.facilities as Uint8Array)[slot] = 0;
      this.metaLengths[slot] = 0;
    }
    this.store.advance(pos + room);
    this.added(sourceId, sec, nsec, len);
  }

  /**
   * Stores an entry with a severity and facility (NONE when unknown) and a meta
   * fragment (JSON fields, each starting with a comma, written as they are
   * after the entry's own). A meta that would not fit the arena with the
   * message is left out.
   */
  appendWith(sourceId: number, sec: number, nsec: number, src: Uint8Array, start: number, end: number, severity: number, facility: number, meta?: Uint8Array): void {
    const len = end - start;
    let metaLen = meta === undefined ? 0 : meta.length;
    if (metaLen > MAX_META || metaLen + len + 1 > this.capacity) metaLen = 0;
    if (this.nextSeq - this.firstSeq === this.maxLines) this.dropOldest();
    const room = metaLen + (len === 0 ? 1 : len);
    const pos = this.store.reserve(room, this.nextSeq);
    const buf = this.store.headBuffer;
    if (metaLen > 0) buf.set(meta as Uint8Array, pos);
    if (len > 0) buf.set(src.subarray(start, end), pos + metaLen);
    const slot = this.nextSeq % this.maxLines;
    this.offsets[slot] = pos + metaLen;
    this.lengths[slot] = len;
    this.setSource(slot, sourceId);
    if (this.metaLengths === undefined) {
      this.severities = new Uint8Array(this.maxLines);
      this.facilities = new Uint8Array(this.maxLines);
      this.metaLengths = new Uint16Array(this.maxLines);
    }
    (this.severities as Uint8Array)[slot] = severity === NONE ? 0 : severity + 1;
    (this.facilities as Uint8Array)[slot] = facility === NONE ? 0 : facility + 1;
    this.metaLengths[slot] = metaLen;
    this.store.advance(pos + room);
    this.added(sourceId, sec, nsec, len + metaLen);
  }

  /** Stores a slot's source id, widening the ids to 32 bits the first time one needs it. */
  private setSource(slot: number, sourceId: number): void {
    if (sourceId > 0xffff && this.sourceIds instanceof Uint16Array) this.sourceIds = Uint32Array.from(this.sourceIds);
    this.sourceIds[slot] = sourceId;
  }

  /** The bookkeeping of an entry just stored at slot nextSeq: its time, counts, references. */
  private added(sourceId: number, sec: number, nsec: number, bytes: number): void {
    const last = (this.timeHead + this.timeRuns - 1) % this.maxLines;
    if (this.timeRuns === 0 || this.runSec[last] !== sec || this.runNsec[last] !== nsec) {
      // A new time. Room is certain: the entry that made room above ended any run it alone was left in.
      const i = (this.timeHead + this.timeRuns) % this.maxLines;
      this.runSeq[i] = this.nextSeq;
      this.runSec[i] = sec;
      this.runNsec[i] = nsec;
      this.timeRuns++;
    }
    this.bytesHeld += bytes;
    this.appendedBytes += bytes;
    this.nextSeq++;
    this.sources.retain(sourceId);
    if (sourceId >= this.heldEntries.length) this.growHeld(sourceId);
    this.heldEntries[sourceId]++;
    this.heldBytes[sourceId] += bytes;
  }

  private growHeld(id: number): void {
    let size = this.heldEntries.length * 2;
    while (size <= id) size *= 2;
    const entries = new Float64Array(size);
    const bytes = new Float64Array(size);
    entries.set(this.heldEntries);
    bytes.set(this.heldBytes);
    this.heldEntries = entries;
    this.heldBytes = bytes;
  }

  /** Each source with entries in the ring: its id, how many entries and message bytes. */
  heldBySource(): { id: number; entries: number; bytes: number }[] {
    const out: { id: number; entries: number; bytes: number }[] = [];
    for (let id = 0; id < this.heldEntries.length; id++) {
      if (this.heldEntries[id] > 0) out.push({ id, entries: this.heldEntries[id], bytes: this.heldBytes[id] });
    }
    return out;
  }

  /** Drops the oldest entry (to make room, or for the text store when it drops a block). */
  dropOldest(): void {
    const slot = this.firstSeq % this.maxLines;
    const sourceId = this.sourceIds[slot];
    const bytes = this.lengths[slot] + (this.metaLengths === undefined ? 0 : this.metaLengths[slot]);
    this.bytesHeld -= bytes;
    this.heldEntries[sourceId]--;
    this.heldBytes[sourceId] -= bytes;
    this.evictions.add(sourceId, this.firstSeq);
    this.sources.release(sourceId); // no longer held by the entry
    this.firstSeq++;
    this.evicted++;
    // The oldest time run goes once the next one starts at or before the oldest entry held.
    while (this.timeRuns > 1 && this.runSeq[(this.timeHead + 1) % this.maxLines] <= this.firstSeq) {
      this.timeHead = (this.timeHead + 1) % this.maxLines;
      this.timeRuns--;
    }
    if (this.firstSeq === this.nextSeq) this.timeRuns = 0;
    this.store.released(this.firstSeq);
  }

  /** Whose entries were dropped between sequence numbers from (inclusive) and to (exclusive). */
  dropped(from: number, to: number): { bySource: Map<string, number>; unknown: number } {
    return this.evictions.dropped(from, to);
  }

  // Readers: valid for first <= seq < next.

  sourceId(seq: number): number {
    return this.sourceIds[seq % this.maxLines];
  }

  /** Index of the time run holding seq: the cursor's run or its next when reading in order, else a binary search. */
  private timeRun(seq: number): number {
    const cap = this.maxLines;
    const c = this.timeCursor;
    const k = (c - this.timeHead + cap) % cap; // the cursor's place among the runs
    if (k < this.timeRuns && this.runSeq[c] <= seq) {
      if (k + 1 === this.timeRuns || seq < this.runSeq[(c + 1) % cap]) return c;
      if (k + 2 === this.timeRuns || seq < this.runSeq[(c + 2) % cap]) return (this.timeCursor = (c + 1) % cap);
    }
    let lo = 0;
    let hi = this.timeRuns - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.runSeq[(this.timeHead + mid) % cap] <= seq) lo = mid;
      else hi = mid - 1;
    }
    return (this.timeCursor = (this.timeHead + lo) % cap);
  }

  sec(seq: number): number {
    return this.runSec[this.timeRun(seq)];
  }

  nsec(seq: number): number {
    return this.runNsec[this.timeRun(seq)];
  }

  /** Time runs, oldest first (k from 0 to timeRunCount - 1): for searches by time. */
  get timeRunCount(): number {
    return this.timeRuns;
  }

  /** The first sequence number of time run k (it may be older than first: clamp it). */
  timeRunSeq(k: number): number {
    return this.runSeq[(this.timeHead + k) % this.maxLines];
  }

  timeRunSec(k: number): number {
    return this.runSec[(this.timeHead + k) % this.maxLines];
  }

  timeRunNsec(k: number): number {
    return this.runNsec[(this.timeHead + k) % this.maxLines];
  }

  length(seq: number): number {
    return this.lengths[seq % this.maxLines];
  }

  offset(seq: number): number {
    return this.offsets[seq % this.maxLines];
  }

  /** 0-7, or NONE. */
  severity(seq: number): number {
    const v = this.severities === undefined ? 0 : this.severities[seq % this.maxLines];
    return v === 0 ? NONE : v - 1;
  }

  /** 0-23, or NONE. */
  facility(seq: number): number {
    const v = this.facilities === undefined ? 0 : this.facilities[seq % this.maxLines];
    return v === 0 ? NONE : v - 1;
  }

  /** Bytes of the entry's meta fragment, just before its message (offset - metaLength). */
  metaLength(seq: number): number {
    return this.metaLengths === undefined ? 0 : this.metaLengths[seq % this.maxLines];
  }

  /** Where entry seq's bytes start in its buffer: its meta, then its message. */
  start(seq: number): number {
    const slot = seq % this.maxLines;
    return this.offsets[slot] - (this.metaLengths === undefined ? 0 : this.metaLengths[slot]);
  }

  /**
   * The buffer that holds entry seq's bytes at offset(seq), for encoders and
   * scans that read straight out of it. Valid until the next call or append:
   * use it at once.
   */
  bufferOf(seq: number): Buffer {
    return this.store.bufferOf(seq);
  }

  /** The last entry e in (from, to] such that [from, e) lie back to back in one buffer, spanning less than maxBytes. */
  runEnd(from: number, to: number, maxBytes: number): number {
    return this.store.runEnd(from, to, maxBytes);
  }

  /** Whether filled blocks of text are compressed. */
  get compressed(): boolean {
    return this.store instanceof BlockStore;
  }

  /** For the status of a compressed ring: blocks sealed and opened for readers, raw bytes sealed and what they took. */
  blockCounts(): { blocksSealed: number; blocksDecompressed: number; sealedBytes: number; sealedStored: number } | Record<string, never> {
    const s = this.store;
    if (!(s instanceof BlockStore)) return {};
    return { blocksSealed: s.sealed, blocksDecompressed: s.decompressed, sealedBytes: s.sealedRaw, sealedStored: s.sealedStored };
  }

  /** Bytes of memory the text takes (compressed blocks counted compressed). */
  get stored(): number {
    return this.store.stored;
  }

  /** A copy of one message (for tests and cold paths). */
  message(seq: number): Buffer {
    if (seq < this.firstSeq || seq >= this.nextSeq) throw new RangeError(`entry ${seq} is not in the ring`);
    const slot = seq % this.maxLines;
    return Buffer.from(this.bufferOf(seq).subarray(this.offsets[slot], this.offsets[slot] + this.lengths[slot]));
  }
}
