/**
 * memlogd -kmsg: the kernel log read by memlogd itself, as journald does,
 * instead of through `logwrite -n kmsg memlog-kmsg`. Each record becomes the
 * entries that pipeline would make: memlog-kmsg's line (upstream's format)
 * cut into lines by the same LineSplitter a stream goes through, source
 * `kmsg`; and each entry carries the record's level and facility as its
 * severity and facility, as syslog entries do.
 *
 * The device is opened non-blocking and polled at the end (kmsg/reader.ts):
 * a blocking read would sit on the thread pool where nothing can cancel it,
 * and memlogd could not exit on SIGTERM until the kernel logged again.
 * Records are read one per read() on the thread pool, so other inputs get
 * the event loop between them; a file or FIFO of captured records gives many
 * per read, so the input yields a turn after a share of the ring, as the
 * batch reader does, and waits while the stream inputs are held for a
 * follower.
 */
import { clock } from '../entry/clock.js';
import { closeQuietly } from '../fds.js';
import { NONE, type Ring } from '../ring/ring.js';
import type { Source } from '../ring/sources.js';
import { openKmsg, readOpenedKmsg, type OpenedKmsg } from '../kmsg/reader.js';
import type { KmsgRecord } from '../kmsg/record.js';
import { LineSplitter } from './line-splitter.js';
import type { RingInputOptions } from './input-options.js';
import type { SourceLimit } from './rate-limit.js';

/** The source of the entries: what `logwrite -n kmsg memlog-kmsg` names them. */
export const KMSG_SOURCE = 'kmsg';
/** How long to wait before looking again whether the hold of the inputs is over. */
const HOLD_STEP_MS = 1;
/** Entries added at most before the event loop gets a turn. */
const MAX_ENTRIES_PER_TURN = 256;

/** The limiter, if on, limits `kmsg` as any source (it was, through the launcher). */
export interface KmsgInputOptions extends RingInputOptions {
  /** /dev/kmsg, or a file or FIFO of captured records. */
  device: string;
  /** Whether the stream inputs are held for a follower just now (kmsg waits too). */
  held(): boolean;
  /** Reading stopped for good, other than by close(): the kernel log is no longer collected. */
  onFailure(err: Error): void;
}

export class KmsgInput {
  private readonly abort = new AbortController();
  private readonly source: Source;
  private readonly limit: SourceLimit | undefined;
  private readonly splitter: LineSplitter;
  private readonly turnBudget: number;
  private sinceTurn = 0;
  private done: Promise<void> | undefined;
  private closed = false;
  /** Reading ended: closed, failed, or the device ended. */
  private stopped = false;
  bytes = 0;

  private constructor(
    private readonly ring: Ring,
    private readonly device: OpenedKmsg,
    private readonly opts: KmsgInputOptions,
  ) {
    this.source = ring.sources.acquire(KMSG_SOURCE);
    this.limit = opts.limiter?.acquire(this.source);
    this.splitter = new LineSplitter(ring, this.source.id, opts.maxLineLen, { limit: this.limit });
    this.turnBudget = Math.max(1, Math.min(MAX_ENTRIES_PER_TURN, Math.floor(ring.maxLines / 4)));
  }

  /**
   * Opens the device (never blocking); throws a one-line Error
   * (`cannot read PATH: ...`) if it cannot be read, with nothing left open.
   */
  static async open(ring: Ring, opts: KmsgInputOptions): Promise<KmsgInput> {
    const device = await openKmsg(opts.device, { follow: true, cancellable: true });
    return new KmsgInput(ring, device, opts);
  }

  /** Starts reading, in the background until close(). */
  start(): void {
    if (this.done || this.closed) return;
    this.done = readOpenedKmsg(this.device, {
      follow: true,
      signal: this.abort.signal,
      out: (line, record) => this.add(line, record),
      warn: (msg) => this.opts.log(`-kmsg: ${msg}`),
    }).then(
      () => {
        this.stopped = true;
        this.release();
        // Only a device that returns 0 (not /dev/kmsg) ends by itself.
        if (!this.closed) this.opts.onFailure(new Error(`${this.device.path} ended`));
      },
      (err: unknown) => {
        this.stopped = true;
        this.release();
        if (!this.closed) this.opts.onFailure(err instanceof Error ? err : new Error(String(err)));
      },
    );
  }

  private add(line: string, record: KmsgRecord): void | Promise<void> {
    if (this.closed) return;
    const bytes = Buffer.from(line + '\n');
    this.bytes += bytes.length;
    clock.read();
    this.splitter.setPriority(record.level, record.facility <= 23 ? record.facility : NONE);
    this.splitter.push(bytes, clock.sec, clock.nsec);
    this.opts.onData();
    if (++this.sinceTurn < this.turnBudget && !this.opts.held()) return;
    this.sinceTurn = 0;
    return this.nextTurn();
  }

  /** Lets the event loop (deliveries, other inputs) have a turn, and waits out a hold. */
  private async nextTurn(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.opts.held() && !this.closed) await new Promise<void>((resolve) => setTimeout(resolve, HOLD_STEP_MS));
  }

  private release(): void {
    if (this.limit) this.opts.limiter?.release(this.limit);
    this.ring.sources.release(this.source.id);
  }

  /** What status says of it. */
  describe(): Record<string, unknown> {
    return {
      device: this.device.path,
      reading: !this.stopped && !this.closed,
      bytes: this.bytes,
      lines: this.splitter.lines,
      truncated: this.splitter.truncated,
      ...(this.splitter.suppressed > 0 ? { suppressed: this.splitter.suppressed } : {}),
    };
  }

  /** Stops reading; resolves once the device is closed (its last read is non-blocking, so at once). */
  async close(): Promise<void> {
    if (this.closed) return this.done;
    this.closed = true;
    this.abort.abort();
    if (this.done) return this.done;
    // Never started: the fd is still ours.
    closeQuietly(this.device.fd);
    this.release();
  }
}
