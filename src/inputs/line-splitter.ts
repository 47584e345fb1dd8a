/**
 * Cuts a byte stream into lines for the ring, one source at a time.
 *
 * Complete lines are appended straight from the chunk they arrived in; only a
 * line split across reads is copied into a small carry buffer. A line longer
 * than max-line-len keeps its first max-line-len bytes and becomes an entry as
 * soon as that many bytes are in; the rest of it, up to the next newline, is
 * dropped. So the carry never exceeds max-line-len, whatever a writer sends.
 */
import type { Ring } from '../ring/ring.js';

const NEWLINE = 10;

export class LineSplitter {
  private carry: Buffer | undefined;
  private carryLen = 0;
  /** In the middle of an over-long line whose head is already stored. */
  private dropping = false;
  /** Lines cut to max-line-len, for the stream's statistics. */
  truncated = 0;
  lines = 0;

  constructor(
    private readonly ring: Ring,
    private readonly sourceId: number,
    private readonly maxLineLen: number,
  ) {}

  /** Adds the lines in chunk, all stamped with the time it was read. */
  push(chunk: Uint8Array, sec: number, nsec: number): void {
    const end = chunk.length;
    let pos = 0;
    if (this.dropping || this.carryLen > 0) {
      const nl = chunk.indexOf(NEWLINE);
      const stop = nl < 0 ? end : nl;
      if (!this.dropping) this.addToCarry(chunk, 0, stop, sec, nsec);
      if (nl < 0) return;
      if (this.dropping) this.dropping = false;
      else this.flushCarry(sec, nsec);
      pos = nl + 1;
    }
    const ring = this.ring;
    const max = this.maxLineLen;
    const id = this.sourceId;
    let lines = 0;
    for (;;) {
      const nl = chunk.indexOf(NEWLINE, pos);
      if (nl < 0) break;
      if (nl - pos > max) {
        ring.append(id, sec, nsec, chunk, pos, pos + max);
        this.truncated++;
      } else {
        ring.append(id, sec, nsec, chunk, pos, nl);
      }
      lines++;
      pos = nl + 1;
    }
    this.lines += lines;
    if (pos < end) this.addToCarry(chunk, pos, end, sec, nsec);
  }

  /** End of stream: a final fragment without a newline is still an entry. */
  end(sec: number, nsec: number): void {
    if (this.carryLen > 0 && !this.dropping) this.flushCarry(sec, nsec);
    this.carry = undefined;
    this.carryLen = 0;
    this.dropping = false;
  }

  private addToCarry(chunk: Uint8Array, start: number, end: number, sec: number, nsec: number): void {
    const room = this.maxLineLen - this.carryLen;
    const take = Math.min(room, end - start);
    if (take > 0) {
      this.carry ??= Buffer.allocUnsafe(this.maxLineLen);
      this.carry.set(chunk.subarray(start, start + take), this.carryLen);
      this.carryLen += take;
    }
    if (end - start > room) {
      // Over-long: store its head now, skip the rest until the next newline.
      this.truncated++;
      this.flushCarry(sec, nsec);
      this.dropping = true;
    }
  }

  private flushCarry(sec: number, nsec: number): void {
    this.ring.append(this.sourceId, sec, nsec, this.carry as Buffer, 0, this.carryLen);
    this.carryLen = 0;
    this.lines++;
  }
}
