/**
 * RFC 5424 encoding of one forwarded entry, and RFC 6587 octet-counting
 * framing of a batch (with, for RELP, a few bytes around each frame).
 *
 *   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD[ MSG]
 *
 * The forwarder's budget is about 2 µs of CPU per entry in all, so this
 * writes into one growing scratch buffer with two native writes per entry
 * (the header, the MSG), no regexes. What repeats from entry to entry is
 * cached: PRI and timestamp up to the seconds, hostname and each source's
 * APP-NAME (a bounded Map), the daemon id, the last sender SD validated.
 * A batch costs one allocation: the framed output, copied once from the
 * scratch buffer.
 */
import type { ForwardEntry } from './entry.js';
import type { MessageOptions } from './message-options.js';

// 32473 is the example Private Enterprise Number that RFC 5612 reserves for
// documentation: memlog has no PEN of its own. Receivers must not read
// meaning into it beyond "memlog's element".
export const MEMLOG_SD_ID = 'memlog@32473';
/** The SD-IDs we write ourselves; a sender's SD may not reuse them. */
const OUR_SD_IDS = ['meta', MEMLOG_SD_ID];
const MEMLOG_OPEN = '[' + MEMLOG_SD_ID;

const APP_NAME_MAX = 48;
const HOSTNAME_MAX = 255;
const MSGID_MAX = 32;
const SD_NAME_MAX = 32;
/** RFC 5424 7.3.1: sequenceId runs 1..2147483647. */
const SEQUENCE_ID_MAX = 2147483647;
/** Most sources (and msgids) remembered; then the oldest is forgotten. */
const NAME_CACHE_MAX = 4096;

const SP = 0x20;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const RBRACKET = 0x5d;

// ---------------------------------------------------------------------------
// How it is written.
//
// Everything up to the MSG is built from pieces that are "byte strings": one
// char per byte of their UTF-8 (Buffer's latin1), so the header is written
// with one latin1 write and its length is its byte count. The pieces that
// repeat are cached as such strings; only numbers are made per entry. Byte
// loops in JS cost more than this on the machines measured (a native write
// of a whole string beats storing bytes one at a time).

let out: Buffer = Buffer.allocUnsafeSlow(64 * 1024);
let pos = 0;

/** Room for n more bytes at pos (copying what is written so far when it grows). */
function room(n: number): void {
  if (pos + n <= out.length) return;
  let size = out.length * 2;
  while (size < pos + n) size *= 2;
  const bigger = Buffer.allocUnsafeSlow(size);
  out.copy(bigger, 0, 0, pos);
  out = bigger;
}

/**
 * Buffer's own string writers, under Buffer#write (which checks its
 * arguments and picks one by name on every call: a cost per entry here).
 * Node has had them for ever but does not document them, so they are
 * checked for once and Buffer#write stands in if they are gone.
 */
interface StringWriters {
  latin1Write(s: string, offset: number, length: number): number;
  utf8Write(s: string, offset: number, length: number): number;
}
const proto = Buffer.prototype as unknown as Partial<StringWriters>;
const haveWriters = typeof proto.latin1Write === 'function' && typeof proto.utf8Write === 'function';

/** Writes a byte string (one char per byte) at pos; returns the bytes written. */
function writeLatin1(s: string): number {
  return haveWriters ? (out as unknown as StringWriters).latin1Write(s, pos, out.length - pos) : out.write(s, pos, 'latin1');
}

/** Writes a string as UTF-8 at pos; returns the bytes written. */
function writeUtf8(s: string): number {
  return haveWriters ? (out as unknown as StringWriters).utf8Write(s, pos, out.length - pos) : out.write(s, pos, 'utf8');
}

/** What is written so far, copied out (the scratch buffer is reused). */
function written(): Buffer {
  const copy = Buffer.allocUnsafe(pos);
  out.copy(copy, 0, 0, pos);
  return copy;
}

/** A string as the byte string of its UTF-8 (a lone surrogate becomes U+FFFD's bytes). */
const byteString = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');

// ---------------------------------------------------------------------------
// Header fields.

const PRI_VERSION: string[] = Array.from({ length: 192 }, (_, pri) => `<${pri}>1 `);

/**
 * A name as a header field: each UTF-8 byte outside printable US-ASCII
 * (33..126) becomes `_`, cut at max bytes; `-` (the NILVALUE) if empty.
 */
