/**
 * A filtered reader (query mode 5): a cursor like any reader's, and a scan
 * that finds the entries its filter admits, so that only those are encoded
 * and written: a filtered follower with rare matches costs the network
 * nothing in between.
 *
 * Its dump part is [start, dumpEnd) (dumpEnd: the newest entry when it
 * connected), narrowed to the time window by binary search; a follower goes
 * on from dumpEnd. With `last: n`, the dump part is first scanned backwards,
 * a chunk at a time, until the last n matches are found; those are then sent
 * in order.
 *
 * Scanning is budgeted: all filtered readers together scan for at most
 * SCAN_MS_PER_TURN per turn of the event loop, then carry on the next turn.
 */
import type net from 'node:net';
import type { Ring } from '../ring/ring.js';
import type { EntryEncoder } from './entry-encoder.js';
import { makeScan, type Scan } from './grep-scan.js';
import { FOREVER, Reader } from './reader.js';
import { Matches, RingFilter } from './ring-filter.js';
import { endAtOrBefore, firstAtOrAfter } from './ring-search.js';
import type { FilterRequest } from '../protocol/filter-request.js';
import { MODE_DUMP } from '../protocol/wire.js';

/** Scanning time for all filtered readers together per turn, in ms. */
export const SCAN_MS_PER_TURN = 4;
/** Matches collected by one scan before they are written. */
const MATCHES_PER_STEP = 2048;
/** Entries scanned per backward step of `last`. */
const LAST_CHUNK = 2048;

export class FilteredReader extends Reader {
  readonly filter: RingFilter;
  readonly scan: Scan;
  readonly matches = new Matches(MATCHES_PER_STEP);
  /** Where the dump part ends (the ring's next when the reader connected). */
  readonly dumpEnd: number;
  /** The dump part's time window in sequence numbers: nothing before windowStart or from windowEnd on is looked at. */
  private readonly windowStart: number;
  private readonly windowEnd: number;
  /** search: looking for the last n matches, backwards; send: sending them; scan: scanning forwards. */
  phase: 'search' | 'send' | 'scan' = 'scan';
  /** `last`: matches wanted, found so far (newest first), and where the backward search stands. */
  private lastWanted = 0;
  private lastFound: number[] = [];
  /** `last`: the matches of the chunk being scanned, oldest first. */
  private chunkMatches: number[] = [];
  /** The oldest entry the search looks at; the chunk [chunkLow, chunkEnd) is being scanned forwards from chunkPos. */
  private lastLow = 0;
  private chunkLow = 0;
  private chunkEnd = 0;
  private chunkPos = 0;
  /** `last`: the matches found, oldest first, and the next to send. */
  private lastList: number[] = [];
  private lastSending = 0;
  constructor(socket: net.Socket, ring: Ring, request: FilterRequest, start: number) {
    super(socket, start, request.mode === MODE_DUMP ? ring.next : FOREVER);
    this.dumpEnd = ring.next;
    this.filter = new RingFilter(ring, request.filter);
    this.scan = makeScan(ring, this.filter);
    const f = request.filter;
    this.windowStart = f.since ? firstAtOrAfter(ring, f.since) : 0;
    this.windowEnd = Math.min(this.dumpEnd, f.until ? endAtOrBefore(ring, f.until) : this.dumpEnd);
    if (request.last === 0) {
      this.pos = Math.max(start, this.dumpEnd);
    } else if (request.last !== undefined) {
      this.phase = 'search';
      this.lastWanted = request.last;
      this.lastLow = Math.max(start, this.windowStart);
      this.chunkLow = this.chunkEnd = this.chunkPos = Math.max(this.lastLow, this.windowEnd);
    }
  }

  /** Whether it has anything left to do now. */
  behind(ring: Ring): boolean {
    if (this.done || this.blocked) return false;
    if (this.phase !== 'scan' || this.pos < this.dumpEnd) return true;
    return this.following ? this.pos < ring.next : true; // a finished dump still has to close
  }

