/**
 * A filter (query mode 5) applied to ring entries by sequence number, without
 * making an object or a string of any of them: the source test is one array
 * read per entry (whether each source id matches is worked out once and kept
 * until the source table frees an id), the time test two reads of the time
 * runs, the severity test one accessor. The grep pattern is left to the scans
 * (grep-scan.ts), which search the arena itself.
 */
import { SourceMatcher } from '../filter/glob.js';
import { DEFAULT_SEVERITY } from '../filter/levels.js';
import type { Filter } from '../filter/entry-filter.js';
import { compilePattern, type Pattern } from '../filter/pattern.js';
import type { Instant } from '../filter/time-spec.js';
import { NONE, type Ring } from '../ring/ring.js';

/** An entry's severity; one without (an ordinary stream line) counts as info. */
export function severityOf(ring: Ring, seq: number): number {
  const severity = ring.severity(seq);
  return severity === NONE ? DEFAULT_SEVERITY : severity;
}

const UNKNOWN = 0;
const YES = 1;
const NO = 2;

export class RingFilter {
  readonly pattern: Pattern | undefined;
  private readonly matcher: SourceMatcher;
  private readonly allSources: boolean;
  /** Per source id: UNKNOWN, YES or NO. */
  private sourceOk = new Uint8Array(64);
  private generation = -1;
  private readonly since: Instant | undefined;
  private readonly until: Instant | undefined;
  private readonly priority: number | undefined;

  constructor(
    private readonly ring: Ring,
    readonly filter: Filter,
  ) {
    this.matcher = new SourceMatcher(filter.sources, filter.exclude);
    this.allSources = this.matcher.all;
    this.since = filter.since;
    this.until = filter.until;
    this.priority = filter.priority;
    // An empty pattern matches every message: no pattern at all.
    this.pattern = filter.grep === undefined || filter.grep === '' ? undefined : compilePattern(filter.grep, filter.ignoreCase === true);
  }

  /** Forgets what it knew of source ids if the table has freed one since (an id may now name another source). */
  refresh(): void {
    const sources = this.ring.sources;
    if (sources.generation !== this.generation) {
      this.sourceOk.fill(UNKNOWN);
      this.generation = sources.generation;
    }
  }

  /** Whether entry seq passes everything but the pattern. Call refresh() before a run of these. */
  admits(seq: number): boolean {
    const ring = this.ring;
    if (!this.allSources) {
      const id = ring.sourceId(seq);
      let ok = id < this.sourceOk.length ? this.sourceOk[id] : UNKNOWN;
      if (ok === UNKNOWN) ok = this.learnSource(id);
      if (ok === NO) return false;
    }
    if (this.since !== undefined || this.until !== undefined) {
      const sec = ring.sec(seq);
      const nsec = ring.nsec(seq);
      const s = this.since;
      if (s !== undefined && (sec < s.sec || (sec === s.sec && nsec < s.nsec))) return false;
      const u = this.until;
      if (u !== undefined && (sec > u.sec || (sec === u.sec && nsec > u.nsec))) return false;
    }
    if (this.priority !== undefined && severityOf(ring, seq) > this.priority) return false;
    return true;
  }

  private learnSource(id: number): number {
    if (id >= this.sourceOk.length) {
      let size = this.sourceOk.length * 2;
      while (size <= id) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.sourceOk);
      this.sourceOk = grown;
    }
    const ok = this.matcher.matches(this.ring.sources.get(id).name) ? YES : NO;
    this.sourceOk[id] = ok;
    return ok;
  }
}

/** Sequence numbers of matching entries found by one scan, and entries skipped for taking too long to match. */
export class Matches {
  readonly seqs: Float64Array;
  count = 0;
  /** Entries skipped since last reported. */
  skipped = 0;

  constructor(capacity: number) {
    this.seqs = new Float64Array(capacity);
  }

  get full(): boolean {
    return this.count === this.seqs.length;
  }

  push(seq: number): void {
    this.seqs[this.count++] = seq;
  }
}
