/**
 * The forwarder's fast path: an entry of our daemon's usual shape (no
 * escapes, no severity or syslog fields; src/persist/wire-line.ts checks
 * it) is read from the wire line's bytes without JSON.parse. The message is
 * kept as the bytes it came as (valid UTF-8, the JSON string's content with
 * nothing to unescape), so the syslog encoding copies them; a JS string is
 * made only if something asks for it (OTLP, a filter). The receipt second is
 * worked out once per second, not once per line.
 */
import { fastShape } from '../persist/wire-line.js';
import type { ForwardEntry } from './entry.js';

const SOURCE_KEY_LENGTH = '","source":"'.length;
const PID_KEY_LENGTH = ',"pid":'.length;
const UID_KEY_LENGTH = ',"uid":'.length;
const GID_KEY_LENGTH = ',"gid":'.length;

export class WireEntry implements ForwardEntry {
  declare pid?: number;
  declare uid?: number;
  declare gid?: number;
  declare daemon?: string;

  constructor(
    private readonly line: Buffer,
    private readonly t0: number,
    private readonly t1: number,
    readonly sec: number,
    readonly nsec: number,
    readonly source: string,
    /** Where the message's UTF-8 bytes are in the line (no view is made unless asked). */
    private readonly m0: number,
    private readonly m1: number,
    readonly seq: number,
  ) {}

  get msgByteLength(): number {
    return this.m1 - this.m0;
  }

  copyMsgTo(out: Buffer, at: number): number {
    return this.line.copy(out, at, this.m0, this.m1);
  }

  get time(): string {
    return this.line.toString('latin1', this.t0, this.t1);
  }

  get msg(): string {
    return this.line.toString('utf8', this.m0, this.m1);
  }
}

// The last second read, as its 19 bytes `YYYY-MM-DDTHH:MM:SS`, and its value.
const lastStamp = Buffer.alloc(19);
let lastSec = -1;
// Source names repeat: the last one's bytes and string.
let lastSourceBytes = Buffer.alloc(0);
let lastSource = '';

function digits(buf: Buffer, from: number, n: number): number {
  let v = 0;
  for (let i = from; i < from + n; i++) v = v * 10 + (buf[i] - 48);
  return v;
}

function secondOf(line: Buffer, t0: number): number {
  let same = lastSec >= 0;
  if (same) {
    for (let i = 0; i < 19; i++) {
      if (line[t0 + i] !== lastStamp[i]) {
        same = false;
        break;
      }
    }
  }
  if (same) return lastSec;
  const year = digits(line, t0, 4);
  let ms = Date.UTC(year, digits(line, t0 + 5, 2) - 1, digits(line, t0 + 8, 2), digits(line, t0 + 11, 2), digits(line, t0 + 14, 2), digits(line, t0 + 17, 2));
  // Date.UTC reads years 0-99 as 1900-1999.
  if (year < 100) ms = new Date(ms).setUTCFullYear(year);
  lastSec = Math.floor(ms / 1000);
  line.copy(lastStamp, 0, t0, t0 + 19);
  return lastSec;
}

function sourceOf(line: Buffer, s0: number, s1: number): string {
  const n = s1 - s0;
  if (n === lastSourceBytes.length) {
    let same = true;
    for (let i = 0; i < n; i++) {
      if (line[s0 + i] !== lastSourceBytes[i]) {
        same = false;
        break;
      }
    }
    if (same) return lastSource;
  }
  lastSourceBytes = Buffer.from(line.subarray(s0, s1));
  lastSource = line.toString('utf8', s0, s1);
  return lastSource;
}

/** Reads a whole number at i (fastShape checked the shape); returns it and where it ends. */
function numberAt(line: Buffer, i: number): [number, number] {
  let v = 0;
  while (line[i] >= 48 && line[i] <= 57) v = v * 10 + (line[i++] - 48);
  return [v, i];
}

/** The entry, or undefined when the line is not of the fast shape (parseForwardEntry then reads it). */
export function fastForwardEntry(line: Buffer, daemon: string | undefined): ForwardEntry | undefined {
  const shape = fastShape(line);
  if (!shape) return undefined;
  const { t0, s0, s1, m0, m1, seq, seqEnd } = shape;
  const t1 = s0 - SOURCE_KEY_LENGTH;
  // `YYYY-MM-DDTHH:MM:SS` then `Z` or `.digits Z` (checked by fastShape).
  let nsec = 0;
  if (t1 - t0 > 20) {
    const fracDigits = t1 - 1 - (t0 + 20);
    if (fracDigits > 9) return undefined;
    nsec = digits(line, t0 + 20, fracDigits) * 10 ** (9 - fracDigits);
  }
  const entry = new WireEntry(line, t0, t1, secondOf(line, t0), nsec, sourceOf(line, s0, s1), m0, m1, seq);
  entry.daemon = daemon;
  if (line[seqEnd] === 44 /* , */) {
    let i: number;
    [entry.pid, i] = numberAt(line, seqEnd + PID_KEY_LENGTH);
    [entry.uid, i] = numberAt(line, i + UID_KEY_LENGTH);
    [entry.gid] = numberAt(line, i + GID_KEY_LENGTH);
  }
  return entry;
}
