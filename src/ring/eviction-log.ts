/**
 * Who the ring's dropped entries belonged to, as runs of one source (a flood
 * from one source is one run), so that a reader that lost entries can be
 * told whose. A bounded log: each run holds a reference to its source, so
 * the source's name outlives its entries for as long as the run is kept.
 */
import type { SourceTable } from './sources.js';

/** Runs of dropped entries remembered for loss reports. */
const EVICTION_RUNS = 4096;

export class EvictionLog {
  private readonly runSource = new Int32Array(EVICTION_RUNS);
  private readonly runFirst = new Float64Array(EVICTION_RUNS);
  private readonly runCount = new Float64Array(EVICTION_RUNS);
  private runHead = 0; // index of the oldest run
  private runs = 0;

  constructor(private readonly sources: SourceTable) {}

  /** The entry seq of sourceId left the ring (entries leave in seq order). */
  add(sourceId: number, seq: number): void {
    const last = (this.runHead + this.runs - 1) % EVICTION_RUNS;
    if (this.runs > 0 && this.runSource[last] === sourceId) {
      this.runCount[last]++;
      return;
    }
    if (this.runs === EVICTION_RUNS) {
      this.sources.release(this.runSource[this.runHead]);
      this.runHead = (this.runHead + 1) % EVICTION_RUNS;
      this.runs--;
    }
    const i = (this.runHead + this.runs) % EVICTION_RUNS;
    this.runSource[i] = sourceId;
    this.runFirst[i] = seq;
    this.runCount[i] = 1;
    this.runs++;
    this.sources.retain(sourceId); // held by the run
  }

  /**
   * Whose entries were dropped between sequence numbers from (inclusive) and
   * to (exclusive): counts per source name, and how many are too old to say.
   */
  dropped(from: number, to: number): { bySource: Map<string, number>; unknown: number } {
    const bySource = new Map<string, number>();
    let known = 0;
    for (let k = 0; k < this.runs; k++) {
      const i = (this.runHead + k) % EVICTION_RUNS;
      const start = Math.max(from, this.runFirst[i]);
      const end = Math.min(to, this.runFirst[i] + this.runCount[i]);
      if (end <= start) continue;
      const name = this.sources.get(this.runSource[i]).name;
      bySource.set(name, (bySource.get(name) ?? 0) + end - start);
      known += end - start;
    }
    return { bySource, unknown: to - from - known };
  }
}