function headerName(name: string, max: number): string {
  if (name === '') return '-';
  const bytes = Buffer.from(name, 'utf8');
  const n = Math.min(bytes.length, max);
  for (let i = 0; i < n; i++) if (bytes[i] < 33 || bytes[i] > 126) bytes[i] = 0x5f;
  return bytes.toString('latin1', 0, n);
}

/** A PARAM-VALUE as a byte string: UTF-8 with `"`, `\` and `]` escaped by a backslash (RFC 5424 6.3.3). */
export function escapeParamValue(value: string): string {
  let escaped = '';
  let from = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === QUOTE || c === BACKSLASH || c === RBRACKET) {
      escaped += value.slice(from, i) + '\\';
      from = i;
    }
  }
  return byteString(escaped + value.slice(from));
}

interface AppName {
  /** `Z HOSTNAME APP-NAME ` (the Z ends the TIMESTAMP) for the host it was made with. */
  hostApp: string;
  /** What ends our element after the ns value: `"]`, or `" source="..."]` when APP-NAME does not read back as the source. */
  tail: string;
  /** The same without its `"]`, for a loss marker's params to follow. */
  sourceParamOpen: string;
}

/** Per source; emptied when the hostname changes. */
const appNames = new Map<string, AppName>();
const msgIds = new Map<string, string>();
let appHost: string | undefined;
let hostFieldText = '-';

function remember<V>(map: Map<string, V>, key: string, value: V): V {
  if (map.size >= NAME_CACHE_MAX) map.delete(map.keys().next().value as string);
  map.set(key, value);
  return value;
}

function appName(source: string, hostname: string): AppName {
  if (hostname !== appHost) {
    appNames.clear();
    hostFieldText = headerName(hostname, HOSTNAME_MAX);
    appHost = hostname;
  }
  const known = appNames.get(source);
  if (known) return known;
  const field = headerName(source, APP_NAME_MAX);
  // The NILVALUE reads back as the empty source; anything else must read back as the source itself.
  const readsBack = field === '-' ? source === '' : field === source;
  const sourceParamOpen = readsBack ? '' : '" source="' + escapeParamValue(source);
  return remember(appNames, source, { hostApp: 'Z ' + hostFieldText + ' ' + field + ' ', tail: sourceParamOpen + '"]', sourceParamOpen });
}

function msgIdField(msgid: string): string {
  return msgIds.get(msgid) ?? remember(msgIds, msgid, headerName(msgid, MSGID_MAX));
}

let lastDaemon: string | undefined;
let lastDaemonParam = '';

/** ` daemon="..."`. */
function daemonParam(daemon: string): string {
  if (daemon !== lastDaemon) {
    lastDaemonParam = ' daemon="' + escapeParamValue(daemon) + '"';
    lastDaemon = daemon;
  }
  return lastDaemonParam;
}

// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z: what four year digits can say.
const SEC_MIN = -62167219200;
const SEC_MAX = 253402300799;

let stampSec = NaN;
/** `<PRI>1 YYYY-MM-DDTHH:MM:SS.` of stampSec for each PRI, made when first needed; all `<PRI>1 -` when the time has no RFC 5424 form. */
let priStamps: string[] = [];
let stampText: string | undefined;

/** `<PRI>1 ` and the TIMESTAMP up to the seconds' dot (or the NILVALUE), cached per second. */
function priStamp(pri: number, sec: number): string {
  if (sec !== stampSec) {
    stampSec = sec;
    priStamps = [];
    stampText = Number.isSafeInteger(sec) && sec >= SEC_MIN && sec <= SEC_MAX ? new Date(sec * 1000).toISOString().slice(0, 20) : undefined;
  }
  return (priStamps[pri] ??= PRI_VERSION[pri] + (stampText ?? '-'));
}

// ---------------------------------------------------------------------------
// The sender's own STRUCTURED-DATA.

/** End of an SD-NAME starting at i (its length 1..32, no `=`, SP, `]`, `"`), or -1. */
function sdNameEnd(sd: string, i: number): number {
  const start = i;
  while (i < sd.length && i - start <= SD_NAME_MAX) {
    const c = sd.charCodeAt(i);
    if (c < 33 || c > 126 || c === 0x3d || c === RBRACKET || c === QUOTE) break;
    i++;
  }
  const n = i - start;
  return n >= 1 && n <= SD_NAME_MAX ? i : -1;
}

/**
 * Whether sd is one or more well-formed SD-ELEMENTs (RFC 5424 6.3): names as
 * above; PARAM-VALUEs well-formed UTF-16 (so verbatim UTF-8) with `"`, `\`
 * and `]` escaped and no other backslash sequence; no SD-ID twice, and none
 * of ours.
 */
