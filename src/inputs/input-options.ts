/** What memlogd gives every input that feeds the ring (the log socket, syslog, kmsg). */
import type { RateLimiter } from './rate-limit.js';

export interface RingInputOptions {
  /** Longer lines are cut to this. */
  maxLineLen: number;
  /** Rate limits per source, if on. */
  limiter?: RateLimiter;
  /** The daemon's own log (entries with source memlogd). */
  log(msg: string): void;
  /** New entries are in the ring. */
  onData(): void;
}
