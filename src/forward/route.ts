/**
 * One destination's route: memlogd's entries after this destination's cursor,
 * through its sender, with the cursor saved after each acknowledgement.
 *
 * Each destination reads memlogd over its own connection, from its own
 * cursor: one that is down stops reading and never holds the others back;
 * when it is back, it resumes where its receiver stopped. What left the ring
 * meanwhile comes as memlogd's loss marker, which is forwarded like an entry.
 *
 * Failures: the sender failing ends its connection and the memlogd
 * connection (what was sent and not acknowledged is read again after the
 * cursor); memlogd going away keeps the sender, lets what was read go out,
 * and reconnects. Both back off with jitter and are told once per outage.
 */
import type net from 'node:net';
import { LineReader } from '../clients/query-client.js';
import type { Filter } from '../filter/entry-filter.js';
import { Pause } from '../pause.js';
import { Backoff } from './backoff.js';
import type { Cursor, CursorStore } from './cursor-store.js';
import { parseForwardEntry, type ForwardEntry } from './entry.js';
import { fastForwardEntry } from './wire-entry.js';
import { connectFeed, filters, type Feed } from './memlogd-feed.js';
import { SendError, type Sender } from './sender.js';
import { EntryQueue } from './entry-queue.js';
import { OutageLog } from './outage-log.js';

export interface RouteOptions {
  /** memlogd's query socket. */
  socket: string;
  /** The destination's URL, for messages. */
  url: string;
  /** Makes a fresh sender for each connection. */
  makeSender: () => Sender;
  cursors: CursorStore;
  filter?: Filter;
  warn(msg: string): void;
  info(msg: string): void;
  helloTimeoutMs?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** How long a shutdown waits for what is in flight to be acknowledged. */
  closeTimeoutMs?: number;
}

/** Stop reading memlogd while this many entries wait for the sender (memlogd holds the rest). */
const HIGH_WATER = 64 * 1024;

type PumpEnd = 'sender-failed' | 'memlogd-closed' | 'stopped';

export class Route {
  /** Entries the destination acknowledged since start. */
  acknowledged = 0;
  /** Times the destination became unreachable. */
  outages = 0;
  private cursor: Cursor | undefined;
  private stopped = false;
  private readonly pause = new Pause();
  private sender: Sender | undefined;
  private feedSocket: net.Socket | undefined;
  private readonly destinationDown: OutageLog;
  private readonly memlogdDown: OutageLog;
  private warnedUpstream = false;
  private warnedBadLine = false;
  /** The receiver's own wait (Retry-After) from the last failure. */
  private retryAfterMs = 0;

  constructor(private readonly opts: RouteOptions) {
    this.destinationDown = new OutageLog(opts.url, opts.warn, opts.info);
    this.memlogdDown = new OutageLog(opts.socket, opts.warn, opts.info);
    this.cursor = opts.cursors.load(opts.warn);
  }

  /** The cursor as saved last (undefined: nothing acknowledged yet). */
  get saved(): Cursor | undefined {
    return this.cursor;
  }

  async run(): Promise<void> {
    const backoff = new Backoff(this.opts.minBackoffMs ?? 250, this.opts.maxBackoffMs ?? 30_000);
    while (!this.stopped) {
      const sender = this.opts.makeSender();
      sender.onReport = (msg) => this.opts.warn(`${this.opts.url}: ${msg}`);
      this.senderFailure = undefined;
      sender.onFail = (err) => {
        if (this.sender !== sender) return;
        this.senderFailure = err;
        this.endPump?.(err);
      };
      this.sender = sender;
      try {
        await sender.open();
      } catch (err) {
        sender.destroy();
        this.destinationFailed(err);
        await this.pause.for(backoff.take(this.retryAfterMs));
        continue;
      }
      const ackedBefore = this.acknowledged;
      const end = await this.streamWhileSenderWorks(sender);
      if (this.acknowledged > ackedBefore) backoff.reset();
      if (end === 'stopped') {
        await this.closeSender(sender);
        break;
      }
      sender.destroy();
      // Back off only if it never got going: a connection that delivered was fine until now.
      await this.pause.for(backoff.take(this.retryAfterMs));
    }
    this.sender = undefined;
    this.opts.cursors.close();
  }

  /** How the current sender's connection failed, when it did outside a send. */
  private senderFailure: SendError | undefined;
  /** Ends the running pump because the sender failed. */
  private endPump: ((err: SendError) => void) | undefined;

  /** Entries read and not yet acknowledged, while connected to memlogd. */
  private unsent: (() => number) | undefined;

