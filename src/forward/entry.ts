/**
 * One entry as the forwarder reads it from memlogd's query socket, with what
 * every destination's encoding needs: receipt time (seconds and nanoseconds
 * exact), source, message, the daemon's id and seq (a receiver deduplicates
 * on the two), the sender's pid, severity and facility when known, syslog's
 * own fields when the entry came in as syslog, and a loss marker's counts.
 */
import { parseRfc3339 } from '../entry/rfc3339.js';

export interface LossCounts {
  from: number;
  to: number;
  count: number;
  sources: Record<string, number>;
  unknown: number;
}

export interface ForwardEntry {
  /** Receipt time, RFC 3339 with nanoseconds, UTC, as memlogd sent it. */
  time: string;
  /** The same instant: whole seconds since the epoch, and nanoseconds within it. */
  sec: number;
  nsec: number;
  source: string;
  msg: string;
  /** The id of the daemon whose seq this is (undefined: an upstream daemon, which has none). */
  daemon?: string;
  seq?: number;
  pid?: number;
  uid?: number;
  gid?: number;
  /** 0-7 when known. */
  severity?: number;
  /** 0-23 when known (the entry came in as syslog). */
  facility?: number;
  /** Syslog's MSGID, when the entry came in as RFC 5424 syslog with one. */
  msgid?: string;
  /** Syslog's STRUCTURED-DATA as the sender wrote it, when it had some. */
  sd?: string;
  /** Set on memlogd's loss markers: entries that left the ring before this reader got them. */
  lost?: LossCounts;
  /**
   * When the entry was read without making a string of msg (wire-entry.ts):
   * the length of msg's UTF-8 bytes, and a copy of them into out at `at`.
   */
  readonly msgByteLength?: number;
  copyMsgTo?(out: Buffer, at: number): number;
}

function whole(v: unknown, min: number, max: number): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max ? v : undefined;
}

function lossCounts(v: unknown): LossCounts | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const l = v as Record<string, unknown>;
  const from = whole(l.from, -1, Number.MAX_SAFE_INTEGER);
  const to = whole(l.to, -1, Number.MAX_SAFE_INTEGER);
  const count = whole(l.count, 0, Number.MAX_SAFE_INTEGER);
  if (from === undefined || to === undefined || count === undefined) return undefined;
  const sources: Record<string, number> = {};
  if (typeof l.sources === 'object' && l.sources !== null) {
    for (const [k, n] of Object.entries(l.sources as Record<string, unknown>)) if (typeof n === 'number') sources[k] = n;
  }
  return { from, to, count, sources, unknown: whole(l.unknown, 0, Number.MAX_SAFE_INTEGER) ?? 0 };
}

/**
 * Parses one line of the query socket; undefined if it is not an entry (the
 * caller says so and goes on). `daemon` is the id from the connection's hello.
 */
export function parseForwardEntry(line: Buffer, daemon: string | undefined): ForwardEntry | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const e = v as Record<string, unknown>;
  if (typeof e.time !== 'string' || typeof e.source !== 'string' || typeof e.msg !== 'string') return undefined;
  const t = parseRfc3339(e.time);
  if (!t) return undefined;
  const entry: ForwardEntry = { time: e.time, sec: t.sec, nsec: t.nsec, source: e.source, msg: e.msg };
  const seq = whole(e.seq, 0, Number.MAX_SAFE_INTEGER);
  if (seq !== undefined) {
    entry.seq = seq;
    entry.daemon = daemon;
  }
  const pid = whole(e.pid, 0, 2 ** 32);
  if (pid !== undefined) entry.pid = pid;
  const uid = whole(e.uid, 0, 2 ** 32);
  if (uid !== undefined) entry.uid = uid;
  const gid = whole(e.gid, 0, 2 ** 32);
  if (gid !== undefined) entry.gid = gid;
  const severity = whole(e.severity, 0, 7);
  if (severity !== undefined) entry.severity = severity;
  const facility = whole(e.facility, 0, 23);
  if (facility !== undefined) entry.facility = facility;
  if (typeof e.msgid === 'string') entry.msgid = e.msgid;
  if (typeof e.sd === 'string') entry.sd = e.sd;
  if (e.source === 'memlogd') {
    const lost = lossCounts(e.lost);
    if (lost) entry.lost = lost;
  }
  return entry;
}
