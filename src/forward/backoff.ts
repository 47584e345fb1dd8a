/**
 * Waits between reconnects: doubling from min to max, each wait drawn at
 * random from its upper half ("equal jitter"), so that many forwarders cut
 * off by one outage do not all come back in the same instant.
 */
export class Backoff {
  private next: number;

  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {
    this.next = minMs;
  }

  /** The wait before the next try; at least the receiver's own ask, when it made one (Retry-After). */
  take(atLeastMs = 0): number {
    const base = this.next;
    this.next = Math.min(this.next * 2, this.maxMs);
    return Math.max(Math.round(base / 2 + (this.random() * base) / 2), Math.min(atLeastMs, 10 * this.maxMs));
  }

  reset(): void {
    this.next = this.minMs;
  }
}
