/**
 * Searches over the ring instead of scans: the entries of a time window, by
 * binary search over the ring's time runs; and, for byte searches through a
 * run of entries that lie back to back (Ring.runEnd), the entry that holds a
 * given byte.
 *
 * Receipt times rise with sequence numbers as long as the realtime clock
 * does. When it steps back (an NTP correction, a date set by hand), the
 * times are no longer sorted and the search may draw the window's bounds a
 * little off: some entries inside the window may be left out of a dump, but
 * every entry is still tested against the window one by one, so none outside
 * it is ever sent.
 */
import type { Ring } from '../ring/ring.js';
import type { Instant } from '../filter/time-spec.js';

function runBefore(ring: Ring, k: number, t: Instant): boolean {
  const sec = ring.timeRunSec(k);
  return sec < t.sec || (sec === t.sec && ring.timeRunNsec(k) < t.nsec);
}

function runAfter(ring: Ring, k: number, t: Instant): boolean {
  const sec = ring.timeRunSec(k);
  return sec > t.sec || (sec === t.sec && ring.timeRunNsec(k) > t.nsec);
}

/** The oldest entry held with a time at or after t (ring.next if none). */
export function firstAtOrAfter(ring: Ring, t: Instant): number {
  let lo = 0;
  let hi = ring.timeRunCount; // runs [lo, hi) unknown; runs before lo are before t
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (runBefore(ring, mid, t)) lo = mid + 1;
    else hi = mid;
  }
  return lo === ring.timeRunCount ? ring.next : Math.max(ring.first, ring.timeRunSeq(lo));
}

/** One past the newest entry held with a time at or before t (ring.first if none). */
export function endAtOrBefore(ring: Ring, t: Instant): number {
  let lo = 0;
  let hi = ring.timeRunCount; // the first run after t is in [lo, hi]
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (runAfter(ring, mid, t)) hi = mid;
    else lo = mid + 1;
  }
  return lo === ring.timeRunCount ? ring.next : Math.max(ring.first, ring.timeRunSeq(lo));
}

/** The entry in [from, to) (back to back in one buffer) whose message starts at or before position pos of it. */
export function entryAt(ring: Ring, from: number, to: number, pos: number): number {
  let lo = from;
  let hi = to - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (ring.offset(mid) <= pos) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
