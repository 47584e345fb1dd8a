/**
 * RELP's framing, both ways: the client's frames (open, syslog, close)
 * written straight into one buffer, and the server's frames (rsp,
 * serverclose) read from the byte stream by a small state machine, one byte
 * at a time for the header and in bulk for the data, with no regex and no
 * string per frame. The server is untrusted: every field is bounded and a
 * frame that breaks the grammar is an error, not a guess.
 *
 *   FRAME   = TXNR SP COMMAND SP DATALEN [SP DATA] LF
 *   TXNR    = 1*9DIGIT        COMMAND = 1*32ALPHA        DATALEN = 1*9DIGIT
 *   rsp DATA = STATUS [SP HUMAN-TEXT] [LF CMDDATA]     STATUS = 3DIGIT
 */
import type { ForwardEntry } from '../entry.js';
import type { MessageOptions } from '../message-options.js';
import { formatOctetCounted, type FrameParts } from '../rfc5424.js';

/** RELP's transaction numbers run 1..999,999,999, then start at 1 again (0 is the server's hints). */
export const MAX_TXNR = 999_999_999;

export function nextTxnr(txnr: number): number {
  return txnr === MAX_TXNR ? 1 : txnr + 1;
}

/** Most data a server's frame may carry: an rsp is a status, a line of text and (to open) a few offers. */
export const MAX_SERVER_DATA = 64 * 1024;

const SP = 0x20;
const LF = 0x0a;

function digits(n: number): number {
  if (n < 10) return 1;
  if (n < 100) return 2;
  if (n < 1000) return 3;
  if (n < 10_000) return 4;
  if (n < 100_000) return 5;
  if (n < 1_000_000) return 6;
  if (n < 10_000_000) return 7;
  if (n < 100_000_000) return 8;
  return 9;
}

/** Writes n (0..999,999,999) in decimal at buf[off]; returns the offset after it. */
function putDecimal(buf: Buffer, off: number, n: number): number {
  const end = off + digits(n);
  let i = end;
  do {
    buf[--i] = 48 + (n % 10);
    n = Math.floor(n / 10);
  } while (n > 0);
  return end;
}

/** ` syslog ` as bytes, stored one by one (a native copy per frame costs more for so few). */
const SYSLOG = Array.from(' syslog ', (c) => c.charCodeAt(0));

/** What goes before each syslog frame's length: its transaction number and command. */
class SyslogPrefix implements FrameParts {
  readonly maxPrefix = 9 + SYSLOG.length;
  readonly suffix = LF;

  constructor(public txnr: number) {}

  prefix(buf: Buffer, at: number): number {
    at = putDecimal(buf, at, this.txnr);
    this.txnr = nextTxnr(this.txnr);
    for (let k = 0; k < SYSLOG.length; k++) buf[at++] = SYSLOG[k];
    return at;
  }
}

/**
 * `TXNR syslog LEN MSG\n` for each entry (MSG its RFC 5424 message), transaction numbers from first on,
 * formatted straight into one buffer (one socket write). Returns the buffer and the transaction number
 * after the last.
 */
export function encodeSyslogFrames(entries: readonly ForwardEntry[], opts: MessageOptions, first: number): { frames: Buffer; next: number } {
  const parts = new SyslogPrefix(first);
  const frames = formatOctetCounted(entries, opts, parts);
  return { frames, next: parts.txnr };
}

/** One client frame with its data (open's offers; none for close). */
export function encodeFrame(txnr: number, command: string, data: string): Buffer {
  const body = Buffer.from(data, 'utf8');
  if (body.length > MAX_TXNR) throw new RangeError('RELP frame data too long');
  const head = Buffer.from(body.length === 0 ? `${txnr} ${command} 0` : `${txnr} ${command} ${body.length} `, 'latin1');
  return Buffer.concat([head, body, Buffer.from([LF])]);
}

export class RelpFrameError extends Error {}

export interface ServerFrameSink {
  /** An rsp frame: its transaction number and data (valid until the call returns). */
  rsp(txnr: number, data: Buffer, length: number): void;
  /** A hint from the server (transaction 0): serverclose or one not known. */
  hint(command: string): void;
}

const enum State {
  Txnr,
  Command,
  DataLen,
  Data,
  Trailer,
}

/** A printable rendering of a byte, for error messages. */
function shown(b: number): string {
  return b >= 0x21 && b <= 0x7e ? `"${String.fromCharCode(b)}"` : `byte 0x${b.toString(16).padStart(2, '0')}`;
}

/** Reads the server's frames from the byte stream, chunk by chunk; throws RelpFrameError at the first bad byte. */
export class ServerFrameReader {
  private state = State.Txnr;
  private txnr = 0;
  private fieldLen = 0;
  private readonly command = Buffer.alloc(32);
  private commandLen = 0;
  private dataLen = 0;
  private data = Buffer.alloc(256);
  private got = 0;

  constructor(private readonly sink: ServerFrameSink) {}

