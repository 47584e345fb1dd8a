/**
 * The compressed text store. Entries' bytes go back to back into an open
 * block; once it holds about `target` bytes it is sealed: compressed with
 * zstd level 1 into a buffer of its own (kept raw if it does not shrink by
 * an eighth). The budget counts sealed blocks as stored plus the open
 * block's raw bytes; when it is spent, the oldest block goes, with every
 * entry still in it.
 *
 * Readers get a block's bytes from a small cache of decompressed blocks. The
 * block just sealed enters that cache as it is, so that followers, who read
 * the newest entries, never wait for a decompression; dumps and filtered
 * queries decompress each block once as they pass through it. What the ring
 * keeps per entry (sequence, time, source, severity, offset) stays outside
 * the blocks, so that -n, -since and -source skip blocks without opening them.
 */
import { contiguousEnd, type HeldEntries, type TextStore } from './text-store.js';
import { BlockCodec } from './zstd.js';

/** Raw bytes per block: log text compresses 6-7x at this size with zstd level 1 (docs/PERFORMANCE.md). */
export const BLOCK_BYTES = 64 * 1024;
/** Rings with less text than this stay raw: a block of a sixteenth of it would not compress. */
export const MIN_COMPRESSED = 64 * 1024;
/** Decompressed blocks kept for readers. */
const CACHE_BLOCKS = 4;
/** A sealed block is stored compressed only if that saves at least 1/KEEP_RAW_BELOW of it. */
const KEEP_RAW_BELOW = 8;

export class BlockStore implements TextStore {
  readonly capacity: number;
  /** Raw bytes at which the open block is sealed. */
  private readonly target: number;
  /** Size of the open block's buffer and the cache's: room for target bytes, or one entry of the most room. */
  private readonly bufBytes: number;
  private readonly codec = new BlockCodec();
  /** Where a block is compressed before it is copied into a buffer of its size. */
  private readonly scratch: Buffer;

  // Sealed blocks, oldest first, in a circular table grown on demand. Block ids count up for the
  // ring's life: block id sits at index (oldestIndex + id - oldestId) % table size.
  private firstSeqs = new Float64Array(64);
  private datas: (Buffer | undefined)[] = new Array<Buffer | undefined>(64);
  private rawLens = new Uint32Array(64);
  private packed = new Uint8Array(64);
  private oldestIndex = 0;
  private oldestId = 0;
  private sealedCount = 0;
  private sealedBytes = 0;

  private open: Buffer;
  private openUsed = 0;
  private openFirst = 0;

  private readonly cacheIds = new Float64Array(CACHE_BLOCKS).fill(-1);
  private readonly cacheBufs: Buffer[] = [];
  private readonly cacheUsed = new Float64Array(CACHE_BLOCKS);
  private uses = 0;
  /** The block the last lookup found: readers go through entries in order. */
  private cursor = -1;

  /** Blocks sealed, compressed, and decompressed for readers, for the life of the ring. */
  sealed = 0;
  decompressed = 0;
  /** Raw bytes sealed, and what they took once stored. */
  sealedRaw = 0;
  sealedStored = 0;

  constructor(
    capacity: number,
    blockBytes: number,
    maxRoom: number,
    /** The longest meta fragment an entry may have. */
    private readonly maxMeta: number,
    private readonly held: HeldEntries,
  ) {
    this.capacity = capacity;
    this.target = Math.max(1, Math.min(blockBytes, Math.floor(capacity / 16)));
    this.bufBytes = Math.max(this.target, maxRoom);
    this.scratch = Buffer.allocUnsafeSlow(this.codec.bound(this.bufBytes));
    this.open = Buffer.allocUnsafeSlow(this.bufBytes);
  }

  get stored(): number {
    return this.sealedBytes + this.openUsed;
  }

  /** A message starts before target (a block is sealed before it would pass it), or just after the meta of a block's only entry. */
  get maxOffset(): number {
    return Math.max(this.target - 1, this.maxMeta);
  }

  get headBuffer(): Buffer {
    return this.open;
  }

  reserve(room: number, nextSeq: number): number {
    if (this.openUsed > 0 && this.openUsed + room > this.target) this.seal(nextSeq);
    if (this.openUsed === 0) this.openFirst = nextSeq;
    while (this.sealedCount > 0 && this.sealedBytes + this.openUsed + room > this.capacity) this.dropOldestBlock();
    return this.openUsed;
  }

  advance(end: number): void {
    this.openUsed = end;
  }

  bufferOf(seq: number): Buffer {
    if (seq >= this.openFirst) return this.open;
    const id = this.blockOf(seq);
    const i = this.indexOf(id);
    if (this.packed[i] === 0) return this.datas[i] as Buffer;
    return this.cached(id, i);
  }

  runEnd(from: number, to: number, maxBytes: number): number {
    // Entries lie back to back within one block only.
    const end = from >= this.openFirst ? to : Math.min(to, this.endOf(this.blockOf(from)));
    return contiguousEnd(this.held, from, end, maxBytes);
  }

  released(first: number): void {
    while (this.sealedCount > 0 && this.endOf(this.oldestId) <= first) this.freeOldest();
  }

