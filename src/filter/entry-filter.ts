/**
 * One filter, as logread's flags give it and query mode 5 carries it, and the
 * test of one parsed entry against it: for the disk, and for the client side
 * when the daemon cannot filter (an upstream memlogd). The daemon tests ring
 * entries against the same filter without parsing them (src/outputs).
 */
import { SourceMatcher } from './glob.js';
import { DEFAULT_SEVERITY } from './levels.js';
import { compilePattern, type Pattern } from './pattern.js';
import { compareInstants, type Instant } from './time-spec.js';

export interface Filter {
  /** Globs: any of them (none = every source). */
  sources: string[];
  /** Globs: none of them. */
  exclude: string[];
  /** Receipt time at or after this. */
  since?: Instant;
  /** Receipt time at or before this. */
  until?: Instant;
  grep?: string;
  ignoreCase?: boolean;
  /** 0-7: this severity or more urgent (a lower number); entries without one count as info (6). */
  priority?: number;
}

/** An entry as the disk or the wire gives it. */
export interface FilterableEntry {
  sec: number;
  nsec: number;
  source: string;
  msg: string;
  severity?: number;
}

export class CompiledFilter {
  readonly sources: SourceMatcher;
  readonly pattern: Pattern | undefined;

  constructor(readonly filter: Filter) {
    this.sources = new SourceMatcher(filter.sources, filter.exclude);
    this.pattern = filter.grep === undefined ? undefined : compilePattern(filter.grep, filter.ignoreCase === true);
  }

  /** Admits every entry. */
  get all(): boolean {
    const f = this.filter;
    return this.sources.all && !f.since && !f.until && !this.pattern && (f.priority === undefined || f.priority >= 7);
  }

  inWindow(sec: number, nsec: number): boolean {
    const t = { sec, nsec };
    if (this.filter.since && compareInstants(t, this.filter.since) < 0) return false;
    if (this.filter.until && compareInstants(t, this.filter.until) > 0) return false;
    return true;
  }

  severityPasses(severity: number | undefined): boolean {
    const p = this.filter.priority;
    return p === undefined || (severity ?? DEFAULT_SEVERITY) <= p;
  }

  matches(e: FilterableEntry): boolean {
    if (!this.severityPasses(e.severity)) return false;
    if (!this.inWindow(e.sec, e.nsec)) return false;
    if (!this.sources.matches(e.source)) return false;
    if (this.pattern) {
      this.pattern.regexp.lastIndex = 0;
      if (!this.pattern.regexp.test(e.msg)) return false;
    }
    return true;
  }
}
