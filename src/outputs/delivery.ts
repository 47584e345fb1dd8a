/**
 * Delivering entries to the query readers, once per event-loop turn (the
 * connection side, query-server.ts, hands each new reader to add()).
 *
 * A reader that lost entries (it fell a ring behind, or asked to resume from
 * entries already dropped) first gets a marker: an entry from source memlogd
 * with a "lost" field saying how many, between which sequence numbers, and
 * whose.
 *
 * Delivery runs once per event-loop turn, after the inputs have put that turn's
 * lines in the ring: each reader gets one write of everything it has not seen,
 * and readers at the same position share one encoded buffer. A reader whose
 * socket is full is skipped until it drains, so it never holds up ingestion or
 * another reader, and never holds more than one batch of memory.
 */
import type { Ring } from '../ring/ring.js';
import { EntryEncoder, type Encoded } from './entry-encoder.js';
import type { Reader } from './reader.js';
import { answerAndClose } from './connection-end.js';
import { FilteredReader, SCAN_MS_PER_TURN, writeMatches } from './filtered-reader.js';
import { ATTEMPTS, TIMEOUT_MS } from './regexp-scan.js';

export interface DeliveryOptions {
  maxLineLen: number;
  /** An entry of the daemon's own in wire form, outside the ring (errors, loss markers). */
  ownLine(msg: string, extra?: Record<string, unknown>): Buffer;
  /** A reader's queue emptied (the inputs may stop holding). */
  onRoom?(): void;
}

/** Batches written to one reader per turn before the others get theirs. */
const BATCHES_PER_TURN = 4;
/** Bytes written to all readers together per turn, so that hundreds of dumps cannot starve the inputs. */
const DELIVER_BYTES_PER_TURN = 4 * 1024 * 1024;
/**
 * Bytes that may wait in the daemon for one reader's socket. Writing on while
 * below this (rather than waiting for 'drain') gives a reader that keeps up
 * some slack against bursts; the cap keeps a stalled reader's cost bounded.
 */
export const MAX_QUEUED_PER_READER = 1024 * 1024;
/** A reader with a full queue that makes no progress for this long is stalled: the inputs stop holding for it. */
export const STALL_MS = 10;

export class Delivery {
  readonly readers = new Set<Reader>();
  private readonly encoder: EntryEncoder;
  private scheduled = false;
  private turn = 0;
  /** The last batch encoded in this turn, for readers at the same position. */
  private shared: Encoded | undefined;
  private sharedFrom = -1;
  private sharedTo = -1;
  /** Where the ring was at the last delivery. */
  private deliveredSeq = 0;
  private deliveredBytes = 0;
  /** When filtered readers must stop scanning in this turn (performance.now()). */
  private scanDeadline = 0;
  /** Entries lost by all readers since start. */
  lost = 0;

  constructor(
    private readonly ring: Ring,
    private readonly opts: DeliveryOptions,
  ) {
    this.encoder = new EntryEncoder(ring, opts.maxLineLen);
  }

