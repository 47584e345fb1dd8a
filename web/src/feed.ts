/**
 * Where the entries come from: following (/api/follow, Server-Sent Events) or
 * a time window (/api/entries, JSON lines). Following can pause (the
 * stream is closed) and resume after the last seq held, of the same
 * daemon, so that nothing is lost, or memlogd says in a loss marker what
 * its ring dropped meanwhile.
 */
import { filterParams, type Filters } from './filters.js';
import { SseParser, type SseEvent } from './sse.js';
import { entryMs } from './time.js';
import type { Held, Kind, WireEntry } from './store.js';

export type State = 'following' | 'paused' | 'reconnecting' | 'history';

/** Entries asked for when following starts: the recent past, then live. */
export const FOLLOW_BACKLOG = 500;
/** At most this many entries of a time window (the page holds no more). */
export const HISTORY_MAX = 100_000;
/** Wait before opening again a follow that ended or failed, unless the server said (its retry is 2 s). */
const REOPEN_MS = 2000;

export interface FeedEvents {
  entry(h: Held): void;
  state(s: State): void;
  /** A problem to show (a bad filter, the server unreachable), or '' when there is none any more. */
  problem(text: string): void;
}

function held(kind: Kind, wire: WireEntry): Held {
  return {
    kind,
    seq: typeof wire.seq === 'number' ? wire.seq : -1,
    ms: entryMs(String(wire.time)),
    source: String(wire.source ?? ''),
    msg: String(wire.msg ?? ''),
    sev: typeof wire.severity === 'number' && wire.severity >= 0 && wire.severity <= 7 ? wire.severity : -1,
    wire,
  };
}

function parseWire(text: string): WireEntry | undefined {
  try {
    const v: unknown = JSON.parse(text);
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as WireEntry;
  } catch {
    // Not JSON: not shown.
  }
  return undefined;
}

export class Feed {
  state: State = 'following';
  private abort: AbortController | undefined;
  private reopenTimer: number | undefined;
  /** Bumped by every start: events of an earlier source are ignored. */
  private gen = 0;
  private filters: Filters | undefined;
  /** The daemon whose seqs these are, and the cursor to resume after. */
  private daemon: string | undefined;
  private lastSeq = -1;
  private helloNext = -1;

  constructor(private readonly on: FeedEvents) {}

  /** Follows from scratch: the last FOLLOW_BACKLOG matching entries, then live. */
  follow(filters: Filters): void {
    this.stop();
    this.filters = filters;
    this.daemon = undefined;
    this.lastSeq = -1;
    this.helloNext = -1;
    this.open(false);
  }

  pause(): void {
    if (this.state === 'history') return;
    this.stop();
    this.setState('paused');
  }

  /** Follows again after what is held, as if the pause had not been. */
  resume(): void {
    if (this.state !== 'paused' || !this.filters) return;
    this.stop();
    this.open(true, 'following');
  }

  /** The entries of a time window, once (the filters hold since and/or until). */
  history(filters: Filters): void {
    this.stop();
    this.filters = filters;
    this.setState('history');
    const gen = this.gen;
    const abort = (this.abort = new AbortController());
    const q = filterParams(filters);
    q.set('n', String(HISTORY_MAX));
    void this.readLines(`/api/entries?${q}`, abort.signal, gen);
  }

  stop(): void {
    this.gen++;
    this.abort?.abort();
    this.abort = undefined;
    if (this.reopenTimer !== undefined) clearTimeout(this.reopenTimer);
    this.reopenTimer = undefined;
  }

  private setState(s: State): void {
    if (this.state === s) return;
    this.state = s;
    this.on.state(s);
  }

  /** The seq to resume after, if any: the last held, else where the ring was when following started. */
  private cursor(): number | undefined {
    if (this.lastSeq >= 0) return this.lastSeq;
    return this.helloNext > 0 ? this.helloNext - 1 : undefined;
  }

  /** Opens the follow stream; the state shown until it answers is following (asked for) or reconnecting (after a failure). */
  private open(resuming: boolean, until: 'following' | 'reconnecting' = resuming ? 'reconnecting' : 'following'): void {
    const filters = this.filters as Filters;
    const q = filterParams(filters);
    const after = this.cursor();
    if (resuming && after !== undefined && this.daemon !== undefined) {
      q.set('after', String(after));
      q.set('daemon', this.daemon);
    } else {
      // Nothing to resume after (nothing came yet): the recent past, as a fresh follow.
      q.set('n', String(FOLLOW_BACKLOG));
    }
    const gen = this.gen;
    const abort = (this.abort = new AbortController());
    this.setState(until);
    void this.stream(`/api/follow?${q}`, abort.signal, gen);
  }

