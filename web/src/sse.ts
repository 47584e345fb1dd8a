/**
 * A Server-Sent Events parser (the HTML standard's "event stream
 * interpretation"), fed decoded text as it comes: the page reads /api/follow
 * with fetch() so that a chunk of many events costs one callback, where
 * EventSource dispatches one DOM event per entry.
 */

export interface SseEvent {
  /** The event's type: `message` when the stream gave none. */
  type: string;
  data: string;
  /** The last event id seen so far (as EventSource's lastEventId: it carries over to later events). */
  lastEventId: string;
}

export class SseParser {
  /** Text after the last line end, kept for the next chunk. */
  private rest = '';
  /** The previous chunk ended in CR: a LF starting the next one is the same line end. */
  private afterCr = false;
  private type = '';
  private data: string[] = [];
  private lastId = '';
  /** The reconnection time the stream asked for (ms), or undefined. */
  retryMs: number | undefined;

  /** Parses a chunk; every complete event goes to out, in order. */
  push(chunk: string, out: SseEvent[]): void {
    let text = chunk;
    if (this.afterCr && text.charCodeAt(0) === 10) text = text.slice(1);
    this.afterCr = false;
    if (text.includes('\r')) {
      // Lines end in CRLF, LF or CR: all made LF (rare: memlog web writes LF only).
      this.afterCr = text.endsWith('\r');
      text = text.replace(/\r\n?/g, '\n');
    }
    text = this.rest + text;
    let from = 0;
    for (;;) {
      const nl = text.indexOf('\n', from);
      if (nl < 0) break;
      this.line(text.slice(from, nl), out);
      from = nl + 1;
    }
    this.rest = from === 0 ? text : text.slice(from);
  }

  /** Forgets an unfinished event (the stream ended: it is not dispatched), keeping the last event id. */
  reset(): void {
    this.rest = '';
    this.afterCr = false;
    this.type = '';
    this.data = [];
  }

  private line(line: string, out: SseEvent[]): void {
    if (line === '') {
      // Dispatch; an event without data is none.
      if (this.data.length > 0) out.push({ type: this.type || 'message', data: this.data.join('\n'), lastEventId: this.lastId });
      this.type = '';
      this.data = [];
      return;
    }
    if (line.charCodeAt(0) === 58 /* : */) return; // A comment (keepalive).
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        break;
      case 'event':
        this.type = value;
        break;
      case 'id':
        if (!value.includes('\u0000')) this.lastId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
      // Unknown fields are ignored.
    }
  }
}
