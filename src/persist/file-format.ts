/**
 * What one line of a log file says, in either format (`-format`):
 *   text (upstream's): `<time, RFC 3339 seconds> <source> <msg>`
 *   json: `{"time":"<RFC3339Nano>","source":"…","msg":"…","seq":N,"daemon":"…"[,"pid":…,"uid":…,"gid":…]}`
 * and the persister's own marker lines (entries lost, memlogd restarted) in
 * each. The fast path for ordinary entries is in wire-line.ts; this is the
 * slow one, for everything else.
 */
import { formatRfc3339Nano, formatRfc3339Seconds, parseRfc3339 } from '../entry/rfc3339.js';
import { isPlainUtcTime } from './wire-line.js';

export type FileFormat = 'text' | 'json';
export const FILE_FORMATS: readonly FileFormat[] = ['text', 'json'];

/** What a marker line says happened: json lines carry it as `"memlog":"<kind>"` (and no seq). */
export type MarkerKind = 'lost' | 'restarted';

/** The line upstream writes: `<time, RFC3339 seconds> <source> <msg>`. */
export function fileLine(time: string, source: string, msg: string): string {
  // Our daemon and upstream's both send UTC with a Z: cut the fraction (the same rule as the fast path). Anything else goes the long way.
  const bytes = Buffer.from(time);
  const stamp = isPlainUtcTime(bytes, 0, bytes.length) ? time.slice(0, 19) + 'Z' : secondsOf(time);
  return `${stamp} ${source} ${msg}\n`;
}

function secondsOf(time: string): string {
  const t = parseRfc3339(time);
  return t ? formatRfc3339Seconds(t.sec) : time;
}

/** Fields a json line puts first, in this order; any others the wire has follow. */
const LEADING = ['time', 'source', 'msg', 'seq', 'daemon', 'pid', 'uid', 'gid'];

/**
 * A wire entry as a json file line: every field it has, the daemon id after
 * the seq (only an entry with a seq has one: seqs are the daemon's).
 */
export function jsonFileLine(entry: Record<string, unknown>, daemon: string | undefined): string {
  const out: Record<string, unknown> = { time: entry.time, source: entry.source, msg: entry.msg };
  if (typeof entry.seq === 'number') {
    out.seq = entry.seq;
    if (daemon !== undefined) out.daemon = daemon;
  }
  for (const key of ['pid', 'uid', 'gid']) if (typeof entry[key] === 'number') out[key] = entry[key];
  for (const key of Object.keys(entry)) if (!LEADING.includes(key)) out[key] = entry[key];
  return JSON.stringify(out) + '\n';
}

/** The file line of an entry in the given format. */
export function entryLine(format: FileFormat, entry: { time: string; source: string; msg: string } & Record<string, unknown>, daemon: string | undefined): string {
  return format === 'json' ? jsonFileLine(entry, daemon) : fileLine(entry.time, entry.source, entry.msg);
}

/** A marker line: `time` as the wire gives it (a loss) or now (a restart); text keeps its seconds, json all of it. */
export function markerLine(format: FileFormat, time: string, source: string, msg: string, kind: MarkerKind): string {
  if (format === 'text') return fileLine(time, source, msg);
  return JSON.stringify({ time, source, msg, memlog: kind }) + '\n';
}

/** Now, as a wire time (RFC3339Nano, to the millisecond the clock gives here). */
export function nowTime(): string {
  const ms = Date.now();
  const sec = Math.floor(ms / 1000);
  return formatRfc3339Nano(sec, (ms - sec * 1000) * 1_000_000);
}