export function isValidSenderSd(sd: string): boolean {
  if (sd.length === 0) return false;
  const ids: string[] = [];
  let i = 0;
  while (i < sd.length) {
    if (sd.charCodeAt(i) !== 0x5b /* [ */) return false;
    const idEnd = sdNameEnd(sd, i + 1);
    if (idEnd < 0) return false;
    const id = sd.slice(i + 1, idEnd);
    if (OUR_SD_IDS.includes(id) || ids.includes(id)) return false;
    ids.push(id);
    i = idEnd;
    for (;;) {
      if (i >= sd.length) return false;
      const c = sd.charCodeAt(i);
      if (c === RBRACKET) {
        i++;
        break;
      }
      if (c !== SP) return false;
      const nameEnd = sdNameEnd(sd, i + 1);
      if (nameEnd < 0 || sd.charCodeAt(nameEnd) !== 0x3d || sd.charCodeAt(nameEnd + 1) !== QUOTE) return false;
      i = nameEnd + 2;
      for (;;) {
        if (i >= sd.length) return false;
        const v = sd.charCodeAt(i);
        if (v === QUOTE) break;
        if (v === RBRACKET) return false;
        if (v === BACKSLASH) {
          const next = sd.charCodeAt(i + 1);
          if (next !== QUOTE && next !== BACKSLASH && next !== RBRACKET) return false;
          i += 2;
          continue;
        }
        if (v >= 0xd800 && v <= 0xdfff) {
          // A surrogate must be a high one followed by a low one.
          const low = sd.charCodeAt(i + 1);
          if (v >= 0xdc00 || !(low >= 0xdc00 && low <= 0xdfff)) return false;
          i += 2;
          continue;
        }
        i++;
      }
      i++; // the closing quote
    }
  }
  return true;
}

let lastSd: string | undefined;
/** The last sender SD as a byte string, '' if it was not well-formed. */
let lastSdBytes = '';

function senderSd(sd: string): string {
  if (sd !== lastSd) {
    lastSdBytes = isValidSenderSd(sd) ? byteString(sd) : '';
    lastSd = sd;
  }
  return lastSdBytes;
}

// ---------------------------------------------------------------------------
// One message.

function validCode(v: number | undefined, max: number): v is number {
  return v !== undefined && Number.isInteger(v) && v >= 0 && v <= max;
}

const META_OPEN = '[meta sequenceId="';
const NS_OPEN = ' ns="';
const NO_MSGID_META = ' - ' + META_OPEN;
const NO_MSGID_MEMLOG = ' - ' + MEMLOG_OPEN;
/** Between the meta element's sequenceId and our seq, without a daemon id. */
const META_TO_SEQ = '"]' + MEMLOG_OPEN + ' seq="';

let seqDaemon: string | undefined;
let metaToSeq = META_TO_SEQ;

/**
 * Writes one message at pos. The header is concatenated from as few pieces
 * as can be (each costs when the string is flattened for writing): the
 * constant runs between the variable numbers are cached whole.
 */
