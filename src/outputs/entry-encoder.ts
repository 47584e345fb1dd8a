/**
 * Turns a range of ring entries into the wire form of the query socket, one
 * JSON object per line (PROTOCOL.md section 2):
 *   {"time":"2019-02-22T16:04:23.123456789Z","source":"docker","msg":"..."}
 * Consecutive entries read in one chunk share time and source, so the part of
 * the line before the message is built once per run of such entries.
 */
import { MAX_ESCAPE_GROWTH, escapeJsonBytes } from '../entry/json-escape.js';
import { formatRfc3339Nano } from '../entry/rfc3339.js';
import type { Ring } from '../ring/ring.js';

const TAIL = Buffer.from('"}\n');
/** Longest head: time, the longest source name escaped, the keys. */
const MAX_HEAD = 128 + 512 * MAX_ESCAPE_GROWTH;

export interface Encoded {
  /** The JSON lines; a fresh buffer the caller may keep. */
  buf: Buffer;
  /** Sequence number of the first entry not encoded. */
  next: number;
}

export class EntryEncoder {
  private readonly scratch: Buffer;
  private headSec = -1;
  private headNsec = -1;
  private headSource = -1;
  private headGeneration = -1;
  private head: Buffer = Buffer.alloc(0);

  constructor(
    private readonly ring: Ring,
    maxLineLen: number,
    /** Bytes one encode aims for; the last entry may go past it. */
    private readonly budget = 256 * 1024,
  ) {
    this.scratch = Buffer.allocUnsafeSlow(budget + MAX_HEAD + maxLineLen * MAX_ESCAPE_GROWTH + TAIL.length);
  }

  /** Encodes entries from seq `from` up to (not including) `to`, stopping early once the budget is spent. */
  encode(from: number, to: number): Encoded {
    const ring = this.ring;
    const arena = ring.bytesView;
    const out = this.scratch;
    let pos = 0;
    let seq = from;
    while (seq < to && pos < this.budget) {
      const head = this.headFor(ring.sec(seq), ring.nsec(seq), ring.sourceId(seq));
      for (let i = 0; i < head.length; i++) out[pos + i] = head[i];
      pos += head.length;
      const start = ring.offset(seq);
      pos = escapeJsonBytes(arena, start, start + ring.length(seq), out, pos);
      out[pos++] = 34; // "
      out[pos++] = 125; // }
      out[pos++] = 10; // \n
      seq++;
    }
    return { buf: Buffer.from(out.subarray(0, pos)), next: seq };
  }

  private headFor(sec: number, nsec: number, sourceId: number): Buffer {
    const sources = this.ring.sources;
    if (sec !== this.headSec || nsec !== this.headNsec || sourceId !== this.headSource || sources.generation !== this.headGeneration) {
      const source = sources.get(sourceId);
      this.head = Buffer.concat([
        Buffer.from(`{"time":"${formatRfc3339Nano(sec, nsec)}","source":"`),
        source.json,
        Buffer.from('","msg":"'),
      ]);
      this.headSec = sec;
      this.headNsec = nsec;
      this.headSource = sourceId;
      this.headGeneration = sources.generation;
    }
    return this.head;
  }
}

/** One entry in wire form, outside the ring (answers to bad queries). */
export function encodeStandalone(sec: number, nsec: number, sourceJson: Buffer, msg: Buffer): Buffer {
  const body = Buffer.allocUnsafe(msg.length * MAX_ESCAPE_GROWTH);
  const n = escapeJsonBytes(msg, 0, msg.length, body, 0);
  return Buffer.concat([
    Buffer.from(`{"time":"${formatRfc3339Nano(sec, nsec)}","source":"`),
    sourceJson,
    Buffer.from('","msg":"'),
    body.subarray(0, n),
    TAIL,
  ]);
}
