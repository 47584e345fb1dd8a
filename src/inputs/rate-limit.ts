/**
 * Rate limits per source, as journald's (RateLimitBurst, RateLimitIntervalSec):
 * at most `burst` entries per `interval` per source; the rest are dropped and
 * counted. Dropping is never silent: when a source's interval ends, one entry
 * from memlogd says how many of its lines were suppressed. That is checked on
 * the source's next entry, and by a timer for a source that has stopped.
 *
 * Times are the entries' receipt times, in milliseconds. One window per
 * source (name and sender): a window starts with the first entry after the
 * previous one ended.
 */
import type { Source } from '../ring/sources.js';

export interface RateLimitOptions {
  burst: number;
  intervalMs: number;
}

/** One source's window. Held by the inputs that feed the source; kept until its window ends with no one holding it. */
export class SourceLimit {
  windowStart = -Infinity;
  count = 0;
  /** Entries dropped in the current window. */
  suppressed = 0;
  /** Inputs holding this limit. */
  refs = 0;

  constructor(
    private readonly limiter: RateLimiter,
    readonly source: Source,
  ) {}

  /** Whether an entry received at `ms` may go into the ring; a window that ended is reported first. */
  admit(ms: number): boolean {
    if (ms >= this.windowStart + this.limiter.intervalMs) {
      if (this.suppressed > 0) this.limiter.report(this);
      this.windowStart = ms;
      this.count = 0;
    }
    if (this.count < this.limiter.burst) {
      this.count++;
      return true;
    }
    if (this.suppressed++ === 0) this.limiter.pending.add(this);
    this.limiter.suppressedTotal++;
    return false;
  }
}

export interface SuppressionReport {
  source: Source;
  count: number;
  burst: number;
  intervalMs: number;
}

/** Lifetime counts per source kept for status; beyond this many sources, only the total. */
const MAX_COUNTED_SOURCES = 1024;

export class RateLimiter {
  readonly burst: number;
  readonly intervalMs: number;
  private readonly limits = new Map<string, SourceLimit>();
  /** Limits with entries suppressed in their current window. */
  readonly pending = new Set<SourceLimit>();
  suppressedTotal = 0;
  /** Suppressed entries by source key, for status (bounded). */
  private readonly counted = new Map<string, { source: string; pid?: number; uid?: number; gid?: number; count: number }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    opts: RateLimitOptions,
    /** Adds the report entry (source memlogd) to the ring. */
    private readonly onReport: (report: SuppressionReport) => void,
    /** Now, in ms, on the clock entries are stamped with. */
    private readonly now: () => number,
  ) {
    this.burst = opts.burst;
    this.intervalMs = opts.intervalMs;
  }

  /** The limit of a source, with one more holder (release it when done). */
  acquire(source: Source): SourceLimit {
    let limit = this.limits.get(source.key);
    // A source freed and made again under the same key is a new object: its limit goes with the key.
    if (!limit) {
      limit = new SourceLimit(this, source);
      this.limits.set(source.key, limit);
      this.arm();
    }
    limit.refs++;
    return limit;
  }

  release(limit: SourceLimit): void {
    limit.refs--;
  }

  /** Called by a limit whose window ended with entries suppressed. */
  report(limit: SourceLimit): void {
    const count = limit.suppressed;
    limit.suppressed = 0;
    this.pending.delete(limit);
    const source = limit.source;
    let counted = this.counted.get(source.key);
    if (!counted && this.counted.size < MAX_COUNTED_SOURCES) {
      counted = { source: source.name, ...source.sender, count: 0 };
      this.counted.set(source.key, counted);
    }
    if (counted) counted.count += count;
    this.onReport({ source, count, burst: this.burst, intervalMs: this.intervalMs });
  }

  /** Reports every window that has ended, and forgets limits nobody holds whose window is over. */
  sweep(): void {
    const now = this.now();
    for (const limit of this.pending) {
      if (now >= limit.windowStart + this.intervalMs) this.report(limit);
    }
    for (const [key, limit] of this.limits) {
      if (limit.refs === 0 && limit.suppressed === 0 && now >= limit.windowStart + this.intervalMs) this.limits.delete(key);
    }
    if (this.limits.size === 0) this.disarm();
  }

  /** A sweep every interval (at most every 100 ms, at least every 5 s) while there are limits. */
  private arm(): void {
    if (this.timer) return;
    const period = Math.min(5000, Math.max(100, this.intervalMs));
    this.timer = setInterval(() => this.sweep(), period);
    this.timer.unref();
  }

  private disarm(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** For status: the total, and per source (the sources suppressed most first). */
  describe(): { total: number; sources: Record<string, unknown>[]; pending: number } {
    let pending = 0;
    for (const limit of this.pending) pending += limit.suppressed;
    const sources = [...this.counted.values()].sort((a, b) => b.count - a.count);
    return { total: this.suppressedTotal, sources, pending };
  }

  close(): void {
    this.disarm();
  }
}

/** `30s`, `500ms`, `1m`, `1h`, or a bare number of seconds, to milliseconds. */
export function parseDuration(text: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new RangeError(`-rate-limit-interval must be a duration such as 30s, 500ms or 1m, not "${text}"`);
  const unit = m[2] ?? 's';
  const ms = Number(m[1]) * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000);
  if (!(ms >= 1 && ms <= 24 * 3_600_000)) throw new RangeError(`-rate-limit-interval must be from 1ms to 24h, not "${text}"`);
  return Math.round(ms);
}
