/** What logread is asked to do, once its flags are read (src/cli/logread-flags.ts), and the request it makes of it. */
import type { Writable } from 'node:stream';
import { CompiledFilter, type Filter } from '../filter/entry-filter.js';
import { MODE_DUMP, MODE_DUMP_FOLLOW, MODE_FOLLOW } from '../protocol/wire.js';
import type { OutputFormat } from './entry-formats.js';

export interface LogreadOptions {
  socket: string;
  /** No flag: dump; -f: follow; -F: dump then follow. */
  read: 'dump' | 'follow' | 'dump-follow';
  /** -n: only the last n matching entries of the ring (then follow, with -f or -F). */
  last?: number;
  filter: Filter;
  format: OutputFormat;
  /** -after-seq: only entries after this one. */
  afterSeq?: number;
  /** -daemon: whose seq afterSeq is (default: the daemon running). */
  daemon?: string;
  /** -log-dir: also what the persister wrote there. */
  logDir?: string;
  out: Writable;
  /** Told about what is not an entry, and once that the daemon cannot filter. */
  warn(msg: string): void;
  /** How long a daemon may say nothing to a filter request before it is taken for an upstream one. */
  helloTimeoutMs?: number;
  /**
   * Stops the reading when aborted: memlogd's connection is closed at once and
   * logread settles (memlog web: the browser went away mid-dump).
   */
  signal?: AbortSignal;
}

/** Whether the options need more than upstream's protocol gives: then logread sends a filter request. */
export function needsFilter(opts: LogreadOptions): boolean {
  return !new CompiledFilter(opts.filter).all || opts.last !== undefined || opts.afterSeq !== undefined || opts.format === 'json' || opts.logDir !== undefined;
}

/** The mode to ask for: -f with -n or -after-seq wants part of the ring first, as journalctl -f -n does. */
export function readMode(opts: Pick<LogreadOptions, 'read' | 'last' | 'afterSeq'>): 0 | 1 | 2 {
  if (opts.read === 'dump') return MODE_DUMP;
  if (opts.read === 'dump-follow') return MODE_DUMP_FOLLOW;
  return opts.last !== undefined || opts.afterSeq !== undefined ? MODE_DUMP_FOLLOW : MODE_FOLLOW;
}
