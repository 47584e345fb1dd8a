/** Entry times: memlogd sends RFC 3339 in UTC with up to nanoseconds (`2026-12-03T08:01:23.123456789Z`). */

let cachedPrefix = '';
let cachedMs = 0;

/** Milliseconds since the epoch of an entry's time, NaN if it is not one; consecutive entries share their second, so the date work is cached. */
export function entryMs(time: string): number {
  // Only the fixed layout memlogd writes is read fast; anything else goes through Date.parse.
  if (time.length >= 20 && time.charCodeAt(10) === 84 /* T */) {
    const prefix = time.slice(0, 19);
    const rest = time.slice(19);
    if (prefix !== cachedPrefix) {
      const ms = Date.parse(prefix + 'Z');
      if (Number.isNaN(ms)) return Date.parse(time);
      cachedPrefix = prefix;
      cachedMs = ms;
    }
    if (rest === 'Z') return cachedMs;
    const m = /^\.(\d{1,9})Z$/.exec(rest);
    if (m) return cachedMs + Number(m[1].slice(0, 3).padEnd(3, '0'));
  }
  return Date.parse(time);
}

const two = (n: number): string => (n < 10 ? `0${n}` : String(n));
const three = (n: number): string => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : String(n));

/** `12-03 09:01:23.123` in the browser's time zone: short enough for the list, with the date for a long view. */
export function shortLocal(ms: number): string {
  if (Number.isNaN(ms)) return '';
  const d = new Date(ms);
  return `${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${three(d.getMilliseconds())}`;
}

/** An instant as a time logread takes: RFC 3339 in UTC, to the millisecond. */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString();
}
