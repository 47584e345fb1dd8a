/**
 * Turns a range of ring entries into the wire form of the query socket, one
 * JSON object per line (PROTOCOL.md section 2), with the sequence number as an
 * extra field (an extension; upstream clients ignore unknown fields):
 *   {"time":"2019-02-22T16:04:23.123456789Z","source":"docker","msg":"...","seq":42}
 * then, when the entry has them, the sender's fields, "severity" and
 * "facility", and the entry's meta fragment (syslog's fields, a rate limit's
 * report), stored in the ring as JSON already.
 * Consecutive entries read in one chunk (or received in one batch) share
 * their time, so the time part of the line is built once per run of such
 * entries; the source's part is copied from the source table's bytes.
 */
import { MAX_ESCAPE_GROWTH, escapeJsonBytes } from '../entry/json-escape.js';
import { formatRfc3339Nano } from '../entry/rfc3339.js';
import { MAX_META, NONE, type Ring } from '../ring/ring.js';

const SEQ_KEY = Buffer.from('","seq":');
const MSG_KEY = Buffer.from('","msg":"');
const SEVERITY_KEY = Buffer.from(',"severity":');
const FACILITY_KEY = Buffer.from(',"facility":');
/**
 * The longest tail: the seq key, 16 digits, the sender's fields, severity and
 * facility, the meta fragment, the closing brace and newline.
 */
const MAX_TAIL = SEQ_KEY.length + 16 + 64 + SEVERITY_KEY.length + FACILITY_KEY.length + 6 + MAX_META + 2;
/** Longest head: time, the longest source name escaped, the keys. */
const MAX_HEAD = 128 + 512 * MAX_ESCAPE_GROWTH;

export interface Encoded {
  /** The JSON lines; a fresh buffer the caller may keep. */
  buf: Buffer;
  /** Sequence number of the first entry not encoded (encodeSeqs: index of the first not encoded). */
  next: number;
}

export class EntryEncoder {
  private readonly scratch: Buffer;
  private timeSec = -1;
  private timeNsec = -1;
  /** `{"time":"...","source":"` for timeSec/timeNsec. */
  private timeHead: Buffer = Buffer.alloc(0);
  private headSource = -1;
  private headGeneration = -1;
  /** The source's name as JSON, and its extra fields (its sender), written after seq. */
  private sourceJson: Buffer = Buffer.alloc(0);
  private extra: Buffer = Buffer.alloc(0);

  constructor(
    private readonly ring: Ring,
    maxLineLen: number,
    /** Bytes one encode aims for; the last entry may go past it. */
    private readonly budget = 256 * 1024,
  ) {
    this.scratch = Buffer.allocUnsafeSlow(budget + MAX_HEAD + maxLineLen * MAX_ESCAPE_GROWTH + MAX_TAIL);
  }

  /** Encodes entries from seq `from` up to (not including) `to`, stopping early once the budget is spent. */
  encode(from: number, to: number): Encoded {
    let pos = 0;
    let seq = from;
    while (seq < to && pos < this.budget) pos = this.encodeOne(seq++, pos);
    return { buf: Buffer.from(this.scratch.subarray(0, pos)), next: seq };
  }

  /**
   * Encodes the entries whose sequence numbers are seqs[start] to seqs[end - 1]
   * (held, in order: a filtered reader's matches), stopping early once the
   * budget is spent; `next` is then the index in seqs of the first not encoded.
   */
  encodeSeqs(seqs: ArrayLike<number>, start: number, end: number): Encoded {
    let pos = 0;
    let i = start;
    while (i < end && pos < this.budget) pos = this.encodeOne(seqs[i++], pos);
    return { buf: Buffer.from(this.scratch.subarray(0, pos)), next: i };
  }

  /** Writes one entry's line into the scratch buffer at pos; returns the new position. */
  private encodeOne(seq: number, pos: number): number {
    const ring = this.ring;
    const out = this.scratch;
    const sec = ring.sec(seq);
    const nsec = ring.nsec(seq);
    if (sec !== this.timeSec || nsec !== this.timeNsec) this.setTime(sec, nsec);
    this.setSource(ring.sourceId(seq));
    const time = this.timeHead;
    for (let i = 0; i < time.length; i++) out[pos + i] = time[i];
    pos += time.length;
    const name = this.sourceJson;
    for (let i = 0; i < name.length; i++) out[pos + i] = name[i];
    pos += name.length;
    for (let i = 0; i < MSG_KEY.length; i++) out[pos + i] = MSG_KEY[i];
    pos += MSG_KEY.length;
    const start = ring.offset(seq);
    const bytes = ring.bufferOf(seq);
    pos = escapeJsonBytes(bytes, start, start + ring.length(seq), out, pos);
    for (let i = 0; i < SEQ_KEY.length; i++) out[pos + i] = SEQ_KEY[i];
    pos = writeDigits(out, pos + SEQ_KEY.length, seq);
    const extra = this.extra;
    for (let i = 0; i < extra.length; i++) out[pos + i] = extra[i];
    pos += extra.length;
    const severity = ring.severity(seq);
    if (severity !== NONE) {
      for (let i = 0; i < SEVERITY_KEY.length; i++) out[pos + i] = SEVERITY_KEY[i];
      pos = writeDigits(out, pos + SEVERITY_KEY.length, severity);
    }
    const facility = ring.facility(seq);
    if (facility !== NONE) {
      for (let i = 0; i < FACILITY_KEY.length; i++) out[pos + i] = FACILITY_KEY[i];
      pos = writeDigits(out, pos + FACILITY_KEY.length, facility);
    }
    const metaLen = ring.metaLength(seq);
    if (metaLen > 0) {
      // A loop: meta fragments are short, and Buffer#copy makes a view per call.
      for (let i = start - metaLen; i < start; i++) out[pos++] = bytes[i];
    }
    out[pos++] = 125; // }
    out[pos++] = 10; // \n
    return pos;
  }

  private setTime(sec: number, nsec: number): void {
    this.timeHead = Buffer.from(`{"time":"${formatRfc3339Nano(sec, nsec)}","source":"`);
    this.timeSec = sec;
    this.timeNsec = nsec;
  }

  private setSource(sourceId: number): void {
    const sources = this.ring.sources;
    if (sourceId === this.headSource && sources.generation === this.headGeneration) return;
    const source = sources.get(sourceId);
    this.sourceJson = source.json;
    this.extra = source.extra;
    this.headSource = sourceId;
    this.headGeneration = sources.generation;
  }
}

/** Writes n (a whole number below 2^53) in decimal at pos; returns the new position. */
function writeDigits(out: Uint8Array, pos: number, n: number): number {
  if (n === 0) {
    out[pos] = 48;
    return pos + 1;
  }
  const start = pos;
  while (n > 0) {
    const q = Math.floor(n / 10);
    out[pos++] = 48 + (n - q * 10);
    n = q;
  }
  for (let i = start, j = pos - 1; i < j; i++, j--) {
    const t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
  return pos;
}

/** An entry of the daemon's own that is not in the ring (errors, loss markers), with any extra fields. */
export function encodeOwnEntry(sec: number, nsec: number, source: string, msg: string, extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(JSON.stringify({ time: formatRfc3339Nano(sec, nsec), source, msg, ...extra }) + '\n');
}
