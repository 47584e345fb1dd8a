/**
 * All pipe, FIFO and socket inputs, read through the addon's StreamSet: one
 * JS call per event-loop turn for everything read on it, however many
 * streams. Each turn reads at most a quarter of the ring (by bytes and by
 * the lines that makes), so that a follower gets its delivery before the ring
 * could wrap over it; streams not read on a turn are read on the next.
 */
import { SEGMENT_EOF, StreamSet } from '../native.js';
import { clock } from '../entry/clock.js';
import type { Ring } from '../ring/ring.js';
import { InputTurns } from './turns.js';
import os from 'node:os';

/** What a stream does with its bytes. */
export interface BatchStream {
  onChunk(chunk: Uint8Array, sec: number, nsec: number): void;
  /** The stream ended (error set if it failed); its fd is closed. */
  onEnd(error?: Error): void;
}

const BATCH_BYTES = 1024 * 1024;
const MAX_SEGMENTS = 4096;
/** Bytes read from one fd per turn: at most this, at least MIN_READ unless the budget is smaller. */
const MAX_READ = 64 * 1024;
const MIN_READ = 4 * 1024;

function errnoError(errno: number): Error {
  const name = Object.entries(os.constants.errno).find(([, n]) => n === errno)?.[0] ?? `errno ${errno}`;
  return Object.assign(new Error(`read: ${name}`), { code: name });
}

export class BatchReader {
  private readonly buffer = Buffer.allocUnsafeSlow(BATCH_BYTES);
  private readonly segments = new Int32Array(3 * MAX_SEGMENTS);
  private readonly set: StreamSet;
  private readonly streams: (BatchStream | undefined)[] = [];
  readonly turns: InputTurns;
  private closed = false;

  constructor(
    private readonly ring: Ring,
    /** Called once per turn in which entries were added. */
    private readonly onData: () => void,
  ) {
    this.set = new StreamSet(this.buffer, this.segments, (count) => this.onBatch(count));
    this.turns = new InputTurns(this.set);
    this.updateBudget();
  }

  add(fd: number, stream: BatchStream): number {
    const id = this.set.add(fd);
    this.streams[id] = stream;
    return id;
  }

  /** Stops reading a stream and closes its fd; its onEnd is not called. */
  remove(id: number): void {
    this.streams[id] = undefined;
    if (!this.closed) this.set.remove(id);
  }

  /**
   * A quarter of the ring per turn, in bytes, by the line lengths seen so far
   * (with the half-ring delivery of the query server, a follower always gets
   * entries well before the ring wraps over them); each fd a quarter of that.
   */
  private updateBudget(): void {
    const ring = this.ring;
    const lineBytes = ring.next > 0 ? ring.appendedBytes / ring.next + 1 : 101;
    const budget = Math.max(1, Math.floor(Math.min(ring.capacity, ring.maxLines * lineBytes) / 4));
    const maxRead = Math.max(Math.min(MIN_READ, budget), Math.min(MAX_READ, Math.floor(budget / 4)));
    this.set.setBudget(Math.min(budget, BATCH_BYTES), maxRead);
  }

  private onBatch(count: number): void {
    clock.read();
    const { sec, nsec } = clock;
    const segs = this.segments;
    for (let i = 0; i < count; i++) {
      const id = segs[3 * i];
      const stream = this.streams[id];
      if (stream === undefined) continue; // removed while its bytes were in flight
      const start = segs[3 * i + 1];
      const len = segs[3 * i + 2];
      if (len >= 0) {
        stream.onChunk(this.buffer.subarray(start, start + len), sec, nsec);
      } else {
        this.streams[id] = undefined;
        stream.onEnd(len === SEGMENT_EOF ? undefined : errnoError(start));
      }
    }
    this.onData();
    this.updateBudget();
    this.turns.afterTurn();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.turns.close();
    this.set.close();
  }
}