  /**
   * Whether this destination has everything memlogd held up to seq target
   * (of daemon), or cannot get it now (it is down). With a filter, the
   * cursor stops at the last entry that matched: then having nothing read
   * and unacknowledged is the best sign there is.
   */
  caughtUp(daemon: string, target: number): boolean {
    if (this.destinationDown.down || this.memlogdDown.down) return true;
    if (this.cursor?.daemon === daemon && this.cursor.seq >= target) return true;
    return this.opts.filter !== undefined && filters(this.opts.filter) && this.unsent !== undefined && this.unsent() === 0;
  }

  stop(): void {
    this.stopped = true;
    this.feedSocket?.destroy();
    this.pause.wake();
  }

  private destinationFailed(err: unknown): void {
    const e = err instanceof SendError ? err : new SendError((err as Error).message);
    this.retryAfterMs = e.retryAfterMs ?? 0;
    if (this.destinationDown.fail(`${e.message}${e.permanent ? ' (retrying will not help until that is fixed)' : ''}; retrying with backoff`)) this.outages++;
  }

  /** Connects to memlogd again and again while the sender works. */
  private async streamWhileSenderWorks(sender: Sender): Promise<PumpEnd> {
    const backoff = new Backoff(this.opts.minBackoffMs ?? 100, Math.min(this.opts.maxBackoffMs ?? 5000, 5000));
    while (!this.stopped) {
      let feed: Feed;
      try {
        feed = await connectFeed(this.opts.socket, this.cursor, this.opts.filter, this.opts.helloTimeoutMs);
      } catch (err) {
        this.memlogdDown.fail(`${(err as Error).message}; retrying`);
        await this.pause.for(backoff.take());
        continue;
      }
      if (this.stopped) {
        feed.socket.destroy();
        break;
      }
      this.memlogdDown.recover('connected again');
      backoff.reset();
      const end = await this.pump(sender, feed);
      if (end !== 'memlogd-closed') return end;
      if (!this.stopped) {
        this.memlogdDown.fail('lost the connection; reconnecting');
        await this.pause.for(backoff.take());
      }
    }
    return 'stopped';
  }

  /**
   * Where a connection starts (the cursor it will save once something is
   * acknowledged; undefined for an upstream daemon), and what goes first: a
   * marker when memlogd restarted since the cursor.
   */
  private opening(feed: Feed): { position: Cursor | undefined; first: ForwardEntry[] } {
    const hello = feed.hello;
    if (!hello) {
      if (!this.warnedUpstream) {
        this.opts.warn(`${this.opts.socket} does not offer resuming (an upstream memlogd?): forwarding in plain dump-and-follow mode, with no cursor; after a reconnect, entries may be sent twice`);
      }
      this.warnedUpstream = true;
      return { position: undefined, first: [] };
    }
    const before = this.cursor;
    const position = { daemon: hello.daemon, seq: before?.daemon === hello.daemon ? Math.max(before.seq, hello.start - 1) : hello.start - 1 };
    if (!before || before.daemon === hello.daemon) return { position, first: [] };
    const msg = `memlogd restarted (daemon ${before.daemon} -> ${hello.daemon}): entries the old daemon held after seq ${before.seq}, if any, were not forwarded to this destination and are lost`;
    this.opts.info(`${this.opts.url}: ${msg}`);
    const now = Date.now();
    const sec = Math.floor(now / 1000);
    const nsec = (now % 1000) * 1_000_000;
    const time = new Date(sec * 1000).toISOString().slice(0, 19) + `.${String(nsec).padStart(9, '0')}Z`;
    return { position, first: [{ time, sec, nsec, source: 'memlogd', msg, severity: 4 }] };
  }

