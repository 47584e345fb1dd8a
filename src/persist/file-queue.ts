/**
 * One source's file, DIR/<stem>.log, and the lines queued for it: what is
 * known of the file (fd, identity, size, the last sequence number in it) and
 * how the queue is cut into writes. A flush is one write per file, split only
 * where a line takes the file past maxFileSize (upstream rotates right after
 * that line) or where a write would pass MAX_WRITE.
 */
import path from 'node:path';

/** Bytes per write: a huge queue is written in pieces rather than copied into one huge buffer. */
const MAX_WRITE = 8 << 20;

export class FileQueue {
  readonly path: string;
  fd = -1;
  /** Identity of the file last opened at path (0: none yet). */
  dev = 0;
  ino = 0;
  /** Bytes in X.log, partial line included; -1 until it has been opened or recovered. */
  size = -1;
  seq = -1;
  /** Lines with a seq up to this are on disk already (recover()). */
  skipUpTo = -1;
  /** Rotations so far: tells a background gzip where its file has moved to. */
  generation = 0;
  /** Gzips of this file's rotated files not done yet (the file is kept in memory until they are). */
  gzipsPending = 0;
  rotateDue = false;
  /** The identity the last saved resume state gives this file (0: it does not describe it). */
  savedDev = 0;
  savedIno = 0;
  /** The error this file is failing with, reported once until it clears. */
  problem: string | undefined;
  // The queue: lines[head..], with their byte lengths and seqs; `written` bytes of lines[head] are on disk already.
  lines: (string | Buffer)[] = [];
  lens: number[] = [];
  seqs: number[] = [];
  head = 0;
  written = 0;

  constructor(
    readonly stem: string,
    dir: string,
  ) {
    this.path = path.join(dir, stem + '.log');
  }

  get queued(): boolean {
    return this.head < this.lines.length;
  }

  /** Bytes queued and not yet written. */
  get queuedBytes(): number {
    let n = -this.written;
    for (let i = this.head; i < this.lines.length; i++) n += this.lens[i];
    return n;
  }

  /** Whether the last saved state holds this file as it is now (same file at the name). */
  get described(): boolean {
    return this.savedIno !== 0 && this.savedIno === this.ino && this.savedDev === this.dev;
  }

  push(line: string | Buffer, len: number, seq: number): void {
    this.lines.push(line);
    this.lens.push(len);
    this.seqs.push(seq);
  }

  clearQueue(): void {
    this.lines = [];
    this.lens = [];
    this.seqs = [];
    this.head = 0;
    this.written = 0;
  }

  /** After a failed write: lets go of the lines written already, once they are most of the queue. */
  compact(): void {
    if (this.head > 4096 && this.head * 2 > this.lines.length) {
      this.lines.splice(0, this.head);
      this.lens.splice(0, this.head);
      this.seqs.splice(0, this.head);
      this.head = 0;
    }
  }

  /** The index after the last line of the next write: where the file crosses maxFileSize, or MAX_WRITE. */
  segmentEnd(maxFileSize: number): number {
    let projected = this.size;
    let bytes = 0;
    let i = this.head;
    while (i < this.lines.length) {
      const n = this.lens[i] - (i === this.head ? this.written : 0);
      if (bytes > 0 && bytes + n > MAX_WRITE) break;
      bytes += n;
      projected += n;
      i++;
      if (projected > maxFileSize) break;
    }
    return i;
  }

  /** The bytes of lines[head..end) not yet written, in one buffer. */
  gather(end: number): Buffer {
    const first = this.lines[this.head];
    if (end === this.head + 1 && typeof first !== 'string') return first.subarray(this.written);
    let total = -this.written;
    for (let i = this.head; i < end; i++) total += this.lens[i];
    const buf = Buffer.allocUnsafe(total);
    let off = 0;
    for (let i = this.head; i < end; i++) {
      let line = this.lines[i];
      const skip = i === this.head ? this.written : 0;
      if (typeof line === 'string') {
        if (skip === 0) {
          off += buf.write(line, off, 'utf8');
          continue;
        }
        line = Buffer.from(line, 'utf8');
      }
      off += line.copy(buf, off, skip);
    }
    return buf;
  }

  /** Accounts for n more bytes on disk: whole lines before `end` leave the queue. Returns how many did. */
  consume(n: number, end: number): number {
    this.size += n;
    let done = 0;
    while (this.head < end) {
      const rest = this.lens[this.head] - this.written;
      if (n < rest) {
        this.written += n;
        return done;
      }
      n -= rest;
      const seq = this.seqs[this.head];
      if (seq >= 0) this.seq = seq;
      this.lines[this.head] = ''; // let the line go now, not when the whole queue is written
      this.head++;
      this.written = 0;
      done++;
    }
    return done;
  }
}
