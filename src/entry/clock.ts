/**
 * The wall clock with nanosecond resolution, read once per chunk of input.
 * CLOCK_REALTIME rather than a monotonic clock anchored at start: on a machine
 * that is still booting, the clock is often set after memlogd starts.
 */
import { clockRealtime } from '../native.js';

const now = new Float64Array(2);

/** Reads the clock; the result is in `clock.sec` and `clock.nsec` until the next call. */
export const clock = {
  sec: 0,
  nsec: 0,
  read(): void {
    clockRealtime(now);
    this.sec = now[0];
    this.nsec = now[1];
  },
};
