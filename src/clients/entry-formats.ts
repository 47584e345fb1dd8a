/**
 * How logread prints an entry (`-o`): `short`, upstream's
 * `<time>;<source>;<msg>` with any `;` in the source as `\;`; `short-iso`, as
 * journalctl's, `<local time to the second, with its offset> <source>: <msg>`;
 * `json`, one object per line with every field the daemon sent and its id;
 * `cat`, the message alone.
 */
import { parseRfc3339 } from '../entry/rfc3339.js';
import type { WireEntry } from './query-client.js';
import type { ReadEntry } from './read-entry.js';

export const OUTPUT_FORMATS = ['short', 'short-iso', 'json', 'cat'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export function isOutputFormat(text: string): text is OutputFormat {
  return (OUTPUT_FORMATS as readonly string[]).includes(text);
}

/** `short`: what upstream's logread prints. */
export function formatText(entry: WireEntry): string {
  return `${entry.time};${entry.source.replaceAll(';', '\\;')};${entry.msg}\n`;
}

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

let cachedSec = Number.NaN;
let cachedLocal = '';

/** `2026-12-03T02:30:00+0530`: the local time of sec (the process's TZ), as journalctl's short-iso. */
export function localIsoSeconds(sec: number): string {
  // Consecutive entries almost always share their second: Date work once per second.
  if (sec === cachedSec) return cachedLocal;
  const d = new Date(sec * 1000);
  const offset = -d.getTimezoneOffset();
  const abs = Math.abs(offset);
  cachedLocal =
    `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}` +
    `${offset < 0 ? '-' : '+'}${two(Math.floor(abs / 60))}${two(abs % 60)}`;
  cachedSec = sec;
  return cachedLocal;
}

/** `short-iso`; an entry whose time cannot be read keeps the time as sent. */
export function formatShortIso(entry: WireEntry): string {
  const t = parseRfc3339(entry.time);
  return `${t ? localIsoSeconds(t.sec) : entry.time} ${entry.source}: ${entry.msg}\n`;
}

/**
 * `json`: the daemon's fields in a fixed order, then any others it sent
 * (facility, a syslog message's fields), then `daemon`, its id, when
 * known (a cursor for `-after-seq` and `-daemon`; an upstream memlogd has
 * neither ids nor seqs).
 */
export function formatJson(entry: ReadEntry, daemon: string | undefined): string {
  const out: Record<string, unknown> = { time: entry.time, source: entry.source, msg: entry.msg };
  if (entry.seq !== undefined) out.seq = entry.seq;
  if (entry.pid !== undefined) out.pid = entry.pid;
  if (entry.uid !== undefined) out.uid = entry.uid;
  if (entry.gid !== undefined) out.gid = entry.gid;
  if (entry.severity !== undefined) out.severity = entry.severity;
  if (entry.lost !== undefined) out.lost = entry.lost;
  if (entry.extra) for (const [key, value] of Object.entries(entry.extra)) if (!(key in out)) out[key] = value;
  if (daemon !== undefined) out.daemon = daemon;
  return JSON.stringify(out) + '\n';
}

export function formatCat(entry: WireEntry): string {
  return `${entry.msg}\n`;
}

/** The printer for a format; daemon is the id json entries carry. */
export function entryFormatter(format: OutputFormat, daemon?: string): (entry: ReadEntry) => string {
  switch (format) {
    case 'short':
      return formatText;
    case 'short-iso':
      return formatShortIso;
    case 'json':
      return (entry) => formatJson(entry, daemon);
    case 'cat':
      return formatCat;
  }
}
