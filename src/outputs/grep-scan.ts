/**
 * Scans of a range of ring entries for those a filter admits, each stopping
 * at a deadline so that no client's scan holds up ingestion or the others
 * (the caller resumes it on a later turn from where it stopped).
 *
 * How the pattern is found:
 * - no pattern: entry by entry, the filter's array reads only;
 * - a plain literal: Buffer.indexOf over the ring's text, which holds the
 *   messages back to back in sequence order, a run of contiguous entries (at
 *   most CHUNK_BYTES, within one block of a compressed ring) at a time; a hit is mapped back to its entry by binary
 *   search over the offsets, and must lie inside that one message. What is
 *   searched first is the six bytes of the literal that start with its
 *   rarest byte (counted in a sample of the arena): Node searches a needle
 *   that short with memchr on its first byte, so a rare first byte makes the
 *   scan run at memchr's speed; a candidate is then checked whole;
 * - a plain ASCII literal ignoring case: the same runs read as latin1 (one
 *   character per byte, so a string index is an arena offset) and searched by
 *   a case-insensitive regular expression of the literal, which cannot
 *   backtrack; ASCII bytes never occur inside a multi-byte UTF-8 sequence, so
 *   the hits are those of the decoded text;
 * - any other regular expression: regexp-scan.ts, in a separate context with
 *   a hard timeout.
 */
import type { Ring } from '../ring/ring.js';
import { entryAt } from './ring-search.js';
import type { Matches, RingFilter } from './ring-filter.js';
import { RegexpScan } from './regexp-scan.js';

export interface Scan {
  /**
   * Scans entries [from, to) and adds those that match to out, until the end,
   * out is full, or performance.now() passes deadline (checked between
   * pieces of work of well under a millisecond). Returns the first sequence
   * number not scanned.
   */
  scan(from: number, to: number, out: Matches, deadline: number): number;
}

/** Bytes of arena searched between two looks at the clock. */
const CHUNK_BYTES = 1 << 20;
/** Entries tested between two looks at the clock. */
const CHUNK_ENTRIES = 8192;
/** The length of the part of a literal searched first (Node searches needles under 7 bytes with memchr). */
const NEEDLE = 6;
/** Bytes of the arena sampled to choose the needle, in SAMPLES places. */
const SAMPLE_BYTES = 256 * 1024;
const SAMPLES = 8;
/** Needles tried on the sample. */
const NEEDLE_CANDIDATES = 16;
/** What a needle hit costs next to one stop of memchr (measured: a return to JS and a compare). */
const HIT_COST = 6;

export function makeScan(ring: Ring, filter: RingFilter): Scan {
  const pattern = filter.pattern;
  if (!pattern) return new PlainScan(filter);
  if (pattern.literal) return new LiteralScan(ring, filter, pattern.literal);
  if (pattern.asciiFoldedLiteral) return new FoldedScan(ring, filter, new RegExp(pattern.source, 'gi'), pattern.asciiFoldedLiteral.length);
  return new RegexpScan(ring, filter, pattern.regexp);
}

class PlainScan implements Scan {
  constructor(private readonly filter: RingFilter) {}

  scan(from: number, to: number, out: Matches, deadline: number): number {
    const filter = this.filter;
    filter.refresh();
    let seq = from;
    while (seq < to && !out.full && performance.now() < deadline) {
      const end = Math.min(to, seq + CHUNK_ENTRIES);
      for (; seq < end && !out.full; seq++) if (filter.admits(seq)) out.push(seq);
    }
    return seq;
  }
}

/** A scan through the arena, run of contiguous entries by run; subclasses find the next hit in one run. */
abstract class ArenaScan implements Scan {
  constructor(
    protected readonly ring: Ring,
    protected readonly filter: RingFilter,
    /** Length of a hit in bytes (the literal's). */
    private readonly hitLength: number,
  ) {}

  /** Position of the first hit at or after byte pos of window (an arena slice), or -1. */
  protected abstract find(window: Buffer, pos: number): number;

  /** Called once per run before find(). */
  protected abstract begin(window: Buffer): void;

  /** Called once per scan with its range. */
  protected prepare(_from: number, _to: number): void {}

  scan(from: number, to: number, out: Matches, deadline: number): number {
    this.filter.refresh();
    if (from < to) this.prepare(from, to);
    let seq = from;
    while (seq < to && !out.full && performance.now() < deadline) {
      const end = this.ring.runEnd(seq, to, CHUNK_BYTES);
      seq = this.scanRun(seq, end, out);
    }
    return seq;
  }

