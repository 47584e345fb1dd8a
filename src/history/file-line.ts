/**
 * One line of a log file as an entry, from its bytes: text lines
 * `<YYYY-MM-DDTHH:MM:SSZ> <source> <msg>` and json lines `{"time":...}`
 * alike (a directory written in one format and then the other holds both).
 * The time is read from the bytes first, so that a line outside the time
 * window costs no string and no JSON.parse.
 */
import { historyEntryOf, type HistoryEntry } from './history-entry.js';

const TIME_KEY = Buffer.from('{"time":"');
const SPACE = 32;
const OPEN_BRACE = 123;

/** Days from 1970-01-01 to the given civil date (proleptic Gregorian). */
function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function digits(buf: Uint8Array, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) {
    const c = buf[i] - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/** Seconds since the epoch of `YYYY-MM-DDTHH:MM:SS` at buf[at], or undefined. */
export function secondsAt(buf: Uint8Array, at: number): number | undefined {
  if (buf[at + 4] !== 45 || buf[at + 7] !== 45 || buf[at + 10] !== 84 || buf[at + 13] !== 58 || buf[at + 16] !== 58) return undefined;
  const y = digits(buf, at, 4);
  const mo = digits(buf, at + 5, 2);
  const d = digits(buf, at + 8, 2);
  const h = digits(buf, at + 11, 2);
  const mi = digits(buf, at + 14, 2);
  const s = digits(buf, at + 17, 2);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 60) return undefined;
  return daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

/** A line's time, read from its bytes. */
export interface LineTime {
  sec: number;
  nsec: number;
  json: boolean;
}

/**
 * The time at the start of buf[start, end): a text line's seconds, or a json
 * line's `"time"` when it comes first in UTC (as the persister writes it).
 * undefined: not readable this way (a json line is then parsed whole).
 */
export function lineTime(buf: Buffer, start: number, end: number): LineTime | undefined {
  if (buf[start] === OPEN_BRACE) {
    const t0 = start + TIME_KEY.length;
    if (end - start < TIME_KEY.length + 21 || buf.compare(TIME_KEY, 0, TIME_KEY.length, start, t0) !== 0) return undefined;
    const sec = secondsAt(buf, t0);
    if (sec === undefined) return undefined;
    let i = t0 + 19;
    let nsec = 0;
    if (buf[i] === 46 /* . */) {
      let scale = 100_000_000;
      for (i++; i < end && buf[i] >= 48 && buf[i] <= 57 && scale >= 1; i++, scale /= 10) nsec += (buf[i] - 48) * scale;
    }
    if (buf[i] !== 90 /* Z */ || buf[i + 1] !== 34 /* " */) return undefined;
    return { sec, nsec, json: true };
  }
  if (end - start < 21 || buf[start + 19] !== 90 || buf[start + 20] !== SPACE) return undefined;
  const sec = secondsAt(buf, start);
  return sec === undefined ? undefined : { sec, nsec: 0, json: false };
}

/**
 * A json line as an entry, or undefined if it is not one. The line's own
 * source wins over the file's: the persister writes each source to its file.
 */
export function parseJsonLine(buf: Buffer, start: number, end: number): HistoryEntry | undefined {
  let value: unknown;
  try {
    value = JSON.parse(buf.toString('utf8', start, end));
  } catch {
    return undefined;
  }
  return historyEntryOf(value);
}

/**
 * Where a text line's message starts, given the time (21 bytes) and the
 * source: the file's source, whose bytes must follow, or (a hashed stem no
 * name is known for) the first word after the time. -1: not a line of ours.
 */
export function textMessageStart(buf: Buffer, start: number, end: number, sourceBytes: Buffer | undefined): number {
  const s0 = start + 21;
  if (sourceBytes !== undefined) {
    const s1 = s0 + sourceBytes.length;
    if (s1 >= end || buf[s1] !== SPACE || buf.compare(sourceBytes, 0, sourceBytes.length, s0, s1) !== 0) return -1;
    return s1 + 1;
  }
  const sp = buf.indexOf(SPACE, s0);
  return sp < 0 || sp >= end ? -1 : sp + 1;
}
