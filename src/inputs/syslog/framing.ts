/**
 * Syslog over a stream connection (RFC 6587): messages are framed either by
 * octet counting, `<len> <msg>` (a frame that starts with a digit), or by a
 * trailer, a newline or a NUL ending each message (any other first byte;
 * syslog messages start with `<`). The two may be mixed, message by message.
 *
 * Bounded whatever the peer sends: a message is at most maxMessage bytes; the
 * rest of a longer trailer-framed one is dropped up to its end; an octet
 * count above maxMessage, or a count that is not a number, is a framing error
 * (the peer cannot be followed any further: the connection is closed).
 */
const NEWLINE = 10;
const NUL = 0;
const SPACE = 32;
/** Digits of an octet count: enough for any count we accept. */
const MAX_COUNT_DIGITS = 7;

export type OnMessage = (buf: Uint8Array, start: number, end: number) => void;

export class SyslogFramer {
  private carry: Buffer;
  private carryLen = 0;
  /** Octet-counted message being read: bytes still wanted (-1: none under way). */
  private wanted = -1;
  /** In the middle of an over-long trailer-framed message whose head went out already. */
  private dropping = false;
  /** Messages cut to maxMessage. */
  truncated = 0;
  /** Why the stream cannot be read further, once it cannot. */
  error: string | undefined;

  constructor(
    private readonly maxMessage: number,
    private readonly onMessage: OnMessage,
  ) {
    this.carry = Buffer.allocUnsafe(Math.min(4096, maxMessage + MAX_COUNT_DIGITS + 1));
  }

  /** Feeds bytes; returns false once framing has failed (error says why; the rest is ignored). */
  push(chunk: Uint8Array): boolean {
    if (this.error !== undefined) return false;
    let pos = 0;
    const end = chunk.length;
    while (pos < end) {
      if (this.wanted >= 0) {
        pos = this.takeCounted(chunk, pos);
        continue;
      }
      if (this.dropping) {
        const stop = trailerAt(chunk, pos, end);
        if (stop < 0) return true;
        this.dropping = false;
        pos = stop + 1;
        continue;
      }
      const first = this.carryLen > 0 ? this.carry[0] : chunk[pos];
      if (first >= 48 && first <= 57) {
        // Octet counting: the count, a space, then that many bytes.
        const space = chunk.indexOf(SPACE, pos);
        const digitsEnd = space < 0 ? end : space;
        if (this.carryLen + digitsEnd - pos > MAX_COUNT_DIGITS) return this.fail('an octet count longer than 7 digits');
        this.addCarry(chunk, pos, digitsEnd);
        if (space < 0) return true;
        const count = this.countOf();
        if (count < 0) return this.fail(`an octet count that is not a number ("${this.carry.toString('latin1', 0, this.carryLen)}")`);
        if (count > this.maxMessage) return this.fail(`an octet count of ${count}, more than ${this.maxMessage}`);
        this.carryLen = 0;
        this.wanted = count;
        pos = space + 1;
        if (count === 0) {
          this.wanted = -1;
          this.onMessage(chunk, pos, pos);
        }
        continue;
      }
      const stop = trailerAt(chunk, pos, end);
      if (stop < 0) {
        this.addBounded(chunk, pos, end);
        return true;
      }
      if (this.carryLen === 0) {
        this.emit(chunk, pos, stop);
      } else {
        this.addBounded(chunk, pos, stop);
        if (!this.dropping) this.flush();
        else this.dropping = false; // its end is here
      }
      pos = stop + 1;
    }
    return true;
  }

  /** End of stream: a last trailer-framed message without its trailer still counts. */
  end(): void {
    if (this.error === undefined && this.wanted < 0 && !this.dropping && this.carryLen > 0) {
      const first = this.carry[0];
      if (!(first >= 48 && first <= 57)) this.flush();
    }
    this.carryLen = 0;
  }

  private takeCounted(chunk: Uint8Array, pos: number): number {
    const avail = chunk.length - pos;
    if (this.carryLen === 0 && avail >= this.wanted) {
      const stop = pos + this.wanted;
      this.wanted = -1;
      this.onMessage(chunk, pos, stop);
      return stop;
    }
    const take = Math.min(avail, this.wanted);
    this.addCarry(chunk, pos, pos + take);
    this.wanted -= take;
    if (this.wanted === 0) {
      this.wanted = -1;
      this.flush();
    }
    return pos + take;
  }

  private emit(buf: Uint8Array, start: number, end: number): void {
    if (end - start > this.maxMessage) {
      this.truncated++;
      end = start + this.maxMessage;
    }
    this.onMessage(buf, start, end);
  }

  private flush(): void {
    const len = this.carryLen;
    this.carryLen = 0;
    this.onMessage(this.carry, 0, len);
  }

  /** Carries a trailer-framed message's bytes; past maxMessage its head goes out and the rest is dropped. */
  private addBounded(chunk: Uint8Array, start: number, end: number): void {
    const room = this.maxMessage - this.carryLen;
    if (end - start <= room) {
      this.addCarry(chunk, start, end);
      return;
    }
    this.addCarry(chunk, start, start + room);
    this.truncated++;
    this.flush();
    this.dropping = true;
  }

  private addCarry(chunk: Uint8Array, start: number, end: number): void {
    const need = this.carryLen + end - start;
    if (need > this.carry.length) {
      const grown = Buffer.allocUnsafe(Math.min(Math.max(need, this.carry.length * 2), this.maxMessage + MAX_COUNT_DIGITS + 1));
      this.carry.copy(grown, 0, 0, this.carryLen);
      this.carry = grown;
    }
    this.carry.set(chunk.subarray(start, end), this.carryLen);
    this.carryLen = need;
  }

  /** The count in the carry, or -1 if it is not a plain decimal number. */
  private countOf(): number {
    let n = 0;
    for (let i = 0; i < this.carryLen; i++) {
      const c = this.carry[i];
      if (c < 48 || c > 57) return -1;
      n = n * 10 + (c - 48);
    }
    return n;
  }

  private fail(why: string): false {
    this.error = why;
    this.carryLen = 0;
    return false;
  }
}

/** The first newline or NUL in buf[pos, end), or -1. */
function trailerAt(buf: Uint8Array, pos: number, end: number): number {
  for (let i = pos; i < end; i++) {
    const c = buf[i];
    if (c === NEWLINE || c === NUL) return i;
  }
  return -1;
}
