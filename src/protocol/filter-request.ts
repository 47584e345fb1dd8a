/**
 * Query mode 5 (our extension): a filtered dump, follow, or dump then follow.
 * The byte 5, then one line of JSON (at most MAX_FILTER_LINE bytes):
 *
 *   {"mode":0|1|2, "daemon":"<id>", "after":<seq>, "last":<n>,
 *    "sources":["glob",...], "exclude":["glob",...],
 *    "since":"<RFC 3339>", "until":"<RFC 3339>",
 *    "grep":"<regexp>", "ignoreCase":true, "priority":<0-7>}
 *
 * Only `mode` is required. `daemon`/`after` resume as mode 3 does (the dump
 * part starts after `after` when `daemon` is this daemon's id); `last` keeps
 * only the last n matching entries of the dump part. The daemon answers a
 * hello line (as mode 3, with `"filter":true`), then only the entries that
 * match; a bad request gets one `error:` entry, then the connection closes.
 * An upstream daemon ignores byte 5 and says nothing: clients take silence
 * for an upstream daemon and filter on their side.
 */
import { GlobError, globToRegExp } from '../filter/glob.js';
import type { Filter } from '../filter/entry-filter.js';
import { compilePattern, PatternError } from '../filter/pattern.js';
import { parseRfc3339, formatRfc3339Nano } from '../entry/rfc3339.js';
import { MODE_DUMP, MODE_DUMP_FOLLOW, MODE_FOLLOW, RequestError, parseRequestObject } from './wire.js';

export const MODE_FILTER = 5;
/** Longest filter request line, in bytes. */
export const MAX_FILTER_LINE = 64 * 1024;
/** Most globs in one request. */
export const MAX_GLOBS = 64;

export interface FilterRequest {
  /** 0 dump, 1 follow, 2 dump then follow. */
  mode: typeof MODE_DUMP | typeof MODE_FOLLOW | typeof MODE_DUMP_FOLLOW;
  daemon?: string;
  after?: number;
  last?: number;
  filter: Filter;
}

/** The bytes a client sends (the mode byte and the line). */
export function encodeFilterRequest(req: FilterRequest): Buffer {
  const f = req.filter;
  const body: Record<string, unknown> = { mode: req.mode };
  if (req.daemon !== undefined) body.daemon = req.daemon;
  if (req.after !== undefined) body.after = req.after;
  if (req.last !== undefined) body.last = req.last;
  if (f.sources.length > 0) body.sources = f.sources;
  if (f.exclude.length > 0) body.exclude = f.exclude;
  if (f.since) body.since = formatRfc3339Nano(f.since.sec, f.since.nsec);
  if (f.until) body.until = formatRfc3339Nano(f.until.sec, f.until.nsec);
  if (f.grep !== undefined) body.grep = f.grep;
  if (f.ignoreCase) body.ignoreCase = true;
  if (f.priority !== undefined) body.priority = f.priority;
  return Buffer.concat([Buffer.from([MODE_FILTER]), Buffer.from(JSON.stringify(body) + '\n')]);
}

function globs(value: unknown, field: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > MAX_GLOBS || !value.every((g) => typeof g === 'string')) {
    throw new RequestError(`filter request: "${field}" must be a list of at most ${MAX_GLOBS} strings`);
  }
  for (const g of value as string[]) {
    try {
      globToRegExp(g);
    } catch (err) {
      if (err instanceof GlobError) throw new RequestError(`filter request: "${field}": ${err.message}`);
      throw err;
    }
  }
  return value as string[];
}

function time(value: unknown, field: string): { sec: number; nsec: number } | undefined {
  if (value === undefined) return undefined;
  const t = typeof value === 'string' ? parseRfc3339(value) : undefined;
  if (!t) throw new RequestError(`filter request: "${field}" must be an RFC 3339 time`);
  return t;
}

function whole(value: unknown, field: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new RequestError(`filter request: "${field}" must be a whole number from ${min} to ${max}`);
  }
  return value;
}

/** Parses the JSON line after the mode byte; throws RequestError for anything malformed. */
export function parseFilterRequest(line: Buffer): FilterRequest {
  const v = parseRequestObject(line, 'filter request');
  const mode = v.mode;
  if (mode !== MODE_DUMP && mode !== MODE_FOLLOW && mode !== MODE_DUMP_FOLLOW) {
    throw new RequestError('filter request: "mode" must be 0 (dump), 1 (follow) or 2 (dump then follow)');
  }
  if (v.daemon !== undefined && (typeof v.daemon !== 'string' || v.daemon.length > 64)) {
    throw new RequestError('filter request: "daemon" must be a string of at most 64 characters');
  }
  if (v.grep !== undefined && typeof v.grep !== 'string') throw new RequestError('filter request: "grep" must be a string');
  if (v.ignoreCase !== undefined && typeof v.ignoreCase !== 'boolean') throw new RequestError('filter request: "ignoreCase" must be true or false');
  const filter: Filter = {
    sources: globs(v.sources, 'sources'),
    exclude: globs(v.exclude, 'exclude'),
    since: time(v.since, 'since'),
    until: time(v.until, 'until'),
    grep: v.grep as string | undefined,
    ignoreCase: v.ignoreCase === true,
    priority: whole(v.priority, 'priority', 0, 7),
  };
  if (filter.grep !== undefined) {
    try {
      compilePattern(filter.grep, filter.ignoreCase === true);
    } catch (err) {
      if (err instanceof PatternError) throw new RequestError(`filter request: "grep": ${err.message}`);
      throw err;
    }
  }
  return {
    mode,
    daemon: v.daemon as string | undefined,
    after: whole(v.after, 'after', -1),
    last: whole(v.last, 'last', 0),
    filter,
  };
}
