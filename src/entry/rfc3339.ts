/**
 * Timestamps as Go prints them: RFC 3339 in UTC, `time.RFC3339Nano` (fraction
 * with trailing zeros trimmed) for the wire, and seconds only for log files.
 * The date-and-time part is cached per second: consecutive entries almost
 * always share it, and Date formatting is the expensive bit.
 */

let cachedSec = -1;
let cachedPrefix = '';

function secondsPrefix(sec: number): string {
  if (sec !== cachedSec) {
    // toISOString gives "YYYY-MM-DDTHH:MM:SS.mmmZ"; keep the part before the dot.
    cachedPrefix = new Date(sec * 1000).toISOString().slice(0, 19);
    cachedSec = sec;
  }
  return cachedPrefix;
}

const ZEROS = '000000000';

/** `2019-02-22T16:04:23.123456789Z`, `2019-02-22T16:04:23.1Z`, `2019-02-22T16:04:23Z`. */
export function formatRfc3339Nano(sec: number, nsec: number): string {
  const prefix = secondsPrefix(sec);
  if (nsec === 0) return prefix + 'Z';
  let frac = String(nsec);
  frac = ZEROS.slice(frac.length) + frac;
  let end = 9;
  while (frac.charCodeAt(end - 1) === 48 /* '0' */) end--;
  return prefix + '.' + frac.slice(0, end) + 'Z';
}

/** `2019-02-22T16:04:23Z`: what upstream's persister writes at the start of each line. */
export function formatRfc3339Seconds(sec: number): string {
  return secondsPrefix(sec) + 'Z';
}

/** Splits a time from an entry back into seconds and nanoseconds (for the persister and tests). */
export function parseRfc3339(text: string): { sec: number; nsec: number } | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(text);
  if (!m) return undefined;
  const ms = Date.parse(m[1] + m[3]);
  if (Number.isNaN(ms)) return undefined;
  const frac = m[2] ?? '';
  return { sec: Math.floor(ms / 1000), nsec: frac === '' ? 0 : Number(frac + ZEROS.slice(frac.length)) };
}
