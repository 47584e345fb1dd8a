/**
 * memlogd's JSON lines as Server-Sent Events, without parsing them: the hot
 * path of /api/follow. Each line memlogd sends is `{"time":...,"source":...,
 * "msg":"...",` then its next key: `"seq":N` for an entry, `"lost":{...}` for
 * a loss marker, `"skipped":N` for a skipped report (own entries of memlogd
 * carry no seq). Inside a JSON string every `"` is escaped, so the bytes `,"`
 * cannot occur in one: the first `,"` after `"msg":"` is where the key after
 * the message starts, whatever the message holds. An entry becomes
 * `id: N\ndata: LINE\n\n` (its seq is the event id, so a reconnecting browser
 * says where it was), a loss marker `event: lost`, a skipped report
 * `event: skipped`; anything else a plain `data:` event without an id.
 */

const MSG_KEY = Buffer.from('"msg":"');
const NEXT_KEY = Buffer.from(',"');
const SEQ_KEY = Buffer.from(',"seq":');
const LOST_KEY = Buffer.from(',"lost":');
const SKIPPED_KEY = Buffer.from(',"skipped":');
const ID = Buffer.from('id: ');
const DATA = Buffer.from('\ndata: ');
const LOST = Buffer.from('event: lost\ndata: ');
const SKIPPED = Buffer.from('event: skipped\ndata: ');
const PLAIN = Buffer.from('data: ');
const END = Buffer.from('\n\n');

function startsWithAt(line: Buffer, key: Buffer, at: number): boolean {
  return line.length >= at + key.length && line.compare(key, 0, key.length, at, at + key.length) === 0;
}

export type LineKind = { kind: 'entry'; seqStart: number; seqEnd: number } | { kind: 'lost' } | { kind: 'skipped' } | { kind: 'other' };

/** What a line of memlogd's is, and where its seq's digits are. */
export function classify(line: Buffer): LineKind {
  const msg = line.indexOf(MSG_KEY);
  if (msg < 0) return { kind: 'other' };
  const next = line.indexOf(NEXT_KEY, msg + MSG_KEY.length);
  if (next < 0) return { kind: 'other' };
  if (startsWithAt(line, SEQ_KEY, next)) {
    const seqStart = next + SEQ_KEY.length;
    let seqEnd = seqStart;
    while (seqEnd < line.length && line[seqEnd] >= 0x30 && line[seqEnd] <= 0x39) seqEnd++;
    if (seqEnd > seqStart && seqEnd - seqStart <= 16) return { kind: 'entry', seqStart, seqEnd };
    return { kind: 'other' };
  }
  if (startsWithAt(line, LOST_KEY, next)) return { kind: 'lost' };
  if (startsWithAt(line, SKIPPED_KEY, next)) return { kind: 'skipped' };
  return { kind: 'other' };
}

/** Collects the events of one chunk's lines, then gives them as one buffer (one write per chunk). */
export class EventBatch {
  private parts: Buffer[] = [];
  private bytes = 0;

  private push(b: Buffer): void {
    this.parts.push(b);
    this.bytes += b.length;
  }

  add(line: Buffer): void {
    const what = classify(line);
    if (what.kind === 'entry') {
      this.push(ID);
      this.push(line.subarray(what.seqStart, what.seqEnd));
      this.push(DATA);
    } else {
      this.push(what.kind === 'lost' ? LOST : what.kind === 'skipped' ? SKIPPED : PLAIN);
    }
    this.push(line);
    this.push(END);
  }

  get empty(): boolean {
    return this.bytes === 0;
  }

  /** The events added since the last take, as one buffer (a copy: the lines may be reused after). */
  take(): Buffer {
    const out = Buffer.concat(this.parts, this.bytes);
    this.parts = [];
    this.bytes = 0;
    return out;
  }
}

/** One event with a name, its data one line of JSON. */
export function namedEvent(name: string, data: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}
