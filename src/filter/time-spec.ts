/**
 * The times `-since` and `-until` take, as journalctl does: RFC 3339
 * (`2026-12-02T21:00:00Z`, any offset, up to nanoseconds), `YYYY-MM-DD`,
 * `YYYY-MM-DD HH:MM` or `YYYY-MM-DD HH:MM:SS` in local time (`T` works in
 * place of the space), `now`, `today`, `yesterday` (local midnight), and
 * relative `-90s`, `-15m`, `-2h`, `-3d` (before now; `+` after).
 */
import { parseRfc3339 } from '../entry/rfc3339.js';

export interface Instant {
  sec: number;
  nsec: number;
}

export class TimeSpecError extends Error {}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** Compares two instants: negative if a is earlier. */
export function compareInstants(a: Instant, b: Instant): number {
  return a.sec !== b.sec ? a.sec - b.sec : a.nsec - b.nsec;
}

/** The instant a time spec names, relative to nowMs (ms since the epoch); throws TimeSpecError. */
export function parseTimeSpec(text: string, nowMs = Date.now()): Instant {
  const t = text.trim();
  const nowSec = Math.floor(nowMs / 1000);
  const nowInstant = { sec: nowSec, nsec: Math.round((nowMs - nowSec * 1000) * 1e6) };
  if (t === 'now') return nowInstant;
  if (t === 'today' || t === 'yesterday') {
    const d = new Date(nowMs);
    d.setHours(0, 0, 0, 0);
    if (t === 'yesterday') d.setDate(d.getDate() - 1);
    return { sec: Math.floor(d.getTime() / 1000), nsec: 0 };
  }
  const rel = /^([+-])(\d{1,9})([smhd])$/.exec(t);
  if (rel) {
    const delta = Number(rel[2]) * UNIT_SECONDS[rel[3]];
    return { sec: nowInstant.sec + (rel[1] === '-' ? -delta : delta), nsec: nowInstant.nsec };
  }
  const rfc = parseRfc3339(t);
  if (rfc) return rfc;
  const local = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(t);
  if (local) {
    const [y, mo, d, h, mi, s] = local.slice(1).map((v) => (v === undefined ? 0 : Number(v)));
    const date = new Date(y, mo - 1, d, h, mi, s);
    // Date rolls 2026-02-31 over to March: a date that does not come back as given does not exist.
    if (date.getFullYear() !== y || date.getMonth() !== mo - 1 || date.getDate() !== d || date.getHours() !== h || date.getMinutes() !== mi || mi > 59 || s > 59) {
      throw new TimeSpecError(`no such time: "${text}"`);
    }
    return { sec: Math.floor(date.getTime() / 1000), nsec: 0 };
  }
  throw new TimeSpecError(
    `cannot read "${text}" as a time: give RFC 3339 (2026-12-02T21:00:00Z), YYYY-MM-DD[ HH:MM[:SS]] (local time), now, today, yesterday, or -90s, -15m, -2h, -3d`,
  );
}
