/**
 * The persister's fast path: our daemon's entries have one fixed shape,
 *   {"time":"<RFC3339Nano, UTC>","source":"<s>","msg":"<m>","seq":<n>}
 * and most sources and messages need no escaping. For those, the file line
 * `<time, seconds> <source> <msg>\n` is cut and pasted from the wire bytes,
 * with no JSON.parse and no JS string for the message; for `-format json`
 * the wire line itself is the file line, with the daemon id spliced in.
 * Anything else (escapes, markers with more fields, another daemon's shape)
 * returns undefined and goes the slow way.
 */
import { isUtf8 } from 'node:buffer';

const TIME_KEY = Buffer.from('{"time":"');
const SOURCE_KEY = Buffer.from('","source":"');
const MSG_KEY = Buffer.from('","msg":"');
const SEQ_KEY = Buffer.from('","seq":');
const QUOTE = 34;
const BACKSLASH = 92;
const SENDER_KEYS = [Buffer.from(',"pid":'), Buffer.from(',"uid":'), Buffer.from(',"gid":')];

/** Index after a JSON whole number (no leading zeros, at most 10 digits) at i, or -1. */
function afterNumber(buf: Buffer, i: number): number {
  const start = i;
  while (i < buf.length && buf[i] >= 48 && buf[i] <= 57) i++;
  const n = i - start;
  return n === 0 || n > 10 || (n > 1 && buf[start] === 48) ? -1 : i;
}

/** Digits of the largest seq the fast path reads (2^53 - 1 has 16); the value is checked too. */
const MAX_SEQ_DIGITS = 16;

export interface FastEntry {
  source: string;
  seq: number;
  /** The whole file line, ending in "\n". */
  fileLine: Buffer;
}

function startsWithAt(buf: Buffer, at: number, key: Buffer): boolean {
  if (at + key.length > buf.length) return false;
  for (let i = 0; i < key.length; i++) if (buf[at + i] !== key[i]) return false;
  return true;
}

/** End (index of the closing quote) of an unescaped JSON string starting at from, or -1. */
function plainStringEnd(buf: Buffer, from: number): number {
  const q = buf.indexOf(QUOTE, from);
  if (q < 0) return -1;
  const b = buf.indexOf(BACKSLASH, from);
  return b >= 0 && b < q ? -1 : q;
}

/**
 * A plain loop: for a few dozen bytes it beats Buffer.copy, which makes a view
 * object per call. Returns false at a raw control byte (not valid in JSON: the
 * slow path decides what to do with such a line).
 */
function copyBytes(src: Buffer, start: number, end: number, dst: Buffer, at: number): boolean {
  for (let i = start; i < end; i++) {
    const b = src[i];
    if (b < 0x20) return false;
    dst[at++] = b;
  }
  return true;
}

const DIGIT_AT = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];
const PUNCT_AT: [number, number][] = [
  [4, 45],
  [7, 45],
  [10, 84],
  [13, 58],
  [16, 58],
]; // - - T : :

/** `YYYY-MM-DDTHH:MM:SS` then `Z` or `.digits Z`, in buf[t0, t1): the shape whose first 19 bytes are the file's stamp. */
export function isPlainUtcTime(buf: Uint8Array, t0: number, t1: number): boolean {
  if (t1 - t0 < 20 || buf[t1 - 1] !== 90 /* Z */) return false;
  for (const i of DIGIT_AT) if (buf[t0 + i] < 48 || buf[t0 + i] > 57) return false;
  for (const [i, c] of PUNCT_AT) if (buf[t0 + i] !== c) return false;
  if (t1 - t0 === 20) return true;
  if (buf[t0 + 19] !== 46 /* . */ || t1 - t0 < 22) return false;
  for (let i = t0 + 20; i < t1 - 1; i++) if (buf[i] < 48 || buf[i] > 57) return false;
  return true;
}

/** Where the parts of a fast-path wire line are: time [t0, t1), source [s0, s1), msg [m0, m1), seq ends at seqEnd. */
export interface FastShape {
  t0: number;
  s0: number;
  s1: number;
  m0: number;
  m1: number;
  seqEnd: number;
  seq: number;
}

