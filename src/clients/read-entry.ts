/**
 * An entry as logread reads it off the wire: upstream's three fields, and
 * those our daemon adds when it has them (seq, sender, severity, a loss
 * marker, a skipped-entries report). Only what is well-formed is kept: the
 * line comes from another process.
 */
import { parseRfc3339 } from '../entry/rfc3339.js';
import type { CompiledFilter, FilterableEntry } from '../filter/entry-filter.js';
import { otherFields } from '../history/history-entry.js';
import type { WireEntry } from './query-client.js';

export interface ReadEntry extends WireEntry {
  seq?: number;
  pid?: number;
  uid?: number;
  gid?: number;
  /** 0 emerg .. 7 debug, when the daemon knows it. */
  severity?: number;
  /** A loss marker's account (PROTOCOL extensions), passed through as the daemon sent it. */
  lost?: unknown;
  /** A memlogd report of entries the -grep pattern took too long on (mode 5). */
  skipped?: number;
  /** Every other field the daemon sent (facility, a syslog message's transport, timestamp, ...), passed through to -o json. */
  extra?: Record<string, unknown>;
}

function wholeNumber(v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max ? v : undefined;
}

/** The entry on one wire line; undefined if the line is not one. */
export function parseReadEntry(line: Buffer): ReadEntry | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.time !== 'string' || typeof v.source !== 'string' || typeof v.msg !== 'string') return undefined;
  const entry: ReadEntry = { time: v.time, source: v.source, msg: v.msg };
  const seq = wholeNumber(v.seq, 0);
  if (seq !== undefined) entry.seq = seq;
  for (const id of ['pid', 'uid', 'gid'] as const) {
    const n = wholeNumber(v[id], 0, 0xffffffff);
    if (n !== undefined) entry[id] = n;
  }
  const severity = wholeNumber(v.severity, 0, 7);
  if (severity !== undefined) entry.severity = severity;
  if (v.lost !== undefined) entry.lost = v.lost;
  const skipped = wholeNumber(v.skipped, 0);
  if (skipped !== undefined) entry.skipped = skipped;
  const extra = otherFields(v);
  if (extra) entry.extra = extra;
  return entry;
}

/**
 * The entry as a filter tests it; undefined when its time cannot be read
 * (such an entry matches no time window, and every filter without one).
 */
export function filterable(entry: ReadEntry): FilterableEntry | undefined {
  const t = parseRfc3339(entry.time);
  if (!t) return undefined;
  return { sec: t.sec, nsec: t.nsec, source: entry.source, msg: entry.msg, severity: entry.severity };
}

/** Whether the filter admits the entry, tested on the client's side (the daemon could not filter). */
export function entryMatches(filter: CompiledFilter, entry: ReadEntry): boolean {
  const e = filterable(entry);
  if (e) return filter.matches(e);
  const f = filter.filter;
  if (f.since || f.until) return false;
  return filter.matches({ sec: 0, nsec: 0, source: entry.source, msg: entry.msg, severity: entry.severity });
}
