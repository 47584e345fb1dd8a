/**
 * Entries read from memlogd and not yet handed to the sender, in order. An
 * array with a moving head: taking a batch is one slice, not a shift per entry.
 */
import type { ForwardEntry } from './entry.js';

export class EntryQueue {
  private items: ForwardEntry[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(e: ForwardEntry): void {
    this.items.push(e);
  }

  /** The next n at most, in order. */
  take(n: number): ForwardEntry[] {
    const batch = this.items.slice(this.head, this.head + n);
    this.head += batch.length;
    if (this.head === this.items.length) this.clear();
    else if (this.head > 65536 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return batch;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}