  /**
   * New entries are in the ring: deliver them on this turn of the event loop,
   * or at once if half the ring has filled since the last delivery. libuv may
   * read megabytes in one turn, and a follower that keeps up must get them
   * before the ring wraps over them.
   */
  notify(): void {
    if (this.readers.size === 0) return;
    const ring = this.ring;
    if (ring.next - this.deliveredSeq > ring.maxLines / 2 || ring.appendedBytes - this.deliveredBytes > ring.capacity / 2) {
      this.deliver();
    } else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.deliver());
    }
  }

  /** Takes on a reader whose request is answered: it gets entries from the next delivery, this turn. */
  add(reader: Reader): void {
    this.readers.add(reader);
    reader.socket.on('drain', () => {
      reader.stalled = false;
      this.notifyOne();
      this.opts.onRoom?.();
    });
    reader.socket.on('close', () => {
      reader.done = true;
      this.readers.delete(reader);
    });
    this.notifyOne();
  }

  /** Schedules a delivery for this turn (a reader started or drained). */
  private notifyOne(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.deliver());
  }

  private deliver(): void {
    this.scheduled = false;
    const ring = this.ring;
    this.deliveredSeq = ring.next;
    this.deliveredBytes = ring.appendedBytes;
    // Start with a different reader each turn, so that a turn that runs out of budget is fair.
    const readers = [...this.readers];
    if (readers.length > 1) readers.push(...readers.splice(0, this.turn++ % readers.length));
    this.shared = undefined;
    this.scanDeadline = performance.now() + SCAN_MS_PER_TURN;
    let budget = DELIVER_BYTES_PER_TURN;
    // Batch by batch across readers: readers at the same position share each encoded batch.
    for (let batch = 0; batch < BATCHES_PER_TURN && budget > 0; batch++) {
      let wrote = false;
      for (const reader of readers) {
        const n = this.step(reader);
        if (n > 0) {
          wrote = true;
          budget -= n;
          if (budget <= 0) break;
        }
      }
      if (!wrote) break;
    }
    // Out of batches, bytes or scanning time with readers still behind: carry on next turn.
    for (const reader of readers) {
      // A dump that has sent its last entry still has to be closed, by a step: its last write may have
      // gone out whole, and then no 'drain' comes to bring it back.
      const behind =
        reader instanceof FilteredReader ? reader.behind(ring) : !reader.blocked && !reader.done && (!reader.following || reader.pos < Math.min(reader.end, ring.next));
      if (behind) {
        this.notifyOne();
        return;
      }
    }
  }
  /** Writes one batch to reader if it has room and something to get; returns the bytes written. */
  private step(reader: Reader): number {
    if (reader instanceof FilteredReader) return this.stepFiltered(reader);
    const ring = this.ring;
    // A reader whose queue is full is skipped; it is looked at again every turn, so it
    // carries on as soon as its socket takes more, not only once its queue is empty.
    reader.blocked = reader.socket.writableLength >= MAX_QUEUED_PER_READER;
    if (reader.blocked || reader.done) return 0;
    if (reader.pos < ring.first) this.reportLoss(reader);
    const limit = Math.min(reader.end, ring.next);
    if (reader.pos >= limit) {
      if (!reader.following) {
        reader.done = true;
        answerAndClose(reader.socket);
      }
      return 0;
    }
    let shared = this.shared;
    if (!shared || reader.pos !== this.sharedFrom || limit !== this.sharedTo) {
      shared = this.shared = this.encoder.encode(reader.pos, limit);
      this.sharedFrom = reader.pos;
      this.sharedTo = limit;
    }
    reader.sent += shared.next - reader.pos;
    reader.pos = shared.next;
    reader.socket.write(shared.buf);
    return shared.buf.length;
  }

  /** Scans on for a filtered reader and writes what matched; returns the bytes written. */
  private stepFiltered(reader: FilteredReader): number {
    const ring = this.ring;
    reader.blocked = reader.socket.writableLength >= MAX_QUEUED_PER_READER;
    if (reader.blocked || reader.done) return 0;
    if (reader.phase !== 'search' && reader.pos < ring.first) this.reportLoss(reader);
    if (!reader.dumped || reader.following) reader.advance(ring, this.scanDeadline);
    let bytes = writeMatches(reader, this.encoder);
    const skipped = reader.matches.skipped;
    // Skips are told at the end of the dump part, and to a follower as they happen.
    if (skipped > 0 && reader.dumped) {
      const msg = `skipped ${skipped} ${skipped === 1 ? 'entry' : 'entries'}: matching the pattern took over ${TIMEOUT_MS} ms on each of ${ATTEMPTS} tries`;
      const line = this.opts.ownLine(msg, { skipped });
      reader.socket.write(line);
      bytes += line.length;
      reader.matches.skipped = 0;
    }
    if (reader.dumped && !reader.following) {
      reader.done = true;
      answerAndClose(reader.socket);
    }
    return bytes;
  }

  /** The reader's next entries have left the ring: say so in its stream, then go on from the oldest held. */
  private reportLoss(reader: Reader): void {
    const ring = this.ring;
    const from = reader.pos;
    const to = ring.first; // exclusive
    const count = to - from;
    reader.lost += count;
    this.lost += count;
    reader.pos = to;
    const { bySource, unknown } = ring.dropped(from, to);
    const sources: Record<string, number> = {};
    const parts: string[] = [];
    for (const [name, n] of bySource) {
      sources[name] = n;
      parts.push(`${name} ${n}`);
    }
    if (unknown > 0) parts.push(`${unknown} from sources no longer known`);
    const msg = `lost ${count} entries (seq ${from} to ${to - 1}) that left the ring before this reader got them: ${parts.join(', ')}`;
    reader.socket.write(this.opts.ownLine(msg, { lost: { from, to: to - 1, count, sources, unknown } }));
  }

  /**
   * Whether the inputs should hold a moment: some follower has a full queue
   * but is draining it (it is short of CPU, not refusing to read). A reader
   * whose queue has not shrunk for STALL_MS is left to lose entries instead.
   */
  wantsHold(): boolean {
    const now = performance.now();
    let hold = false;
    for (const reader of this.readers) {
      const queued = reader.socket.writableLength;
      if (queued < MAX_QUEUED_PER_READER || reader.stalled || reader.done) {
        reader.progressAt = -1;
        continue;
      }
      if (reader.progressAt < 0 || queued < reader.queuedAtProgress) {
        reader.progressAt = now;
        reader.queuedAtProgress = queued;
      } else if (now - reader.progressAt > STALL_MS) {
        reader.stalled = true;
        continue;
      }
      hold = true;
    }
    return hold;
  }
}