  /** Streams one memlogd connection through the sender until one of them ends (or a stop). */
  private pump(sender: Sender, feed: Feed): Promise<PumpEnd> {
    const socket = feed.socket;
    this.feedSocket = socket;
    const queue = new EntryQueue();
    const { position, first } = this.opening(feed);
    for (const e of first) queue.push(e);
    const daemon = feed.hello?.daemon;
    const lines = new LineReader();
    let inflight = 0;
    this.unsent = () => queue.length + inflight;
    let failed = false;
    let feedClosed = false;
    let paused = false;
    let scheduled = false;
    return new Promise<PumpEnd>((resolve) => {
      let finished = false;
      const finish = (end: PumpEnd): void => {
        if (finished) return;
        finished = true;
        this.endPump = undefined;
        this.feedSocket = undefined;
        this.unsent = undefined;
        socket.destroy();
        resolve(end);
      };
      let stopTimer: NodeJS.Timeout | undefined;
      const settle = (): void => {
        if (failed) return;
        if (this.stopped && inflight === 0) {
          clearTimeout(stopTimer);
          return finish('stopped');
        }
        // A stop waits for what is in flight to be acknowledged, but not forever.
        if (this.stopped && !stopTimer) {
          stopTimer = setTimeout(() => {
            failed = true;
            finish('stopped');
          }, this.opts.closeTimeoutMs ?? 5000);
        }
        if (feedClosed && queue.length === 0 && inflight === 0) finish(this.stopped ? 'stopped' : 'memlogd-closed');
      };
      // The connection failing between batches (or before this pump began): reconnect now, not at the next entry.
      const onSenderFailed = (err: SendError): void => {
        if (failed || finished) return;
        failed = true;
        this.destinationFailed(err);
        finish('sender-failed');
      };
      const early = this.senderFailure;
      if (early) {
        onSenderFailed(early);
        return;
      }
      this.endPump = onSenderFailed;
      const sendMore = (): void => {
        while (!failed && !this.stopped && queue.length > 0 && inflight < sender.window) {
          const batch = queue.take(Math.min(sender.maxBatch, sender.window - inflight));
          inflight += batch.length;
          sender.send(batch).then(
            () => {
              if (failed) return;
              inflight -= batch.length;
              this.acknowledgedBatch(batch, position);
              sendMore();
            },
            (err: unknown) => {
              if (failed) return;
              failed = true;
              this.destinationFailed(err);
              finish('sender-failed');
            },
          );
        }
        if (paused && queue.length < HIGH_WATER / 2 && !feedClosed) {
          paused = false;
          socket.resume();
        }
        settle();
      };
      const onLine = (line: Buffer): void => {
        const entry = fastForwardEntry(line, daemon) ?? parseForwardEntry(line, daemon);
        if (!entry) {
          if (!this.warnedBadLine) this.opts.warn(`${this.opts.socket} sent a line that is not an entry, skipped: ${line.toString('utf8').slice(0, 200)}`);
          this.warnedBadLine = true;
          return;
        }
        if (feed.localFilter && entry.source !== 'memlogd' && !feed.localFilter.matches(entry)) return;
        queue.push(entry);
      };
      const onData = (chunk: Buffer): void => {
        lines.push(chunk, onLine);
        if (queue.length >= HIGH_WATER && !paused) {
          paused = true;
          socket.pause();
        }
        // Everything read in one turn of the event loop goes out together.
        if (!scheduled) {
          scheduled = true;
          setImmediate(() => {
            scheduled = false;
            sendMore();
          });
        }
      };
      socket.on('data', onData);
      socket.on('error', () => socket.destroy());
      socket.once('close', () => {
        feedClosed = true;
        if (this.stopped) queue.clear();
        sendMore();
      });
      if (feed.rest.length > 0) onData(feed.rest);
      if (queue.length > 0) sendMore();
      socket.resume();
    });
  }

  /** The destination has the batch: the cursor moves to its last seq, saved before anything else happens. */
  private acknowledgedBatch(batch: ForwardEntry[], position: Cursor | undefined): void {
    this.acknowledged += batch.length;
    this.destinationDown.recover('delivering again');
    let seq = -1;
    for (let i = batch.length - 1; i >= 0; i--) {
      const s = batch[i].seq;
      if (s !== undefined) {
        seq = s;
        break;
      }
    }
    if (!position) return; // an upstream daemon: no seqs, nothing to save
    if (seq > position.seq) position.seq = seq;
    this.cursor = { ...position };
    // Saved at once (one small write in place): a kill -9 right after an acknowledgement then
    // repeats only what was still unacknowledged.
    this.saveCursor();
  }

  private saveFailing = false;

  private saveCursor(): void {
    if (!this.cursor) return;
    try {
      this.opts.cursors.save(this.cursor);
      if (this.saveFailing) this.opts.info(`${this.opts.url}: the cursor is saved again`);
      this.saveFailing = false;
    } catch (err) {
      if (!this.saveFailing) this.opts.warn(`${this.opts.url}: cannot save the cursor in ${this.opts.cursors.file}: ${(err as Error).message}`);
      this.saveFailing = true;
    }
  }

  private async closeSender(sender: Sender): Promise<void> {
    const timeout = this.opts.closeTimeoutMs ?? 5000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([sender.close().catch(() => undefined), new Promise((r) => (timer = setTimeout(r, timeout)))]);
    clearTimeout(timer);
    sender.destroy();
  }
}
