/**
 * A syslog message as local senders put it on /dev/log: RFC 3164 the way
 * glibc, musl, busybox and util-linux logger write it
 * (`<PRI>Mmm dd hh:mm:ss [HOST ]TAG[PID]: msg`, each part optional), and
 * RFC 5424 (`<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG`).
 *
 * Works on the datagram's bytes: the header fields become short strings, the
 * message stays a byte range. Every scan is bounded or moves forward once, so
 * the time is linear in the datagram; nothing throws.
 *
 * The rules follow rsyslog's parsers (measured against rsyslogd 8.2302, see
 * test/syslog-peers.test.ts), except where noted "unlike rsyslog":
 * - PRI: `<` 1+ digits (leading zeros allowed) `>`, value 0..191. Anything
 *   else starting with `<` (`<999>`, `<-1>`, `<`, and, unlike rsyslog, `<>`)
 *   is no PRI: the whole datagram is the message, format 'unknown'. A
 *   datagram not starting with `<` at all is read as 3164 without a PRI.
 * - 3164 timestamp: `Mmm dd hh:mm:ss` (day space-padded or not, an optional
 *   year before the time) or an RFC 3339 one, followed by a space or the end.
 * - HOST: a word of letters, digits, `.`, `-`, `_`, taken as a hostname only
 *   when a single space and a tag follow it (rsyslog's heuristic, which makes
 *   `myhost prog: x` a message from prog on myhost).
 * - TAG: up to 510 bytes (rsyslog's cap) of anything but space, controls,
 *   `:` `[` `]`, then `:` or `[PID]:`, then one space that is skipped. Unlike
 *   rsyslog, a first word not ending so is no tag but part of the message
 *   (rsyslog makes `hello world` a message from "hello"), and a longer word is
 *   no tag either (rsyslog cuts it at 510 and starts the message there).
 * - 5424: `1 ` after the PRI, then TIMESTAMP (`-` or starting `YYYY-MM-DDT`),
 *   HOST, APP-NAME, PROCID, MSGID, each 1+ printable ASCII bytes, `-` meaning
 *   none; SD `-` or elements `[...]`, each ending at its first `]` not escaped
 *   by a backslash, followed by a space or the end. A header that does not
 *   fit is read as 3164 instead. A broken SD (no closing `]`, or something
 *   other than a space after it) leaves sd undefined and the message starts
 *   where the SD should have been (unlike rsyslog, which cuts the bytes into
 *   an SD and a message at odd places). A BOM starting the message is dropped.
 * - Trailing newlines and NULs (Python's SysLogHandler ends every message with
 *   one) are not part of the message; NULs and bytes that are not UTF-8 inside
 *   it are kept as they are.
 */

export interface SyslogMessage {
  /** From a valid PRI (0-191); undefined when there is none or it is invalid (the daemon then uses user.notice). */
  facility?: number;
  severity?: number;
  hadPri: boolean;
  format: 'rfc3164' | 'rfc5424' | 'unknown';
  /** The sender's timestamp as sent. */
  timestamp?: string;
  hostname?: string;
  /** 3164 TAG / 5424 APP-NAME (undefined when absent or '-'). */
  tag?: string;
  /** 3164 [PID] / 5424 PROCID as sent (undefined when absent or '-'). */
  pid?: string;
  /** 5424 MSGID (undefined when '-'). */
  msgid?: string;
  /** 5424 structured data as sent (undefined when '-'). */
  sd?: string;
  /** The message's byte range within buf. */
  msgStart: number;
  msgEnd: number;
}

/** The longest tag taken, in bytes (rsyslog's: its TAG holds 511 bytes with the colon). */
export const MAX_TAG_BYTES = 510;
export const MAX_PID_BYTES = 128;
export const MAX_HOSTNAME_BYTES = 255;
export const MAX_PRI = 191;

const LT = 0x3c;
const GT = 0x3e;
const SP = 0x20;
const COLON = 0x3a;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const BACKSLASH = 0x5c;
const DASH = 0x2d;

const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

// Header fields repeat from message to message (a sender's tag and pid, the second's timestamp, the
// host): short ones are interned in a small table keyed by their bytes, so a repeat costs a hash and a
// compare instead of a new string.
const INTERN_SLOTS = 1024;
const INTERN_MAX = 64;
const internKeys = new Uint8Array(INTERN_SLOTS * INTERN_MAX);
const internLens = new Int32Array(INTERN_SLOTS).fill(-1);
const internStrings: string[] = new Array<string>(INTERN_SLOTS).fill('');

/** The bytes as a string (UTF-8; invalid sequences become U+FFFD). */
function text(buf: Uint8Array, s: number, e: number): string {
  const len = e - s;
  if (len > INTERN_MAX) return decoder.decode(buf.subarray(s, e));
  let h = 0x811c9dc5;
  for (let i = s; i < e; i++) h = Math.imul(h ^ buf[i], 0x01000193);
  const slot = (h >>> 0) & (INTERN_SLOTS - 1);
  const base = slot * INTERN_MAX;
  if (internLens[slot] === len) {
    let same = true;
    for (let i = 0; i < len; i++) {
      if (internKeys[base + i] !== buf[s + i]) {
        same = false;
        break;
      }
    }
    if (same) return internStrings[slot];
  }
  const str = decoder.decode(buf.subarray(s, e));
  internKeys.set(buf.subarray(s, e), base);
  internLens[slot] = len;
  internStrings[slot] = str;
  return str;
}

