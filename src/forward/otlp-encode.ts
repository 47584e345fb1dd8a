/**
 * Entries as an OTLP ExportLogsServiceRequest in OTLP/JSON (the protobuf JSON
 * mapping the OTLP spec asks for: lowerCamelCase keys, 64-bit integers as
 * decimal strings, enums as numbers).
 *
 * The JSON text is built directly, one string per log record, with
 * JSON.stringify only for the strings: no object tree per entry, so that
 * encoding stays well under the forwarder's budget of a few µs per entry.
 * The sender uses the two halves (otlpLogRecord, otlpLogsRequest) to bound a
 * request's size; encodeOtlpLogs is the two together.
 */
import type { ForwardEntry } from './entry.js';
import type { MessageOptions } from './message-options.js';
import { LEVEL_NAMES, DEFAULT_SEVERITY } from '../filter/levels.js';

/**
 * SeverityNumber for syslog severity 0-7, as the OTel logs data model's
 * appendix B maps them: emerg FATAL, alert ERROR3, crit ERROR2, err ERROR,
 * warning WARN, notice INFO2, info INFO, debug DEBUG.
 */
export const SYSLOG_TO_OTEL_SEVERITY: readonly number[] = [21, 19, 18, 17, 13, 10, 9, 5];

/** Syslog's warning: what a loss marker is sent as. */
const WARNING = 4;

/** The per-severity start of a record after its times: `"severityNumber":N,"severityText":"name",`. */
const SEVERITY_FIELDS = LEVEL_NAMES.map((name, i) => `"severityNumber":${SYSLOG_TO_OTEL_SEVERITY[i]},"severityText":"${name}",`);

/**
 * Nanoseconds since the epoch as decimal digits, from the two integers: the
 * value (about 1.7e18) is past a JS number's exact range, so it is never one.
 * A time before the epoch (a fixed64 cannot hold it) becomes "0", which OTLP
 * reads as "unknown".
 */
export function unixNanoDigits(sec: number, nsec: number): string {
  if (sec < 0 || !Number.isSafeInteger(sec) || !Number.isInteger(nsec) || nsec < 0 || nsec > 999_999_999) return '0';
  if (sec === 0) return String(nsec);
  // 1e9 + nsec is 10 digits: dropping the leading 1 leaves nsec zero-padded to 9.
  return `${sec}${String(1_000_000_000 + nsec).slice(1)}`;
}

function intAttr(key: string, value: number): string {
  return `,{"key":"${key}","value":{"intValue":"${value}"}}`;
}

// Entries come in runs from one daemon, many in the same second: the last of each is kept as text.
let lastSec = -1;
let lastSecDigits = '';
let lastDaemon: string | undefined;
let lastDaemonAttr = '';

/** One LogRecord as OTLP/JSON text. */
export function otlpLogRecord(e: ForwardEntry): string {
  let time: string;
  if (e.sec === lastSec && e.sec > 0 && Number.isInteger(e.nsec) && e.nsec >= 0 && e.nsec <= 999_999_999) {
    time = lastSecDigits + String(1_000_000_000 + e.nsec).slice(1);
  } else {
    time = unixNanoDigits(e.sec, e.nsec);
    if (e.sec > 0 && Number.isSafeInteger(e.sec)) {
      lastSec = e.sec;
      lastSecDigits = String(e.sec);
    }
  }
  const lost = e.lost;
  const severity = lost ? WARNING : (e.severity ?? DEFAULT_SEVERITY);
  let attrs = `{"key":"memlog.source","value":{"stringValue":${JSON.stringify(e.source)}}}`;
  if (e.pid !== undefined) attrs += intAttr('process.pid', e.pid);
  // A receiver deduplicates on the two; an upstream daemon's entries have a seq but no id.
  if (e.daemon !== undefined) {
    if (e.daemon !== lastDaemon) {
      lastDaemon = e.daemon;
      lastDaemonAttr = `,{"key":"memlog.daemon","value":{"stringValue":${JSON.stringify(e.daemon)}}}`;
    }
    attrs += lastDaemonAttr;
  }
  if (e.seq !== undefined) attrs += intAttr('memlog.seq', e.seq);
  if (e.facility !== undefined) attrs += intAttr('syslog.facility', e.facility);
  if (e.msgid !== undefined) attrs += `,{"key":"syslog.msgid","value":{"stringValue":${JSON.stringify(e.msgid)}}}`;
  if (lost) attrs += intAttr('memlog.lost.count', lost.count) + intAttr('memlog.lost.from', lost.from) + intAttr('memlog.lost.to', lost.to);
  return (
    `{"timeUnixNano":"${time}","observedTimeUnixNano":"${time}",` +
    (SEVERITY_FIELDS[severity] ?? SEVERITY_FIELDS[DEFAULT_SEVERITY]) +
    `"body":{"stringValue":${JSON.stringify(e.msg)}},"attributes":[${attrs}]}`
  );
}

/**
 * The request around records made by otlpLogRecord: one resource (this host),
 * one scope (memlog). Each record is written straight into the request's
 * buffer (no joined string in between: that copy cost as much as the rest).
 */
export function otlpLogsRequest(records: readonly string[], opts: MessageOptions, version: string): Buffer {
  const head =
    `{"resourceLogs":[{"resource":{"attributes":[{"key":"host.name","value":{"stringValue":${JSON.stringify(opts.hostname)}}}]},` +
    `"scopeLogs":[{"scope":{"name":"memlog","version":${JSON.stringify(version)}},"logRecords":[`;
  const tail = ']}]}]}';
  let left = 0;
  for (const r of records) left += r.length + 1;
  // Sized for ASCII records (the usual); grown when one is not.
  let buf = Buffer.allocUnsafe(head.length * 3 + left + tail.length);
  let off = buf.write(head, 0, 'utf8');
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    left -= r.length + 1;
    const room = buf.length - off - 1 - tail.length;
    if (r.length * 3 > room) {
      const bytes = Buffer.byteLength(r);
      if (bytes > room) {
        const grown = Buffer.allocUnsafe(Math.max(buf.length + (buf.length >> 1), off + 1 + bytes + left + tail.length));
        buf.copy(grown, 0, 0, off);
        buf = grown;
      }
    }
    if (i > 0) buf[off++] = 0x2c; // ,
    off += buf.write(r, off, 'utf8');
  }
  off += buf.write(tail, off, 'utf8');
  return buf.subarray(0, off);
}

/** An ExportLogsServiceRequest holding one log record per entry, as OTLP/JSON bytes. */
export function encodeOtlpLogs(entries: readonly ForwardEntry[], opts: MessageOptions, version: string): Buffer {
  const records = new Array<string>(entries.length);
  for (let i = 0; i < entries.length; i++) records[i] = otlpLogRecord(entries[i]);
  return otlpLogsRequest(records, opts, version);
}
