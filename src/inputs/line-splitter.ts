/**
 * Cuts a byte stream into lines for the ring, one source at a time.
 *
 * Complete lines are appended straight from the chunk they arrived in; only a
 * line split across reads is copied into a small carry buffer. A line longer
 * than max-line-len keeps its first max-line-len bytes and becomes an entry as
 * soon as that many bytes are in; the rest of it, up to the next newline, is
 * dropped. So the carry never exceeds max-line-len, whatever a writer sends.
 *
 * A line ending in CR LF loses its CR, as upstream's (Go's bufio ReadLine):
 * a program written for a terminal must not put raw carriage returns into
 * every entry. A CR anywhere else is part of the message.
 *
 * Three things take each line the slow way (store()), off by default: a rate
 * limit for the stream's source, reading a leading `<N>` priority
 * (sd-daemon(3)) into the entry's severity, and a severity and facility set
 * from outside for the lines that follow (setPriority: the kernel log's
 * records carry theirs).
 */
import { NONE, type Ring } from '../ring/ring.js';
import type { SourceLimit } from './rate-limit.js';
import { priorityPrefix } from './priority-prefix.js';

const NEWLINE = 10;
const CR = 13;

export class LineSplitter {
  private carry: Buffer | undefined;
  private carryLen = 0;
  /** In the middle of an over-long line whose head is already stored. */
  private dropping = false;
  /**
   * The carry is full and a CR ended the last read: whether the line is
   * over-long depends on the next byte (a newline makes the CR its end). The
   * CR's read time, for the entry if it turns out to be over-long.
   */
  private pendingCr = false;
  private crSec = 0;
  private crNsec = 0;
  /** Lines cut to max-line-len, for the stream's statistics. */
  truncated = 0;
  lines = 0;
  /** Lines dropped by the rate limit. */
  suppressed = 0;
  private slow: boolean;
  /** Given by setPriority: for lines without a prefix of their own. */
  private severity = NONE;
  private facility = NONE;

  constructor(
    private readonly ring: Ring,
    private readonly sourceId: number,
    private readonly maxLineLen: number,
    private readonly opts: { limit?: SourceLimit; priorityPrefix?: boolean } = {},
  ) {
    this.slow = opts.limit !== undefined || opts.priorityPrefix === true;
  }

  /** The severity and facility (NONE: not known) of the lines pushed from now on. */
  setPriority(severity: number, facility: number): void {
    this.severity = severity;
    this.facility = facility;
    this.slow = true;
  }

  /** Adds the lines in chunk, all stamped with the time it was read. */
  push(chunk: Uint8Array, sec: number, nsec: number): void {
    const end = chunk.length;
    if (end === 0) return;
    let pos = 0;
    if (this.pendingCr) {
      this.pendingCr = false;
      if (chunk[0] === NEWLINE) {
        this.flushCarry(sec, nsec);
        pos = 1;
      } else {
        this.cutCarry(this.crSec, this.crNsec);
      }
    }
    if (this.dropping || this.carryLen > 0) {
      const nl = chunk.indexOf(NEWLINE, pos);
      if (!this.dropping) {
        const stop = nl < 0 ? end : nl > pos && chunk[nl - 1] === CR ? nl - 1 : nl;
        this.addToCarry(chunk, pos, stop, sec, nsec);
      }
      if (nl < 0) return;
      if (this.dropping) this.dropping = false;
      // A newline first in the chunk: a CR before it is the carry's last byte.
      else this.flushCarry(sec, nsec, nl === pos);
      pos = nl + 1;
    }
    const ring = this.ring;
    const max = this.maxLineLen;
    const id = this.sourceId;
    const slow = this.slow;
    let lines = 0;
    for (;;) {
      const nl = chunk.indexOf(NEWLINE, pos);
      if (nl < 0) break;
      const stop = nl > pos && chunk[nl - 1] === CR ? nl - 1 : nl;
      if (slow) {
        this.store(chunk, pos, stop, sec, nsec);
      } else if (stop - pos > max) {
        ring.append(id, sec, nsec, chunk, pos, pos + max);
        this.truncated++;
      } else {
        ring.append(id, sec, nsec, chunk, pos, stop);
      }
      lines++;
      pos = nl + 1;
    }
    this.lines += lines;
    if (pos < end) this.addToCarry(chunk, pos, end, sec, nsec);
  }

  /** End of stream: a final fragment without a newline is still an entry. */
  end(sec: number, nsec: number): void {
    if (this.pendingCr) this.cutCarry(this.crSec, this.crNsec);
    else if (this.carryLen > 0 && !this.dropping) this.flushCarry(sec, nsec);
    this.carry = undefined;
    this.carryLen = 0;
    this.dropping = false;
    this.pendingCr = false;
  }

  private addToCarry(chunk: Uint8Array, start: number, end: number, sec: number, nsec: number): void {
    const room = this.maxLineLen - this.carryLen;
    const take = Math.min(room, end - start);
    if (take > 0) {
      this.carry ??= Buffer.allocUnsafe(this.maxLineLen);
      this.carry.set(chunk.subarray(start, start + take), this.carryLen);
      this.carryLen += take;
    }
    if (end - start <= room) return;
    if (end - start === room + 1 && end === chunk.length && chunk[end - 1] === CR) {
      // One CR too many, last in the read: the next read says whether it ends the line.
      this.pendingCr = true;
      this.crSec = sec;
      this.crNsec = nsec;
      return;
    }
    this.cutCarry(sec, nsec);
  }

  /** Over-long: store its head now, skip the rest until the next newline. */
  private cutCarry(sec: number, nsec: number): void {
    this.truncated++;
    this.flushCarry(sec, nsec);
    this.dropping = true;
  }

  /** Stores the carried line; stripCr: its last byte came just before a newline, and a CR there goes. */
  private flushCarry(sec: number, nsec: number, stripCr = false): void {
    const carry = this.carry as Buffer;
    const len = stripCr && this.carryLen > 0 && carry[this.carryLen - 1] === CR ? this.carryLen - 1 : this.carryLen;
    if (this.slow) this.store(carry, 0, len, sec, nsec, false);
    else this.ring.append(this.sourceId, sec, nsec, carry, 0, len);
    this.carryLen = 0;
    this.lines++;
  }

  /** One line the slow way: the rate limit, the priority prefix, the cut to max-line-len (count: whether a cut counts, not done already). */
  private store(src: Uint8Array, start: number, stop: number, sec: number, nsec: number, count = true): void {
    const limit = this.opts.limit;
    if (limit !== undefined && !limit.admit(sec * 1000 + nsec / 1e6)) {
      this.suppressed++;
      return;
    }
    let severity = this.severity;
    let facility = this.facility;
    if (this.opts.priorityPrefix) {
      const prefix = priorityPrefix(src, start, stop);
      if (prefix >= 0) {
        const len = prefix >> 8;
        const value = prefix & 255;
        severity = value & 7;
        // <N> is a level alone (sd-daemon); <NN> and <NNN> are a whole syslog PRI.
        facility = len === 3 ? NONE : value >> 3;
        start += len;
      }
    }
    if (stop - start > this.maxLineLen) {
      stop = start + this.maxLineLen;
      if (count) this.truncated++;
    }
    if (severity === NONE) this.ring.append(this.sourceId, sec, nsec, src, start, stop);
    else this.ring.appendWith(this.sourceId, sec, nsec, src, start, stop, severity, facility);
  }
}
