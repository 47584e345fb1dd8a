/** Counting the lines a receiver (rsyslog's omfile) writes to a growing file, as they come. */
import fs from 'node:fs';
import { sleep } from './children.js';

/** Counts the lines of a growing file that start with prefix (an empty prefix: every line), reading each byte once. */
export class LineCounter {
  private offset = 0;
  private atLineStart = true;
  private matched = 0;
  count = 0;
  private readonly buf = Buffer.alloc(1 << 20);

  constructor(
    private readonly file: string,
    private readonly prefix: Buffer = Buffer.alloc(0),
  ) {}

  poll(): number {
    let fd: number;
    try {
      fd = fs.openSync(this.file, 'r');
    } catch {
      return this.count; // not written yet
    }
    try {
      for (;;) {
        const n = fs.readSync(fd, this.buf, 0, this.buf.length, this.offset);
        if (n === 0) break;
        this.offset += n;
        for (let i = 0; i < n; i++) {
          const b = this.buf[i];
          if (b === 0x0a) {
            if (this.matched === this.prefix.length) this.count++;
            this.atLineStart = true;
            this.matched = 0;
          } else if (this.atLineStart) {
            if (this.matched < this.prefix.length && b === this.prefix[this.matched]) this.matched++;
            else if (this.matched < this.prefix.length) this.atLineStart = false;
          }
        }
      }
    } finally {
      fs.closeSync(fd);
    }
    return this.count;
  }

  /**
   * Polls (every 2 ms) until total lines are in, or none came for idleMs
   * (firstMs for the first one): the count, and when it was last seen to grow
   * (process.hrtime.bigint()). alive() throws if a process it depends on died.
   */
  async settle(total: number, since: bigint, idleMs: number, firstMs: number, alive: () => void): Promise<{ lines: number; lastAt: bigint }> {
    let lastAt = since;
    let last = -1;
    let progressAt = Date.now();
    for (;;) {
      alive();
      const n = this.poll();
      const now = process.hrtime.bigint();
      if (n !== last) {
        if (n > 0) lastAt = now;
        last = n;
        progressAt = Date.now();
      }
      if (n >= total || Date.now() - progressAt > (n === 0 ? firstMs : idleMs)) return { lines: n, lastAt };
      await sleep(2);
    }
  }
}
