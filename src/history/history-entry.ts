/**
 * One entry of the history logread shows: from a log file the persister
 * wrote (either format), or from the ring. The time is memlogd's receipt time.
 */
import { parseRfc3339 } from '../entry/rfc3339.js';

export interface HistoryEntry {
  /** Receipt time; text-format lines have nsec 0. */
  sec: number;
  nsec: number;
  source: string;
  msg: string;
  /** Known for json lines and ring entries. */
  seq?: number;
  daemon?: string;
  pid?: number;
  uid?: number;
  gid?: number;
  severity?: number;
  /** The entry's other fields (facility, a syslog message's transport, timestamp, ...), passed through. */
  extra?: Record<string, unknown>;
  /** 's' for text-format lines: their time is cut to the second. */
  precision: 'ns' | 's';
}

/** Time order; equal times compare 0 (the caller decides ties). */
export function compareTimes(a: HistoryEntry, b: HistoryEntry): number {
  return a.sec !== b.sec ? a.sec - b.sec : a.nsec - b.nsec;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * An entry from a JSON object, as the wire or a json log file has it (fields
 * checked: the object is not trusted), or undefined if it is not one. daemon:
 * the id of the daemon the object came from, when the object does not say.
 */
export function historyEntryOf(value: unknown, daemon?: string): HistoryEntry | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const o = value as Record<string, unknown>;
  if (typeof o.time !== 'string' || typeof o.source !== 'string' || typeof o.msg !== 'string') return undefined;
  const t = parseRfc3339(o.time);
  if (!t) return undefined;
  const e: HistoryEntry = { sec: t.sec, nsec: t.nsec, source: o.source, msg: o.msg, precision: 'ns' };
  if (o.seq !== undefined) {
    if (!isCount(o.seq)) return undefined;
    e.seq = o.seq;
    const d = o.daemon ?? daemon;
    if (typeof d === 'string') e.daemon = d;
  }
  if (isCount(o.pid)) e.pid = o.pid;
  if (isCount(o.uid)) e.uid = o.uid;
  if (isCount(o.gid)) e.gid = o.gid;
  if (typeof o.severity === 'number' && Number.isInteger(o.severity) && o.severity >= 0 && o.severity <= 7) e.severity = o.severity;
  const extra = otherFields(o);
  if (extra) e.extra = extra;
  return e;
}

/** Fields every entry has, or that are read into their own properties; the rest are passed through. */
export const KNOWN_FIELDS: ReadonlySet<string> = new Set(['time', 'source', 'msg', 'seq', 'daemon', 'pid', 'uid', 'gid', 'severity']);

/** An entry object's fields other than the known ones, or undefined when it has none. */
export function otherFields(o: Record<string, unknown>): Record<string, unknown> | undefined {
  let extra: Record<string, unknown> | undefined;
  for (const key of Object.keys(o)) {
    if (KNOWN_FIELDS.has(key)) continue;
    (extra ??= {})[key] = o[key];
  }
  return extra;
}
