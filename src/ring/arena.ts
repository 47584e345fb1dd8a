/**
 * The raw text store: one preallocated byte arena holding the entries' bytes
 * back to back, wrapping at its end; the oldest entries are dropped to make
 * room. Rings under MIN_COMPRESSED bytes, and -compress-ring=false, use it.
 */
import { contiguousEnd, type HeldEntries, type TextStore } from './text-store.js';

export class Arena implements TextStore {
  readonly capacity: number;
  private readonly arena: Buffer;
  /** Position where the next entry goes. */
  private head = 0;

  constructor(
    capacity: number,
    private readonly held: HeldEntries,
  ) {
    this.capacity = capacity;
    // allocUnsafeSlow: a dedicated, untouched allocation; pages become resident only as they fill.
    this.arena = Buffer.allocUnsafeSlow(capacity);
  }

  get stored(): number {
    const held = this.held;
    if (held.first === held.next) return 0;
    const tail = held.start(held.first);
    return tail < this.head ? this.head - tail : this.capacity - tail + this.head;
  }

  get maxOffset(): number {
    return this.capacity - 1;
  }

  get headBuffer(): Buffer {
    return this.arena;
  }

  reserve(len: number): number {
    const held = this.held;
    for (;;) {
      if (held.next === held.first) {
        if (this.head + len > this.capacity) this.head = 0;
        return this.head;
      }
      const tail = held.start(held.first);
      if (tail < this.head) {
        // Held bytes are [tail, head): the free space is after head, then before tail.
        if (this.head + len <= this.capacity) return this.head;
        this.head = 0;
      } else {
        // Held bytes wrap (or fill the arena): the only free space is [head, tail).
        if (this.head + len <= tail) return this.head;
        held.dropOldest();
      }
    }
  }

  advance(end: number): void {
    this.head = end;
  }

  bufferOf(): Buffer {
    return this.arena;
  }

  runEnd(from: number, to: number, maxBytes: number): number {
    return contiguousEnd(this.held, from, to, maxBytes);
  }

  released(): void {}
}
