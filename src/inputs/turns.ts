/**
 * Input turns: every stream reads at most one buffer per event-loop turn, and
 * the next turn's reads start after the followers have had theirs.
 *
 * libuv would otherwise read megabytes from a busy stream in one go, and the
 * followers would not get a turn before the ring wrapped over them.
 *
 * A turn reads at most turnBudget bytes in all: with many busy streams, each
 * reads less (down to MIN_READ), so that one turn never brings more than a
 * fraction of the ring and a follower is not overrun between two deliveries.
 *
 * The outputs may also ask for a hold: a short pause before the next turn, so
 * that a follower that keeps up but has a full queue (it is waiting for CPU,
 * not refusing to read) can catch up instead of losing entries. Holds are
 * bounded: the outputs only ask while the follower makes progress, and the
 * inputs never spend more than maxHoldShare of any second held, so no
 * follower, however slow, can hold writers back for long.
 */

/** What an input stream needs to be paused and resumed. */
export interface Resumable {
  resume(): unknown;
  readonly destroyed: boolean;
}

export interface HoldPolicy {
  /** True while some follower should get a moment before the inputs read on. */
  wantsHold(): boolean;
}

/** Bytes one stream reads at most per turn, and at least (below that, syscalls would cost more than lines). */
export const MAX_READ = 64 * 1024;
export const MIN_READ = 512;

const WINDOW_MS = 1000;
/** How often a hold looks again whether it is still wanted. */
const HOLD_STEP_MS = 1;

export class InputTurns {
  private waiting: Resumable[] = [];
  private scheduled = false;
  private timer: NodeJS.Timeout | undefined;
  private holdingSince = -1;
  private windowStart = 0;
  private heldInWindow = 0;
  /** Milliseconds spent held, since start. */
  heldMs = 0;
  policy: HoldPolicy = { wantsHold: () => false };
  /** Bytes all streams together should read in one turn (set by the owner from the ring's size). */
  turnBudget: () => number = () => Number.POSITIVE_INFINITY;
  /** Bytes each stream reads on this turn (its fair share of the budget). */
  readSize = MAX_READ;
  /** Counts turns, so that a stream can tell whether it has had its read on this one. */
  turn = 0;
  /** Bytes read so far on this turn, and the turn's budget. */
  private readThisTurn = 0;
  private budgetThisTurn = Number.POSITIVE_INFINITY;

  constructor(private readonly maxHoldShare = 0.25) {}

  /**
   * Size of the next read: the stream's fair share, but no more than what is
   * left of the turn's budget (so that a turn in which every stream turns out
   * to be busy stays bounded), and never less than MIN_READ.
   */
  nextReadSize(): number {
    // The first turn, before any stream has waited, is bounded too: all streams may start at once.
    if (this.budgetThisTurn === Number.POSITIVE_INFINITY) this.budgetThisTurn = this.turnBudget();
    return Math.max(MIN_READ, Math.min(this.readSize, this.budgetThisTurn - this.readThisTurn));
  }

  /** n bytes were read on this turn. */
  consumed(n: number): void {
    this.readThisTurn += n;
  }

  /** A hold is on: streams that would stay armed pause too. */
  get holding(): boolean {
    return this.holdingSince >= 0;
  }

  /** The stream has had its read for this turn; it reads again on the next. */
  wait(stream: Resumable): void {
    this.waiting.push(stream);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.nextTurn());
    }
  }

  /** A follower made room: stop holding now if it was the reason. */
  wake(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.nextTurn();
    }
  }

  private nextTurn(): void {
    this.timer = undefined;
    const now = performance.now();
    if (now - this.windowStart >= WINDOW_MS) {
      this.windowStart = now;
      this.heldInWindow = 0;
    }
    const held = this.holdingSince < 0 ? 0 : now - this.holdingSince;
    if (this.heldInWindow + held < this.maxHoldShare * WINDOW_MS && this.policy.wantsHold()) {
      if (this.holdingSince < 0) this.holdingSince = now;
      this.timer = setTimeout(() => this.nextTurn(), HOLD_STEP_MS);
      return;
    }
    if (this.holdingSince >= 0) {
      this.heldInWindow += held;
      this.heldMs += held;
      this.holdingSince = -1;
    }
    this.scheduled = false;
    // Streams busy on this turn will most likely be busy on the next: share the budget among them.
    const busy = Math.max(1, this.waiting.length);
    this.budgetThisTurn = this.turnBudget();
    this.readThisTurn = 0;
    this.turn++;
    this.readSize = Math.max(MIN_READ, Math.min(MAX_READ, Math.floor(this.budgetThisTurn / busy)));
    for (const stream of this.waiting.splice(0)) if (!stream.destroyed) stream.resume();
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.waiting = [];
  }
}
