/**
 * A syslog message as a ring entry: its source is the tag (APP-NAME), made
 * safe as stream names are, or `syslog` without one; its sender (pid, uid,
 * gid) is what the kernel says, never what the text claims; severity and
 * facility go into the ring's arrays (a message without a valid PRI is
 * user.notice, as syslogd takes it); everything else the header said goes
 * into the entry's meta fragment, written after the entry's own fields:
 *   ,"transport":"syslog","timestamp":"Dec  2 21:00:00","hostname":"h","claimedPid":123,"msgid":"ID47","sd":"[x@1 a=\"b\"]"
 */
import { NONE, type Ring } from '../../ring/ring.js';
import type { Source } from '../../ring/sources.js';
import { MAX_NAME_BYTES } from '../../protocol/wire.js';
import { sourceName } from '../source-name.js';
import type { SourceLimit, RateLimiter } from '../rate-limit.js';
import type { SyslogMessage } from './parse.js';

export const SYSLOG_SOURCE = 'syslog';
/** As syslogd: a message without a PRI is user.notice. */
const DEFAULT_FACILITY = 1;
const DEFAULT_SEVERITY = 5;
/** Longest text kept of the short header fields, and of the structured data. */
const MAX_FIELD = 255;
const MAX_SD = 4096;

export type Transport = 'syslog' | 'syslog-stream';

// Tags repeat (a sender's every message has its tag): their source names are kept, up to this many.
const NAME_CACHE_MAX = 1024;
const names = new Map<string, string>();

/** The source name of a message: its tag, made safe (at most 512 bytes, no control characters), or `syslog`. */
export function syslogSourceName(tag: string | undefined): string {
  if (tag === undefined || tag === '') return SYSLOG_SOURCE;
  let name = names.get(tag);
  if (name === undefined) {
    const bytes = Buffer.from(tag, 'utf8');
    const truncated = bytes.length > MAX_NAME_BYTES;
    name = sourceName(truncated ? bytes.subarray(0, MAX_NAME_BYTES) : bytes, truncated).name;
    if (names.size >= NAME_CACHE_MAX) names.clear();
    names.set(tag, name);
  }
  return name;
}

function field(key: string, value: string, max: number): string {
  return `,"${key}":${JSON.stringify(value.length > max ? value.slice(0, max) : value)}`;
}

/** A claimed pid as a number if it is 1 to 10 digits, else -1. */
function claimedPid(pid: string): number {
  if (pid.length > 10) return -1;
  let n = 0;
  for (let i = 0; i < pid.length; i++) {
    const c = pid.charCodeAt(i) - 0x30;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return pid.length > 0 ? n : -1;
}

// The last meta fragment made, and what it was made of: messages in a row
// mostly share all of it (no host, the same second, a pid that is the sender's).
let last = { transport: '', timestamp: '', hostname: '', pid: '', msgid: '', sd: '', meta: Buffer.alloc(0) };
/** msg.pid as it shows in the meta: '' when absent or the sender's own. */
const SAME_PID = '';

/** The meta fragment of a message (sender: the kernel's pid, to tell a claimed pid that differs). */
export function syslogMeta(msg: SyslogMessage, transport: Transport, senderPid: number | undefined): Buffer {
  let pid = SAME_PID;
  let claimed = -1;
  if (msg.pid !== undefined) {
    claimed = claimedPid(msg.pid);
    if (claimed < 0 || claimed !== senderPid) pid = msg.pid;
  }
  // An absent field compares as '\0', which no parsed field can be (each is printable bytes).
  const timestamp = msg.timestamp ?? '\0';
  const hostname = msg.hostname ?? '\0';
  const msgid = msg.msgid ?? '\0';
  const sd = msg.sd ?? '\0';
  if (last.transport === transport && last.timestamp === timestamp && last.hostname === hostname && last.pid === pid && last.msgid === msgid && last.sd === sd) return last.meta;

  let meta = `,"transport":"${transport}"`;
  if (msg.timestamp !== undefined) meta += field('timestamp', msg.timestamp, MAX_FIELD);
  if (msg.hostname !== undefined) meta += field('hostname', msg.hostname, MAX_FIELD);
  if (pid !== SAME_PID) meta += claimed < 0 ? field('claimedPid', pid, MAX_FIELD) : `,"claimedPid":${claimed}`;
  if (msg.msgid !== undefined) meta += field('msgid', msg.msgid, MAX_FIELD);
  // Structured data too long to keep whole is left out rather than cut into something that does not parse.
  if (msg.sd !== undefined) meta += msg.sd.length <= MAX_SD ? field('sd', msg.sd, MAX_SD) : ',"sdOmitted":true';
  const made = Buffer.from(meta);
  last = { transport, timestamp, hostname, pid, msgid, sd, meta: made };
  return made;
}

/**
 * Adds one message, received at sec/nsec, to the ring. Returns false when the
 * source's rate limit dropped it.
 */
export function appendSyslog(
  ring: Ring,
  payload: Uint8Array,
  msg: SyslogMessage,
  transport: Transport,
  sender: readonly [number, number, number] | undefined,
  sec: number,
  nsec: number,
  maxLineLen: number,
  limiter: RateLimiter | undefined,
): boolean {
  const source: Source = ring.sources.acquire(syslogSourceName(msg.tag), sender);
  let limit: SourceLimit | undefined;
  try {
    if (limiter) {
      limit = limiter.acquire(source);
      if (!limit.admit(sec * 1000 + nsec / 1e6)) return false;
    }
    const severity = msg.hadPri && msg.severity !== undefined ? msg.severity : DEFAULT_SEVERITY;
    const facility = msg.hadPri && msg.facility !== undefined ? msg.facility : DEFAULT_FACILITY;
    let bytes = payload;
    let start = msg.msgStart;
    let end = msg.msgEnd;
    if (hasLineBreak(payload, start, end)) {
      bytes = escapeLineBreaks(payload, start, end);
      start = 0;
      end = bytes.length;
    }
    end = Math.min(end, start + maxLineLen);
    ring.appendWith(source.id, sec, nsec, bytes, start, Math.max(start, end), severity & 7, facility <= 23 ? facility : NONE, syslogMeta(msg, transport, sender?.[0]));
    return true;
  } finally {
    if (limit) limiter?.release(limit);
    // The ring holds its own reference for each entry.
    ring.sources.release(source.id);
  }
}

function hasLineBreak(buf: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i] === 0x0a || buf[i] === 0x0d) return true;
  return false;
}

/**
 * A message with line breaks inside (a stream line cannot have one; a
 * datagram can) is one entry still, but every reader that prints entries as
 * lines (logread's text formats, the persister's files) would print a forged
 * line: the breaks become `#012` and `#015`, as rsyslog writes control
 * characters it receives.
 */
function escapeLineBreaks(buf: Uint8Array, start: number, end: number): Buffer {
  const parts: Buffer[] = [];
  let from = start;
  for (let i = start; i < end; i++) {
    const b = buf[i];
    if (b !== 0x0a && b !== 0x0d) continue;
    parts.push(Buffer.from(buf.subarray(from, i)), Buffer.from(b === 0x0a ? '#012' : '#015'));
    from = i + 1;
  }
  parts.push(Buffer.from(buf.subarray(from, end)));
  return Buffer.concat(parts);
}