function isDigit(b: number): boolean {
  return b >= 0x30 && b <= 0x39;
}

export function parseSyslog(buf: Uint8Array, start: number, end: number): SyslogMessage {
  // Out-of-range arguments are clamped rather than thrown about: this parses untrusted input in a hot loop.
  if (!(start >= 0)) start = 0;
  if (start > buf.length) start = buf.length;
  if (!(end <= buf.length)) end = buf.length;
  if (end < start) end = start;
  let e = end;
  while (e > start && (buf[e - 1] === 0x0a || buf[e - 1] === 0)) e--;
  // Every key present from the start: one object shape for every message, whatever it holds.
  const m: SyslogMessage = {
    facility: undefined,
    severity: undefined,
    hadPri: false,
    format: 'unknown',
    timestamp: undefined,
    hostname: undefined,
    tag: undefined,
    pid: undefined,
    msgid: undefined,
    sd: undefined,
    msgStart: start,
    msgEnd: e,
  };
  let p = start;
  if (p < e && buf[p] === LT) {
    let i = p + 1;
    let value = 0;
    while (i < e && isDigit(buf[i])) {
      // Capped so a long run of digits stays a small number; still one pass.
      if (value <= MAX_PRI) value = value * 10 + (buf[i] - 0x30);
      i++;
    }
    if (i === p + 1 || i >= e || buf[i] !== GT || value > MAX_PRI) return m;
    m.hadPri = true;
    m.facility = value >> 3;
    m.severity = value & 7;
    m.format = 'rfc3164';
    p = i + 1;
    if (p + 1 < e && buf[p] === 0x31 && buf[p + 1] === SP && parse5424(buf, p + 2, e, m)) return m;
  }
  parse3164(buf, p, e, m);
  return m;
}

// ---------------------------------------------------------------------------
// RFC 3164

function parse3164(buf: Uint8Array, p: number, e: number, m: SyslogMessage): void {
  const ts = timestampEnd(buf, p, e);
  if (ts > p) {
    m.timestamp = text(buf, p, ts);
    p = ts < e ? ts + 1 : ts;
  }
  let h = p;
  while (h < e && h - p < MAX_HOSTNAME_BYTES && isHostByte(buf[h])) h++;
  if (h > p && h < e && buf[h] === SP && parseTag(buf, h + 1, e, m)) {
    m.hostname = text(buf, p, h);
    return;
  }
  if (!parseTag(buf, p, e, m)) m.msgStart = p;
}

/** Sets tag, pid and msgStart if a tag starts at p; false (m untouched) if none does. */
function parseTag(buf: Uint8Array, p: number, e: number, m: SyslogMessage): boolean {
  let i = p;
  while (i < e && i - p < MAX_TAG_BYTES && isTagByte(buf[i])) i++;
  if (i === p || i >= e) return false;
  let after: number;
  let pidStart = -1;
  let pidEnd = -1;
  if (buf[i] === COLON) {
    after = i + 1;
  } else if (buf[i] === LBRACKET) {
    let j = i + 1;
    while (j < e && j - i <= MAX_PID_BYTES && buf[j] > SP && buf[j] !== RBRACKET && buf[j] !== 0x7f) j++;
    if (j + 1 >= e || buf[j] !== RBRACKET || buf[j + 1] !== COLON) return false;
    pidStart = i + 1;
    pidEnd = j;
    after = j + 2;
  } else {
    return false;
  }
  m.tag = text(buf, p, i);
  if (pidEnd > pidStart) m.pid = text(buf, pidStart, pidEnd);
  m.msgStart = after < e && buf[after] === SP ? after + 1 : after;
  return true;
}

function isTagByte(b: number): boolean {
  return b > SP && b !== COLON && b !== LBRACKET && b !== RBRACKET && b !== 0x7f;
}

function isHostByte(b: number): boolean {
  return (b >= 0x61 && b <= 0x7a) || (b >= 0x41 && b <= 0x5a) || isDigit(b) || b === 0x2e || b === DASH || b === 0x5f;
}

// The month names' three bytes, packed in an integer (no string made to look one up).
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'].map((m) => (m.charCodeAt(0) << 16) | (m.charCodeAt(1) << 8) | m.charCodeAt(2));

/** Where a 3164 timestamp starting at p ends (before the space after it), or p if there is none. */
function timestampEnd(buf: Uint8Array, p: number, e: number): number {
  const end = bsdTimestampEnd(buf, p, e);
  const t = end > p ? end : rfc3339End(buf, p, e);
  return t > p && (t === e || buf[t] === SP) ? t : p;
}

