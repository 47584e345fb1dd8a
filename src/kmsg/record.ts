/**
 * Kernel log records as /dev/kmsg hands them out (Documentation/ABI/testing/dev-kmsg):
 *
 *   <prio>,<seq>,<usec since boot>,<flags>[,more fields];<message>\n
 *    KEY=value\n          (zero or more continuation lines, each starting with a space)
 *
 * The kernel escapes control bytes, bytes >= 0x7f and backslash as `\xNN`, so
 * a record is plain ASCII and a message with embedded newlines still fits on
 * one line; decoding gives back the bytes, which are then read as UTF-8.
 */
import { formatRfc3339Nano } from '../entry/rfc3339.js';

export interface KmsgRecord {
  /** facility * 8 + level, as the kernel writes it. */
  priority: number;
  /** priority >> 3: 0 is the kernel itself, others come from writes to /dev/kmsg. */
  facility: number;
  /** priority & 7: 0 emerg ... 7 debug. */
  level: number;
  seq: number;
  usecSinceBoot: number;
  /** `-`, or `c`/`+` (continuation) on older kernels. */
  flags: string;
  /** Escapes decoded; invalid UTF-8 becomes U+FFFD. */
  message: string;
  /** The continuation lines (` SUBSYSTEM=pci`, ` DEVICE=+pci:...`), escapes decoded. */
  fields: Record<string, string>;
}

const NEWLINE = 10;
const SPACE = 32;
const BACKSLASH = 92;
const DIGITS = /^[0-9]+$/;

/** The message bytes with `\xNN` turned back into bytes (a lone backslash is kept as is). */
function unescape(bytes: Buffer): string {
  if (bytes.indexOf(BACKSLASH) < 0) return bytes.toString('utf8');
  const out = Buffer.allocUnsafe(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (c === BACKSLASH && i + 3 < bytes.length && bytes[i + 1] === 0x78 /* x */) {
      const hi = hexValue(bytes[i + 2]);
      const lo = hexValue(bytes[i + 3]);
      if (hi >= 0 && lo >= 0) {
        out[n++] = hi * 16 + lo;
        i += 3;
        continue;
      }
    }
    out[n++] = c;
  }
  return out.toString('utf8', 0, n);
}