  /** Scans entries [from, to), which lie back to back in one buffer; returns the first not scanned. */
  private scanRun(from: number, to: number, out: Matches): number {
    const ring = this.ring;
    // The text is read (a compressed block opened) only from the first entry the other filters admit.
    while (from < to && !this.filter.admits(from)) from++;
    if (from === to) return to;
    const base = ring.offset(from);
    const window = ring.bufferOf(from).subarray(base, ring.offset(to - 1) + ring.length(to - 1));
    this.begin(window);
    let pos = 0;
    for (;;) {
      const hit = this.find(window, pos);
      if (hit < 0) return to;
      const seq = entryAt(ring, from, to, base + hit);
      const start = ring.offset(seq) - base;
      // A hit that runs past its message's end is no hit, and no later one in that message can fit either.
      if (hit + this.hitLength <= start + ring.length(seq) && this.filter.admits(seq)) {
        out.push(seq);
        if (out.full) return seq + 1;
      }
      if (seq + 1 >= to) return to;
      pos = ring.offset(seq + 1) - base;
    }
  }
}

class LiteralScan extends ArenaScan {
  private needleAt = -1;
  private needle: Buffer = Buffer.alloc(0);

  constructor(
    ring: Ring,
    filter: RingFilter,
    private readonly literal: Buffer,
  ) {
    super(ring, filter, literal.length);
  }

  protected begin(): void {}

  protected override prepare(from: number, to: number): void {
    if (this.needleAt >= 0) return;
    // Chosen once, on samples from across the first range scanned: the text of one ring does not change its letters much.
    const ring = this.ring;
    const parts: Buffer[] = [];
    this.filter.refresh();
    for (let q = 0; q < SAMPLES; q++) {
      // From entries the other filters admit only: a sample must not open a block the scan skips.
      let seq = from + Math.floor(((to - from) * q) / SAMPLES);
      const stop = from + Math.floor(((to - from) * (q + 1)) / SAMPLES);
      while (seq < stop && !this.filter.admits(seq)) seq++;
      if (seq >= stop) continue;
      const last = ring.runEnd(seq, to, SAMPLE_BYTES / SAMPLES) - 1;
      // Copied: the next bufferOf may reuse the buffer (a decompressed block).
      parts.push(Buffer.from(ring.bufferOf(seq).subarray(ring.offset(seq), ring.offset(last) + ring.length(last))));
    }
    const sample = Buffer.concat(parts);
    const lit = this.literal;
    const len = Math.min(NEEDLE, lit.length);
    const counts = new Uint32Array(256);
    for (let i = 0; i < sample.length; i++) counts[sample[i]]++;
    // The candidates with the rarest first bytes, then the one that costs least: memchr stops at each
    // occurrence of the first byte (cheap), and each occurrence of the whole needle comes back here (dear).
    const starts = Array.from({ length: lit.length - len + 1 }, (_, k) => k)
      .sort((a, b) => counts[lit[a]] - counts[lit[b]])
      .slice(0, NEEDLE_CANDIDATES);
    let best = starts[0];
    let bestCost = Infinity;
    for (const k of starts) {
      const needle = lit.subarray(k, k + len);
      let hits = 0;
      for (let p = sample.indexOf(needle); p >= 0; p = sample.indexOf(needle, p + 1)) hits++;
      const cost = counts[lit[k]] + HIT_COST * hits;
      if (cost < bestCost) {
        best = k;
        bestCost = cost;
      }
    }
    this.needleAt = best;
    this.needle = lit.subarray(best, best + len);
  }

  protected find(window: Buffer, pos: number): number {
    const lit = this.literal;
    const at = this.needleAt;
    let from = pos + at;
    for (;;) {
      const n = window.indexOf(this.needle, from);
      if (n < 0) return -1;
      const start = n - at;
      if (this.needle.length === lit.length || (start + lit.length <= window.length && window.compare(lit, 0, lit.length, start, start + lit.length) === 0)) {
        return start;
      }
      from = n + 1;
    }
  }
}

class FoldedScan extends ArenaScan {
  private text = '';

  constructor(
    ring: Ring,
    filter: RingFilter,
    private readonly regexp: RegExp,
    length: number,
  ) {
    super(ring, filter, length);
  }

  protected begin(window: Buffer): void {
    this.text = window.toString('latin1');
  }

  protected find(_window: Buffer, pos: number): number {
    this.regexp.lastIndex = pos;
    const m = this.regexp.exec(this.text);
    return m ? m.index : -1;
  }
}
