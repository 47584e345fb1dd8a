/**
 * The entries the page holds: a ring of at most MAX_HELD (the oldest dropped),
 * with counts per source and per severity kept as entries come and go, so the
 * chart and the source list never scan for them.
 */

export const MAX_HELD = 100_000;
/** Source ids handed out before they are numbered again from what is held. */
const MAX_SOURCE_IDS = 2 * MAX_HELD;

/** What memlogd sends per entry (logread -o json's fields); anything else it sent is kept for the tooltip. */
export interface WireEntry {
  time: string;
  source: string;
  msg: string;
  seq?: number;
  pid?: number;
  uid?: number;
  gid?: number;
  severity?: number;
  facility?: number;
  lost?: { from?: number; to?: number; count?: number };
  daemon?: string;
  [field: string]: unknown;
}

/** An entry; a loss marker (entries the ring dropped before the page got them); a notice (skipped entries, a restarted daemon). */
export type Kind = 'entry' | 'lost' | 'notice';

export interface Held {
  kind: Kind;
  /** -1 when the entry has none (markers, an upstream memlogd). */
  seq: number;
  /** Milliseconds since the epoch, NaN when the time cannot be read. */
  ms: number;
  source: string;
  msg: string;
  /** 0-7, or -1 for none. */
  sev: number;
  wire: WireEntry;
}

export class Store {
  private buf: (Held | undefined)[] = new Array<Held | undefined>(MAX_HELD);
  // What the chart counts, in typed arrays beside buf: its scans of 100,000 entries stay short.
  private readonly msOf = new Float64Array(MAX_HELD);
  /** Source id of each entry; -1 for markers. */
  private readonly srcOf = new Int32Array(MAX_HELD);
  /** 0-7, 8 for none. */
  private readonly sevOf = new Uint8Array(MAX_HELD);
  private readonly sourceIds = new Map<string, number>();
  /** Source names by id. */
  readonly sourceNames: string[] = [];
  private start = 0;
  length = 0;
  /** Entries dropped from the front since the list last took them into account. */
  droppedSinceRender = 0;
  /** Changes whenever the contents do: the chart and list redraw only on a new version. */
  version = 0;
  readonly perSource = new Map<string, number>();
  /** Index 0-7 by severity, 8 for none. */
  readonly perSeverity = new Array<number>(9).fill(0);

  at(i: number): Held {
    return this.buf[(this.start + i) % MAX_HELD] as Held;
  }

  push(h: Held): void {
    if (this.length === MAX_HELD) {
      const old = this.at(0);
      this.count(old, -1);
      this.buf[this.start] = undefined;
      this.start = (this.start + 1) % MAX_HELD;
      this.length--;
      this.droppedSinceRender++;
    }
    const at = (this.start + this.length) % MAX_HELD;
    this.buf[at] = h;
    this.msOf[at] = h.ms;
    this.srcOf[at] = h.kind === 'entry' ? this.sourceId(h.source) : -1;
    this.sevOf[at] = h.sev < 0 ? 8 : h.sev;
    this.length++;
    this.count(h, 1);
    this.version++;
  }

  clear(): void {
    this.buf = new Array<Held | undefined>(MAX_HELD);
    this.start = 0;
    this.length = 0;
    this.droppedSinceRender = 0;
    this.perSource.clear();
    this.perSeverity.fill(0);
    this.version++;
  }

  private sourceId(name: string): number {
    let id = this.sourceIds.get(name);
    if (id === undefined) {
      // Names come and go (a new one per process, say): ids of names no longer held are given up now and then.
      if (this.sourceNames.length >= MAX_SOURCE_IDS) this.renumberSources();
      id = this.sourceNames.length;
      this.sourceIds.set(name, id);
      this.sourceNames.push(name);
    }
    return id;
  }

  private renumberSources(): void {
    this.sourceIds.clear();
    this.sourceNames.length = 0;
    for (let i = 0, j = this.start; i < this.length; i++, j = j + 1 === MAX_HELD ? 0 : j + 1) {
      const h = this.buf[j] as Held;
      if (h.kind === 'entry') this.srcOf[j] = this.sourceId(h.source);
    }
  }

  /** The earliest and latest entry times held, in ms (Infinity, -Infinity when none can be read). */
  timeRange(): [number, number] {
    let lo = Infinity;
    let hi = -Infinity;
    const ms = this.msOf;
    for (let i = 0, j = this.start; i < this.length; i++, j = j + 1 === MAX_HELD ? 0 : j + 1) {
      const v = ms[j];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    return [lo, hi];
  }

  /**
   * Entries per bucket of bucketMs from start (n buckets), per series: series[k][bucket].
   * seriesOf gives each entry's series: by source id, or (bySeverity) by severity 0-8; -1 leaves it out.
   */
  countBuckets(start: number, bucketMs: number, n: number, bySeverity: boolean, seriesOf: Int32Array, series: number): Float64Array[] {
    const out = Array.from({ length: series }, () => new Float64Array(n));
    const ms = this.msOf;
    const src = this.srcOf;
    const sev = this.sevOf;
    for (let i = 0, j = this.start; i < this.length; i++, j = j + 1 === MAX_HELD ? 0 : j + 1) {
      if (src[j] < 0) continue;
      const b = Math.floor((ms[j] - start) / bucketMs);
      if (!(b >= 0 && b < n)) continue;
      const k = seriesOf[bySeverity ? sev[j] : src[j]];
      if (k >= 0) out[k][b]++;
    }
    return out;
  }

  /** The seqs held, in order (the test hook). */
  seqs(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.length; i++) {
      const h = this.at(i);
      if (h.kind === 'entry' && h.seq >= 0) out.push(h.seq);
    }
    return out;
  }

  private count(h: Held, d: 1 | -1): void {
    if (h.kind !== 'entry') return;
    const n = (this.perSource.get(h.source) ?? 0) + d;
    if (n === 0) this.perSource.delete(h.source);
    else this.perSource.set(h.source, n);
    this.perSeverity[h.sev < 0 ? 8 : h.sev] += d;
  }
}