  feed(chunk: Buffer): void {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      switch (this.state) {
        case State.Txnr: {
          const b = chunk[i++];
          if (b >= 48 && b <= 57) {
            if (++this.fieldLen > 9) throw new RelpFrameError('transaction number longer than 9 digits');
            this.txnr = this.txnr * 10 + (b - 48);
          } else if (b === SP && this.fieldLen > 0) {
            this.state = State.Command;
            this.fieldLen = 0;
            this.commandLen = 0;
          } else {
            throw new RelpFrameError(`${shown(b)} where a transaction number was expected`);
          }
          break;
        }
        case State.Command: {
          const b = chunk[i++];
          if ((b >= 65 && b <= 90) || (b >= 97 && b <= 122)) {
            if (this.commandLen === 32) throw new RelpFrameError('command longer than 32 letters');
            this.command[this.commandLen++] = b;
          } else if (b === SP && this.commandLen > 0) {
            this.state = State.DataLen;
            this.dataLen = 0;
          } else {
            throw new RelpFrameError(`${shown(b)} in a command`);
          }
          break;
        }
        case State.DataLen: {
          const b = chunk[i++];
          if (b >= 48 && b <= 57) {
            if (++this.fieldLen > 9) throw new RelpFrameError('data length longer than 9 digits');
            this.dataLen = this.dataLen * 10 + (b - 48);
            if (this.dataLen > MAX_SERVER_DATA) throw new RelpFrameError(`frame of more than ${MAX_SERVER_DATA} bytes of data`);
          } else if (b === SP && this.fieldLen > 0 && this.dataLen > 0) {
            this.state = State.Data;
            this.got = 0;
            if (this.data.length < this.dataLen) this.data = Buffer.alloc(Math.max(this.dataLen, this.data.length * 2));
          } else if (b === LF && this.fieldLen > 0 && this.dataLen === 0) {
            this.frame();
          } else {
            throw new RelpFrameError(`${shown(b)} in or after a data length`);
          }
          break;
        }
        case State.Data: {
          const take = Math.min(this.dataLen - this.got, n - i);
          // An rsp is mostly `200 OK`: a loop beats a native copy's call for so few bytes.
          if (take <= 32) for (let k = 0; k < take; k++) this.data[this.got + k] = chunk[i + k];
          else chunk.copy(this.data, this.got, i, i + take);
          this.got += take;
          i += take;
          if (this.got === this.dataLen) this.state = State.Trailer;
          break;
        }
        case State.Trailer: {
          const b = chunk[i++];
          if (b !== LF) throw new RelpFrameError(`${shown(b)} where a frame's closing line feed was expected`);
          this.frame();
          break;
        }
      }
    }
  }

  /** Whether the stream stopped between frames (not inside one). */
  atFrameBoundary(): boolean {
    return this.state === State.Txnr && this.fieldLen === 0;
  }

  private isCommand(name: string): boolean {
    if (this.commandLen !== name.length) return false;
    for (let k = 0; k < name.length; k++) if (this.command[k] !== name.charCodeAt(k)) return false;
    return true;
  }

  private frame(): void {
    const txnr = this.txnr;
    const len = this.dataLen;
    this.state = State.Txnr;
    this.txnr = 0;
    this.fieldLen = 0;
    if (txnr === 0) {
      this.sink.hint(this.command.toString('latin1', 0, this.commandLen));
    } else if (this.isCommand('rsp')) {
      this.sink.rsp(txnr, this.data, len);
    } else {
      throw new RelpFrameError(`command "${this.command.toString('latin1', 0, this.commandLen)}" from the server (only rsp and hints are)`);
    }
  }
}

/**
 * The status of an rsp's data (3 digits, then the end, a space or a line feed), or -1 if it has none.
 * Data of length 0 (librelp's answer to close) has none.
 */
export function rspStatus(data: Buffer, length: number): number {
  if (length < 3) return -1;
  const a = data[0] - 48;
  const b = data[1] - 48;
  const c = data[2] - 48;
  if (a < 0 || a > 9 || b < 0 || b > 9 || c < 0 || c > 9) return -1;
  if (length > 3 && data[3] !== SP && data[3] !== LF) return -1;
  return a * 100 + b * 10 + c;
}

/** An rsp's human text (after the status, up to the first line feed), printable and short, for messages. */
export function rspText(data: Buffer, length: number): string {
  let end = data.indexOf(LF);
  if (end === -1 || end > length) end = length;
  const text = data.toString('latin1', Math.min(4, end), end).replace(/[^\x20-\x7e]/g, '?');
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

/** The offers after an rsp's first line: name -> value (the server's answer to open). */
export function rspOffers(data: Buffer, length: number): Map<string, string> {
  const offers = new Map<string, string>();
  const lines = data.toString('latin1', 0, length).split('\n').slice(1);
  for (const line of lines) {
    if (line === '') continue;
    const eq = line.indexOf('=');
    const name = eq === -1 ? line : line.slice(0, eq);
    if (name.length > 32) continue;
    offers.set(name, eq === -1 ? '' : line.slice(eq + 1));
  }
  return offers;
}