function writeMessage(entry: ForwardEntry, opts: MessageOptions): void {
  // parseForwardEntry and the option parser keep these in range; a value
  // that is not falls back rather than making a PRI the receiver rejects.
  const facility = validCode(entry.facility, 23) ? entry.facility : validCode(opts.facility, 23) ? opts.facility : 1;
  const severity = entry.lost ? 4 : validCode(entry.severity, 7) ? entry.severity : 6;
  const app = appName(entry.source, opts.hostname);
  // The nine digits of the nanoseconds; the TIMESTAMP takes the first six (cut, not rounded).
  const ns = String(1e9 + entry.nsec).slice(1);
  const stamp = priStamp(facility * 8 + severity, entry.sec);
  let head = stampText === undefined ? stamp + app.hostApp.slice(1) : stamp + ns.slice(0, 6) + app.hostApp;
  head += entry.pid === undefined ? '-' : String(entry.pid);
  const seq = entry.seq;
  if (entry.msgid === undefined) head += seq === undefined ? NO_MSGID_MEMLOG : NO_MSGID_META;
  else head += ' ' + msgIdField(entry.msgid) + ' ' + (seq === undefined ? MEMLOG_OPEN : META_OPEN);
  // Our element always follows meta: it carries the nanoseconds the TIMESTAMP cannot.
  if (seq !== undefined) {
    if (entry.daemon !== seqDaemon) {
      metaToSeq = entry.daemon === undefined ? META_TO_SEQ : '"]' + MEMLOG_OPEN + daemonParam(entry.daemon) + ' seq="';
      seqDaemon = entry.daemon;
    }
    head += String((seq % SEQUENCE_ID_MAX) + 1) + metaToSeq + String(seq) + '"' + NS_OPEN + ns;
  } else {
    head += entry.daemon === undefined ? NS_OPEN + ns : daemonParam(entry.daemon) + NS_OPEN + ns;
  }
  const lost = entry.lost;
  if (lost) {
    head += app.sourceParamOpen + '" lost="' + String(lost.count) + '" from="' + String(lost.from) + '" to="' + String(lost.to);
    head += lost.unknown > 0 ? '" unknown="' + String(lost.unknown) + '"]' : '"]';
  } else {
    head += app.tail;
  }
  if (entry.sd !== undefined) head += senderSd(entry.sd);
  const bytes = entry.msgByteLength;
  if (bytes !== undefined && entry.copyMsgTo !== undefined) {
    // The message's bytes as they came: no string made, none encoded.
    room(head.length + 1 + bytes);
    pos += writeLatin1(head);
    if (bytes > 0) {
      out[pos++] = SP;
      pos += entry.copyMsgTo(out, pos);
    }
    return;
  }
  const msg = entry.msg;
  // Three bytes of UTF-8 per UTF-16 unit at most.
  room(head.length + 1 + msg.length * 3);
  pos += writeLatin1(head);
  if (msg.length > 0) {
    out[pos++] = SP;
    pos += writeUtf8(msg);
  }
}

/** The RFC 5424 message of one entry: no framing, no trailing newline. */
export function formatRfc5424(entry: ForwardEntry, opts: MessageOptions): Buffer {
  pos = 0;
  writeMessage(entry, opts);
  return written();
}

function decimalDigits(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

/** Bytes around each octet-counted message of a batch: RELP's `TXNR syslog ` before it and LF after. */
export interface FrameParts {
  /** Most bytes prefix() writes. */
  readonly maxPrefix: number;
  /** Writes the next frame's bytes before its MSG-LEN at buf[at] (room for maxPrefix is made); returns the offset after them. */
  prefix(buf: Buffer, at: number): number;
  /** The byte after each message. */
  readonly suffix: number;
}

/**
 * Entries as RFC 5424 messages, each framed by octet counting (RFC 6587
 * 3.4.1: `MSG-LEN SP SYSLOG-MSG`), in one Buffer: the batch's only
 * allocation. For tcp and tls destinations; with parts, each frame is
 * `PREFIX MSG-LEN SP SYSLOG-MSG SUFFIX` (RELP's syslog frames).
 */
export function formatOctetCounted(entries: readonly ForwardEntry[], opts: MessageOptions, parts?: FrameParts): Buffer {
  pos = 0;
  // Each message is written after room for its length, guessed as long as the
  // last one's; a wrong guess moves the message (rare: lengths vary little).
  let guess = 3;
  for (const entry of entries) {
    if (parts !== undefined) {
      room(parts.maxPrefix);
      pos = parts.prefix(out, pos);
    }
    const frameStart = pos;
    room(guess + 1);
    pos += guess + 1;
    const msgStart = pos;
    writeMessage(entry, opts);
    const len = pos - msgStart;
    const digits = decimalDigits(len);
    if (digits !== guess) {
      room(digits - guess);
      out.copyWithin(frameStart + digits + 1, msgStart, pos);
      pos = frameStart + digits + 1 + len;
      guess = digits;
    }
    out.write(String(len), frameStart, 'latin1');
    out[frameStart + digits] = SP;
    if (parts !== undefined) {
      room(1);
      out[pos++] = parts.suffix;
    }
  }
  return written();
}

/** Messages already formatted, framed by octet counting into one Buffer (one allocation). */
export function frameOctetCounted(messages: readonly Uint8Array[]): Buffer {
  let total = 0;
  for (const m of messages) total += decimalDigits(m.length) + 1 + m.length;
  const framed = Buffer.allocUnsafe(total);
  let at = 0;
  for (const m of messages) {
    at += framed.write(`${m.length} `, at, 'latin1');
    framed.set(m, at);
    at += m.length;
  }
  return framed;
}

/** One message framed by octet counting. */
export function octetCounted(message: Uint8Array): Buffer {
  return frameOctetCounted([message]);
}
