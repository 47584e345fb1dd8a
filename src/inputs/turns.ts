/**
 * Input turns: every stream reads at most one buffer per event-loop turn, and
 * the next turn's reads start after the followers have had theirs.
 *
 * libuv would otherwise read megabytes from a busy stream in one go, and the
 * followers would not get a turn before the ring wrapped over them.
 *
 * What one turn brings is bounded by the number of busy streams times
 * READ_SIZE: Node reads a stream into a buffer fixed when the stream is set
 * up, so the size of each read cannot follow the turn. (With hundreds of busy
 * streams a turn can bring more than a small ring holds: see
 * docs/PERFORMANCE.md, deliver-256.)
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

/** Bytes one stream reads per turn at most. */
export const READ_SIZE = 64 * 1024;

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
  /** Counts turns, so that a stream can tell whether it has had its read on this one. */
  turn = 0;

  constructor(private readonly maxHoldShare = 0.25) {}

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
    this.turn++;
    for (const stream of this.waiting.splice(0)) if (!stream.destroyed) stream.resume();
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.waiting = [];
  }
}
