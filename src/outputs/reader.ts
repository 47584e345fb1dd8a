/**
 * One query client: a cursor over the ring's sequence numbers and the socket it
 * writes to. A dump stops at the entry that was newest when it connected; a
 * follower never stops. The ring is the only buffer: a reader that is slow
 * only holds its cursor, and when the ring has moved past that cursor the
 * entries in between are counted as lost (the oldest unread go first).
 */
import type net from 'node:net';

export const FOREVER = Number.POSITIVE_INFINITY;

export class Reader {
  /** Next entry to send. */
  pos: number;
  /** Entries the ring dropped before this reader got them. */
  lost = 0;
  sent = 0;
  /** Its queue in the daemon is full: nothing more is written until it shrinks. */
  blocked = false;
  /** When its queue was last seen full and shrinking (ms, performance.now()). */
  progressAt = -1;
  queuedAtProgress = 0;
  /** Full queue and no progress for a while: the inputs no longer hold for it until it drains. */
  stalled = false;
  done = false;

  constructor(
    readonly socket: net.Socket,
    start: number,
    /** First sequence number not to send: FOREVER for followers. */
    readonly end: number,
  ) {
    this.pos = start;
  }

  get following(): boolean {
    return this.end === FOREVER;
  }
}