  /**
   * Reads the event stream with fetch (one callback per chunk, not per event as EventSource would). When it
   * ends or fails, it is opened again after the server's retry time, after the last seq held of the same
   * daemon (what EventSource's Last-Event-ID did); a filter the server refuses (400) pauses until it changes.
   */
  private async stream(url: string, signal: AbortSignal, gen: number): Promise<void> {
    const parser = new SseParser();
    let answered = false;
    try {
      const r = await fetch(url, { signal, cache: 'no-store', headers: { Accept: 'text/event-stream' } });
      answered = true;
      if (gen !== this.gen) return;
      const type = r.headers.get('Content-Type') ?? '';
      if (!r.ok || !r.body || !type.startsWith('text/event-stream')) {
        const text = (await r.text()).trim().split('\n')[0];
        if (gen !== this.gen) return;
        if (r.status === 400) {
          // Nothing to retry until the filter changes; paused, so Resume tries again.
          this.setState('paused');
          this.on.problem(text || 'the server refused the filter');
          return;
        }
        this.setState('reconnecting');
        this.on.problem(text || `the server answered ${r.status}`);
        this.reopenLater(gen, REOPEN_MS);
        return;
      }
      this.setState('following');
      this.on.problem('');
      const reader = r.body.getReader();
      const decoder = new TextDecoder();
      const events: SseEvent[] = [];
      for (;;) {
        const { value, done } = await reader.read();
        if (gen !== this.gen) return;
        if (done) break;
        parser.push(decoder.decode(value, { stream: true }), events);
        for (const ev of events) this.event(ev);
        events.length = 0;
      }
    } catch {
      if (gen !== this.gen || signal.aborted) return;
      // The server cannot be reached (said), or the stream broke: as the end of the stream, below.
      if (!answered) this.on.problem('the server cannot be reached');
    }
    if (gen !== this.gen) return;
    this.setState('reconnecting');
    this.reopenLater(gen, parser.retryMs ?? REOPEN_MS);
  }

  private reopenLater(gen: number, ms: number): void {
    this.reopenTimer = window.setTimeout(() => {
      if (gen !== this.gen) return;
      this.reopenTimer = undefined;
      this.open(true);
    }, ms);
  }

  /** One event of the follow stream. */
  private event(ev: SseEvent): void {
    switch (ev.type) {
      case 'message': {
        const wire = parseWire(ev.data);
        if (!wire) return;
        const h = held('entry', wire);
        if (h.seq < 0 && ev.lastEventId !== '') h.seq = Number(ev.lastEventId);
        // Never twice: a resume overlapping what is held (a server that replays from an earlier cursor).
        if (h.seq >= 0) {
          if (h.seq <= this.lastSeq) return;
          this.lastSeq = h.seq;
        }
        this.on.entry(h);
        return;
      }
      case 'hello': {
        const hello = parseWire(ev.data) as { daemon?: unknown; next?: unknown } | undefined;
        if (!hello || typeof hello.daemon !== 'string') return;
        if (this.daemon !== undefined && hello.daemon !== this.daemon) {
          // A new memlogd: its seqs start again, and what the old one held and had not sent is gone.
          this.on.entry(held('notice', { time: new Date().toISOString(), source: 'memlog web', msg: `memlogd restarted (daemon ${this.daemon} is gone, now ${hello.daemon}): entries it had not sent are lost` }));
          this.lastSeq = -1;
        }
        this.daemon = hello.daemon;
        if (typeof hello.next === 'number' && this.lastSeq < 0) this.helloNext = hello.next;
        return;
      }
      case 'lost': {
        const wire = parseWire(ev.data);
        if (wire) this.on.entry(held('lost', wire));
        return;
      }
      case 'skipped': {
        const wire = parseWire(ev.data);
        if (!wire) return;
        const msg = typeof wire.msg === 'string' ? wire.msg : `memlogd skipped entries: ${JSON.stringify(wire)}`;
        this.on.entry(held('notice', { ...wire, time: typeof wire.time === 'string' ? wire.time : new Date().toISOString(), source: String(wire.source ?? 'memlogd'), msg }));
        return;
      }
      default:
      // Other event types are not the page's.
    }
  }

  /** Reads JSON lines from url into entries, until the answer ends. */
  private async readLines(url: string, signal: AbortSignal, gen: number): Promise<void> {
    try {
      const r = await fetch(url, { signal });
      if (!r.ok || !r.body) {
        const text = (await r.text()).trim().split('\n')[0];
        if (gen === this.gen) this.on.problem(text || `the server answered ${r.status}`);
        return;
      }
      this.on.problem('');
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let rest = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (gen !== this.gen) return;
        if (done) break;
        const lines = (rest + value).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) this.line(line);
      }
      this.line(rest);
    } catch (err) {
      if (gen === this.gen && !signal.aborted) this.on.problem(`reading entries failed: ${(err as Error).message}`);
    }
  }

  private line(text: string): void {
    if (text.trim() === '') return;
    const wire = parseWire(text);
    if (!wire) return;
    this.on.entry(held(wire.lost !== undefined && wire.seq === undefined ? 'lost' : 'entry', wire));
  }
}