function bsdTimestampEnd(buf: Uint8Array, p: number, e: number): number {
  if (e - p < 14) return p;
  if (!MONTHS.includes((buf[p] << 16) | (buf[p + 1] << 8) | buf[p + 2]) || buf[p + 3] !== SP) return p;
  let i = p + 4;
  if (buf[i] === SP) i++; // "Dec  2"
  const dayStart = i;
  while (i < e && i - dayStart < 2 && isDigit(buf[i])) i++;
  if (i === dayStart || i >= e || buf[i] !== SP) return p;
  i++;
  // An optional year ("Dec  2 2023 21:50:01"), as rsyslog takes.
  if (i + 4 < e && isDigit(buf[i]) && isDigit(buf[i + 1]) && isDigit(buf[i + 2]) && isDigit(buf[i + 3]) && buf[i + 4] === SP) i += 5;
  return clockEnd(buf, i, e);
}

/** hh:mm:ss at i: where it ends, or -1. */
function clockEnd(buf: Uint8Array, i: number, e: number): number {
  if (i + 8 > e) return -1;
  for (let k = 0; k < 8; k++) {
    const b = buf[i + k];
    if (k === 2 || k === 5 ? b !== COLON : !isDigit(b)) return -1;
  }
  return i + 8;
}

/** YYYY-MM-DDT followed by time characters; where it ends, or -1. */
function rfc3339End(buf: Uint8Array, p: number, e: number): number {
  if (e - p < 11) return -1;
  for (let k = 0; k < 10; k++) {
    const b = buf[p + k];
    if (k === 4 || k === 7 ? b !== DASH : !isDigit(b)) return -1;
  }
  if (buf[p + 10] !== 0x54) return -1;
  let i = p + 11;
  while (i < e && i - p < 64 && isTimeByte(buf[i])) i++;
  return i;
}

function isTimeByte(b: number): boolean {
  return isDigit(b) || b === COLON || b === 0x2e || b === 0x2b || b === DASH || b === 0x5a;
}

// ---------------------------------------------------------------------------
// RFC 5424

// Each header field is 1..max printable ASCII bytes (RFC 5424's limits; the timestamp's is ours).
const FIELD_MAX = [64, MAX_HOSTNAME_BYTES, 48, 128, 32];

// Where each header field starts and ends (reused: no allocation per message).
const bounds = new Int32Array(2 * FIELD_MAX.length);

function field(buf: Uint8Array, f: number): string | undefined {
  const s = bounds[2 * f];
  const t = bounds[2 * f + 1];
  return t - s === 1 && buf[s] === DASH ? undefined : text(buf, s, t);
}

/** The header after `<PRI>1 ` at p; false, with m untouched, when it does not fit 5424. */
function parse5424(buf: Uint8Array, p: number, e: number, m: SyslogMessage): boolean {
  let i = p;
  for (let f = 0; f < FIELD_MAX.length; f++) {
    const s = i;
    while (i < e && i - s < FIELD_MAX[f] && buf[i] > SP && buf[i] < 0x7f) i++;
    if (i === s) return false;
    // Every field but MSGID needs the space after it; MSGID may end the datagram.
    if (i < e ? buf[i] !== SP : f < FIELD_MAX.length - 1) return false;
    bounds[2 * f] = s;
    bounds[2 * f + 1] = i;
    i++;
  }
  const tsLen = bounds[1] - bounds[0];
  if (!(tsLen === 1 && buf[bounds[0]] === DASH) && rfc3339End(buf, bounds[0], bounds[1]) !== bounds[1]) return false;

  m.format = 'rfc5424';
  m.timestamp = field(buf, 0);
  m.hostname = field(buf, 1);
  m.tag = field(buf, 2);
  m.pid = field(buf, 3);
  m.msgid = field(buf, 4);

  let q = Math.min(i, e);
  if (q < e) {
    const sdEnd = structuredDataEnd(buf, q, e);
    if (sdEnd > q) {
      if (!(sdEnd - q === 1 && buf[q] === DASH)) m.sd = text(buf, q, sdEnd);
      q = sdEnd < e ? sdEnd + 1 : sdEnd;
    }
    // else: a broken SD; the message starts where it should have been.
  }
  if (q + 3 <= e && buf[q] === 0xef && buf[q + 1] === 0xbb && buf[q + 2] === 0xbf) q += 3;
  m.msgStart = q;
  return true;
}

/** Where the SD starting at p ends (it is followed by a space or the end), or p if it is broken. */
function structuredDataEnd(buf: Uint8Array, p: number, e: number): number {
  if (buf[p] === DASH) return p + 1 === e || buf[p + 1] === SP ? p + 1 : p;
  let i = p;
  while (i < e && buf[i] === LBRACKET) {
    const s = i;
    i++;
    while (i < e && buf[i] !== RBRACKET) i += buf[i] === BACKSLASH ? 2 : 1;
    if (i >= e || i === s + 1) return p;
    i++;
  }
  return i > p && (i === e || buf[i] === SP) ? i : p;
}
