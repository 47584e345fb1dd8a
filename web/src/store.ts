/**
 * The entries the page holds: a ring of at most MAX_HELD (the oldest dropped),
 * with counts per source and per severity kept as entries come and go, so the
 * chart and the source list never scan for them.
 */

export const MAX_HELD = 100_000;

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
    this.buf[(this.start + this.length) % MAX_HELD] = h;
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