/** The fast path's checks: the line has our daemon's fixed shape, no escapes, a safe seq, valid UTF-8. */
export function fastShape(line: Buffer): FastShape | undefined {
  if (!startsWithAt(line, 0, TIME_KEY)) return undefined;
  const t0 = TIME_KEY.length;
  const t1 = plainStringEnd(line, t0);
  if (t1 < 0 || !isPlainUtcTime(line, t0, t1)) return undefined;
  if (!startsWithAt(line, t1, SOURCE_KEY)) return undefined;
  const s0 = t1 + SOURCE_KEY.length;
  const s1 = plainStringEnd(line, s0);
  if (s1 < 0 || !startsWithAt(line, s1, MSG_KEY)) return undefined;
  const m0 = s1 + MSG_KEY.length;
  const m1 = plainStringEnd(line, m0);
  if (m1 < 0 || !startsWithAt(line, m1, SEQ_KEY)) return undefined;
  let seq = 0;
  let i = m1 + SEQ_KEY.length;
  const digits = i;
  for (; i < line.length && line[i] >= 48 && line[i] <= 57; i++) seq = seq * 10 + (line[i] - 48);
  const n = i - digits;
  // JSON has no leading zeros; longer numbers would not add up exactly.
  if (n === 0 || n > MAX_SEQ_DIGITS || seq > Number.MAX_SAFE_INTEGER || (n > 1 && line[digits] === 48)) return undefined;
  const seqEnd = i;
  // Then the sender's fields, when the daemon knows them.
  if (line[i] === 44 /* , */) {
    for (const key of SENDER_KEYS) {
      if (!startsWithAt(line, i, key)) return undefined;
      i = afterNumber(line, i + key.length);
      if (i < 0) return undefined;
    }
  }
  if (i !== line.length - 1 || line[i] !== 125 /* } */) return undefined;
  // Bytes that are not UTF-8 go the slow way, which writes them as U+FFFD.
  if (!isUtf8(line)) return undefined;
  return { t0, s0, s1, m0, m1, seqEnd, seq };
}

/** The text file line, `<time, seconds> <source> <msg>\n`, cut from the wire line. */
export function fastEntry(line: Buffer): FastEntry | undefined {
  const shape = fastShape(line);
  if (!shape) return undefined;
  const { t0, s0, s1, m0, m1, seq } = shape;
  const sLen = s1 - s0;
  const mLen = m1 - m0;
  const out = Buffer.allocUnsafe(21 + sLen + 1 + mLen + 1);
  copyBytes(line, t0, t0 + 19, out, 0);
  out[19] = 90; // Z
  out[20] = 32;
  if (!copyBytes(line, s0, s1, out, 21)) return undefined;
  out[21 + sLen] = 32;
  if (!copyBytes(line, m0, m1, out, 22 + sLen)) return undefined;
  out[out.length - 1] = 10;
  return { source: line.toString('utf8', s0, s1), seq, fileLine: out };
}

function hasControlByte(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i] < 0x20) return true;
  return false;
}

/**
 * The JSON file line: the wire line is JSON already, so `daemonField`
 * (`,"daemon":"<id>"`, or nothing) is spliced in after the seq, the rest
 * copied as it is, nanosecond time and sender's fields included.
 */
export function fastJsonEntry(line: Buffer, daemonField: Buffer): FastEntry | undefined {
  const shape = fastShape(line);
  if (!shape) return undefined;
  const { s0, s1, m0, m1, seqEnd, seq } = shape;
  // A raw control byte is not JSON: the slow way escapes it.
  if (hasControlByte(line, s0, s1) || hasControlByte(line, m0, m1)) return undefined;
  const out = Buffer.allocUnsafe(line.length + daemonField.length + 1);
  line.copy(out, 0, 0, seqEnd);
  daemonField.copy(out, seqEnd);
  line.copy(out, seqEnd + daemonField.length, seqEnd);
  out[out.length - 1] = 10;
  return { source: line.toString('utf8', s0, s1), seq, fileLine: out };
}