  /** Whether the dump part is over (what comes now is followed). */
  get dumped(): boolean {
    return this.phase === 'scan' && this.pos >= this.dumpEnd;
  }

  /**
   * Scans on until the deadline, out of room for matches, or the end of what
   * there is; the matches are left in this.matches for the caller to write.
   * The caller has reported any loss first (pos before the ring's first).
   */
  advance(ring: Ring, deadline: number): void {
    if (this.phase === 'search') return this.searchLast(ring, deadline);
    if (this.phase === 'send') return this.sendLast(ring);
    if (this.pos < this.dumpEnd) {
      if (this.pos < this.windowStart) this.pos = this.windowStart;
      if (this.pos < this.windowEnd) this.pos = this.scan.scan(this.pos, this.windowEnd, this.matches, deadline);
      if (this.pos >= this.windowEnd) this.pos = Math.max(this.pos, this.dumpEnd);
      return;
    }
    if (this.following && this.pos < ring.next) this.pos = this.scan.scan(this.pos, ring.next, this.matches, deadline);
  }

  /** Scans chunks of the dump part from the newest back, each forwards, keeping matches newest first. */
  private searchLast(ring: Ring, deadline: number): void {
    const m = this.matches;
    for (;;) {
      // Entries that left the ring while searching are gone: the search stops there (the loss is reported).
      this.chunkPos = Math.max(this.chunkPos, ring.first);
      if (this.chunkPos >= this.chunkEnd) {
        const chunk = this.chunkMatches;
        for (let i = chunk.length - 1; i >= 0 && this.lastFound.length < this.lastWanted; i--) this.lastFound.push(chunk[i]);
        this.chunkMatches = [];
        const low = Math.max(this.lastLow, ring.first);
        const complete = this.lastFound.length >= this.lastWanted;
        if (complete || this.chunkLow <= low) {
          this.lastList = this.lastFound.reverse();
          this.lastFound = [];
          this.phase = 'send';
          // All n found: they are what is sent. Otherwise all of the dump part was searched, and any of it gone is lost.
          this.pos = complete ? this.lastList[0] : this.lastLow;
          return;
        }
        this.chunkEnd = this.chunkLow;
        this.chunkLow = Math.max(low, this.chunkEnd - LAST_CHUNK);
        this.chunkPos = this.chunkLow;
      }
      if (performance.now() >= deadline) return;
      this.chunkPos = this.scan.scan(this.chunkPos, this.chunkEnd, m, deadline);
      // Kept aside, not in this.matches: the caller writes out whatever is there, and a scan
      // stopped by the deadline or a full list has not finished its chunk.
      for (let i = 0; i < m.count; i++) this.chunkMatches.push(m.seqs[i]);
      m.count = 0;
    }
  }

  /** Puts the next of the last n matches into this.matches (those that left the ring since are gone: reported as lost). */
  private sendLast(ring: Ring): void {
    const list = this.lastList;
    const m = this.matches;
    let i = this.lastSending;
    while (i < list.length && list[i] < ring.first) i++;
    while (i < list.length && !m.full) m.push(list[i++]);
    this.lastSending = i;
    if (i < list.length) {
      this.pos = list[i];
      return;
    }
    this.phase = 'scan';
    this.lastList = [];
    this.pos = Math.max(this.pos, this.dumpEnd);
  }
}

/** Encodes a reader's matches (all of them, in as many batches as needed) and writes them; returns the bytes written. */
export function writeMatches(reader: FilteredReader, encoder: EntryEncoder): number {
  const m = reader.matches;
  let bytes = 0;
  for (let i = 0; i < m.count; ) {
    const encoded = encoder.encodeSeqs(m.seqs, i, m.count);
    reader.socket.write(encoded.buf);
    bytes += encoded.buf.length;
    reader.sent += encoded.next - i;
    i = encoded.next;
  }
  m.count = 0;
  return bytes;
}
