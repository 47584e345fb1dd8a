/**
 * Holds: a short pause of all input before the next turn, so that a follower
 * that keeps up but has a full queue (it is waiting for CPU, not refusing to
 * read) can catch up instead of losing entries.
 *
 * Holds are bounded: the outputs only ask while the follower makes progress,
 * and the inputs never spend more than maxHoldShare of any second held, so
 * no follower, however slow, can hold writers back for long.
 */

/** What the holds pause: all input streams at once. */
export interface Pausable {
  pause(): void;
  resume(): void;
}

export interface HoldPolicy {
  /** True while some follower should get a moment before the inputs read on. */
  wantsHold(): boolean;
}

const WINDOW_MS = 1000;
/** How often a hold looks again whether it is still wanted. */
const HOLD_STEP_MS = 1;

export class InputTurns {
  private timer: NodeJS.Timeout | undefined;
  private holdingSince = -1;
  private windowStart = 0;
  private heldInWindow = 0;
  /** Milliseconds spent held, since start. */
  heldMs = 0;
  policy: HoldPolicy = { wantsHold: () => false };

  constructor(
    private readonly target: Pausable,
    private readonly maxHoldShare = 0.25,
    /** Milliseconds on a monotonic clock; tests give one they move themselves. */
    private readonly now: () => number = () => performance.now(),
  ) {}

  get holding(): boolean {
    return this.holdingSince >= 0;
  }

  /** A turn's input has been handed on: hold before the next one if a follower needs it. */
  afterTurn(): void {
    if (this.timer === undefined) this.check();
  }

  /** A follower made room: stop holding now if it was the reason. */
  wake(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.check();
    }
  }

  private check(): void {
    const now = this.now();
    if (now - this.windowStart >= WINDOW_MS) {
      this.windowStart = now;
      this.heldInWindow = 0;
    }
    const held = this.holdingSince < 0 ? 0 : now - this.holdingSince;
    if (this.heldInWindow + held < this.maxHoldShare * WINDOW_MS && this.policy.wantsHold()) {
      if (this.holdingSince < 0) {
        this.holdingSince = now;
        this.target.pause();
      }
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.check();
      }, HOLD_STEP_MS);
      return;
    }
    if (this.holdingSince >= 0) {
      this.heldInWindow += held;
      this.heldMs += held;
      this.holdingSince = -1;
      this.target.resume();
    }
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