  /** Compresses the open block into a sealed one, and starts a new open block at entry nextSeq. */
  private seal(nextSeq: number): void {
    const used = this.openUsed;
    const raw = this.open.subarray(0, used);
    const n = this.codec.compress(this.scratch, raw);
    const pack = n <= used - used / KEEP_RAW_BELOW;
    const data = Buffer.allocUnsafeSlow(pack ? n : used);
    (pack ? this.scratch : this.open).copy(data, 0, 0, data.length);
    const id = this.oldestId + this.sealedCount;
    if (this.sealedCount === this.firstSeqs.length) this.grow();
    const i = this.indexOf(id);
    this.firstSeqs[i] = this.openFirst;
    this.datas[i] = data;
    this.rawLens[i] = used;
    this.packed[i] = pack ? 1 : 0;
    this.sealedCount++;
    this.sealedBytes += data.length;
    this.sealed++;
    this.sealedRaw += used;
    this.sealedStored += data.length;
    if (pack) {
      // The block's raw bytes are at hand: cache them as if decompressed, and take the cache's
      // least used buffer as the new open block.
      const slot = this.leastUsed();
      const spare = this.cacheBufs[slot];
      this.cacheBufs[slot] = this.open;
      this.cacheIds[slot] = id;
      this.cacheUsed[slot] = ++this.uses;
      this.open = spare ?? Buffer.allocUnsafeSlow(this.bufBytes);
    }
    this.openUsed = 0;
    this.openFirst = nextSeq;
    // The ring may have dropped every entry of the block already (by count).
    this.released(this.held.first);
  }

  /** Drops the entries still held in the oldest block; released() then frees it. */
  private dropOldestBlock(): void {
    const end = this.endOf(this.oldestId);
    const before = this.sealedCount;
    while (this.held.first < end) this.held.dropOldest();
    if (this.sealedCount === before) this.freeOldest();
  }

  private freeOldest(): void {
    const i = this.oldestIndex;
    this.sealedBytes -= (this.datas[i] as Buffer).length;
    this.datas[i] = undefined;
    for (let k = 0; k < CACHE_BLOCKS; k++) if (this.cacheIds[k] === this.oldestId) this.cacheIds[k] = -1;
    this.oldestIndex = (i + 1) % this.firstSeqs.length;
    this.oldestId++;
    this.sealedCount--;
  }

  private indexOf(id: number): number {
    return (this.oldestIndex + id - this.oldestId) % this.firstSeqs.length;
  }

  /** One past the last sequence number in block id. */
  private endOf(id: number): number {
    const nextId = id + 1;
    return nextId === this.oldestId + this.sealedCount ? this.openFirst : this.firstSeqs[this.indexOf(nextId)];
  }

  /** The sealed block holding seq (held, and older than the open block). */
  private blockOf(seq: number): number {
    const c = this.cursor;
    if (c >= this.oldestId && c < this.oldestId + this.sealedCount && this.firstSeqs[this.indexOf(c)] <= seq) {
      if (seq < this.endOf(c)) return c;
      if (seq < this.endOf(c + 1)) return (this.cursor = c + 1);
    }
    let lo = this.oldestId;
    let hi = this.oldestId + this.sealedCount - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.firstSeqs[this.indexOf(mid)] <= seq) lo = mid;
      else hi = mid - 1;
    }
    return (this.cursor = lo);
  }

  /** Block id's raw bytes, from the cache or decompressed into it. */
  private cached(id: number, i: number): Buffer {
    for (let k = 0; k < CACHE_BLOCKS; k++) {
      if (this.cacheIds[k] === id) {
        this.cacheUsed[k] = ++this.uses;
        return this.cacheBufs[k];
      }
    }
    const slot = this.leastUsed();
    let buf = this.cacheBufs[slot];
    if (buf === undefined) buf = this.cacheBufs[slot] = Buffer.allocUnsafeSlow(this.bufBytes);
    const n = this.codec.decompress(buf, this.datas[i] as Buffer);
    if (n !== this.rawLens[i]) throw new Error(`ring block ${id} decompressed to ${n} bytes, not ${this.rawLens[i]}`);
    this.cacheIds[slot] = id;
    this.cacheUsed[slot] = ++this.uses;
    this.decompressed++;
    return buf;
  }

  private leastUsed(): number {
    let best = 0;
    for (let k = 1; k < CACHE_BLOCKS; k++) {
      if (this.cacheIds[k] === -1 && this.cacheIds[best] !== -1) best = k;
      else if ((this.cacheIds[k] === -1) === (this.cacheIds[best] === -1) && this.cacheUsed[k] < this.cacheUsed[best]) best = k;
    }
    return best;
  }

  private grow(): void {
    const size = this.firstSeqs.length * 2;
    const firstSeqs = new Float64Array(size);
    const datas = new Array<Buffer | undefined>(size);
    const rawLens = new Uint32Array(size);
    const packed = new Uint8Array(size);
    for (let k = 0; k < this.sealedCount; k++) {
      const i = (this.oldestIndex + k) % this.firstSeqs.length;
      firstSeqs[k] = this.firstSeqs[i];
      datas[k] = this.datas[i];
      rawLens[k] = this.rawLens[i];
      packed[k] = this.packed[i];
    }
    this.firstSeqs = firstSeqs;
    this.datas = datas;
    this.rawLens = rawLens;
    this.packed = packed;
    this.oldestIndex = 0;
  }
}