function hexValue(c: number | undefined): number {
  if (c === undefined) return -1;
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

function wholeNumber(text: string): number | undefined {
  if (!DIGITS.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** One record (one read() of /dev/kmsg, or one record cut out by KmsgSplitter); undefined if malformed. */
export function parseKmsgRecord(text: string | Buffer): KmsgRecord | undefined {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  let lineEnd = bytes.indexOf(NEWLINE);
  if (lineEnd < 0) lineEnd = bytes.length;
  const semi = bytes.indexOf(59 /* ; */);
  if (semi < 0 || semi > lineEnd) return undefined;
  // The header is ASCII; latin1 maps any stray byte to one char, so nothing can throw.
  const header = bytes.toString('latin1', 0, semi).split(',');
  if (header.length < 4) return undefined;
  const priority = wholeNumber(header[0]);
  const seq = wholeNumber(header[1]);
  const usecSinceBoot = wholeNumber(header[2]);
  const flags = header[3];
  if (priority === undefined || seq === undefined || usecSinceBoot === undefined || flags === '') return undefined;

  const fields: Record<string, string> = {};
  let pos = lineEnd + 1;
  while (pos < bytes.length) {
    let end = bytes.indexOf(NEWLINE, pos);
    if (end < 0) end = bytes.length;
    if (end > pos) {
      // A second line that is not a continuation line means two records run together.
      if (bytes[pos] !== SPACE) return undefined;
      const line = bytes.subarray(pos + 1, end);
      const eq = line.indexOf(61 /* = */);
      // A continuation line without `=` is not in the ABI; the message matters more, so skip the line only.
      if (eq > 0) {
        // defineProperty: a key such as `__proto__` is an ordinary field here.
        Object.defineProperty(fields, line.toString('latin1', 0, eq), { value: unescape(line.subarray(eq + 1)), enumerable: true, writable: true, configurable: true });
      }
    }
    pos = end + 1;
  }

  return {
    priority,
    facility: Math.floor(priority / 8),
    level: priority % 8,
    seq,
    usecSinceBoot,
    flags,
    message: unescape(bytes.subarray(semi + 1, lineEnd)),
    fields,
  };
}

/**
 * `(<seq>) - <RFC3339Nano time>: <message>`, as upstream prints each record;
 * time = boot time + usec since boot. A multi-line message is printed as is,
 * newlines included, as upstream does: the launcher then turns it into one
 * entry per line.
 */
export function formatUpstream(record: KmsgRecord, bootTimeSec: number, bootTimeNsec: number): string {
  let sec = bootTimeSec + Math.floor(record.usecSinceBoot / 1_000_000);
  let nsec = bootTimeNsec + (record.usecSinceBoot % 1_000_000) * 1000;
  if (nsec >= 1_000_000_000) {
    sec += 1;
    nsec -= 1_000_000_000;
  }
  return `(${record.seq}) - ${formatRfc3339Nano(sec, nsec)}: ${record.message}`;
}

/** Records longer than this in a stream are dropped as malformed (the kernel's are at most 8 KiB). */
export const MAX_STREAM_RECORD = 64 * 1024;

/**
 * Cuts a byte stream of records back to back (a captured file) into records,
 * each as the bytes one read() of /dev/kmsg would return: a record starts at
 * a line that does not start with a space, and the lines after it that do are
 * its continuation lines. A record is complete only once the next one starts
 * (more continuation lines may follow), or at flush()/end().
 */
export class KmsgSplitter {
  /** Bytes after the last newline. */
  private carry: Buffer | undefined;
  /** Complete lines of the record being gathered (copies: the caller may reuse its chunks). */
  private lines: Buffer[] = [];
  private size = 0;
  /** The current record grew past MAX_STREAM_RECORD: drop its continuation lines. */
  private oversized = false;
  /** In the middle of an over-long line: drop up to the next newline. */
  private skipping = false;

  constructor(
    private readonly onRecord: (record: Buffer) => void,
    /** Continuation lines with no record before them, and over-long records (their first bytes). */
    private readonly onMalformed: (bytes: Buffer) => void = () => {},
  ) {}

  push(chunk: Buffer): void {
    let data = chunk;
    let pos = 0;
    if (this.skipping) {
      const nl = chunk.indexOf(NEWLINE);
      if (nl < 0) return;
      this.skipping = false;
      pos = nl + 1;
    } else if (this.carry) {
      data = Buffer.concat([this.carry, chunk]);
      this.carry = undefined;
    }
    for (;;) {
      const nl = data.indexOf(NEWLINE, pos);
      if (nl < 0) break;
      this.line(data.subarray(pos, nl + 1));
      pos = nl + 1;
    }
    if (pos === data.length) return;
    // The start of the next line is enough to know whether the current record is over.
    if (data[pos] !== SPACE) this.flush();
    if (data.length - pos + this.size > MAX_STREAM_RECORD) {
      // A line with no end in sight: drop it, and the record it belongs to.
      this.onMalformed(Buffer.from(this.lines[0] ?? data.subarray(pos, pos + 80)));
      this.lines = [];
      this.size = 0;
      this.oversized = true;
      this.skipping = true;
      return;
    }
    this.carry = Buffer.from(data.subarray(pos));
  }

  /** Hands out the record being gathered, if any: call when no more continuation lines can come. */
  flush(): void {
    if (this.lines.length === 0) return;
    const record = this.lines.length === 1 ? this.lines[0] : Buffer.concat(this.lines, this.size);
    this.lines = [];
    this.size = 0;
    this.onRecord(record);
  }

  /** End of the stream: a last line without a newline counts as a line. */
  end(): void {
    const rest = this.carry;
    this.carry = undefined;
    if (rest) this.line(rest);
    this.flush();
    this.oversized = false;
    this.skipping = false;
  }

  /** Whether a record (or part of a line) is held back. */
  get pending(): boolean {
    return this.lines.length > 0 || this.carry !== undefined;
  }

  private line(line: Buffer): void {
    if (line[0] === SPACE) {
      if (this.oversized) return;
      if (this.lines.length === 0) {
        this.onMalformed(Buffer.from(line));
        return;
      }
    } else {
      this.flush();
      this.oversized = false;
      // A blank line is no record.
      if (line.length === 0 || line[0] === NEWLINE) return;
    }
    if (this.size + line.length > MAX_STREAM_RECORD) {
      this.onMalformed(Buffer.from(this.lines[0] ?? line.subarray(0, 80)));
      this.lines = [];
      this.size = 0;
      this.oversized = true;
      return;
    }
    this.lines.push(Buffer.from(line));
    this.size += line.length;
  }
}
