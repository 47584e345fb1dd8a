/**
 * A client's regular expression, run so that it cannot stall the daemon.
 * JavaScript's RegExp backtracks: `(a+)+$` on forty a's and a `!` takes
 * longer than the universe has left. So the loop over entries runs inside a
 * node:vm context with a hard timeout (which V8 enforces by interrupting the
 * regular expression itself), and records its progress in a typed array after
 * each entry. It also stops itself once its slice of the turn is spent, well
 * before the timeout; the timeout only fires when one entry alone takes too
 * long. The timeout is wall-clock time: on a busy machine a run may be
 * interrupted only because the process was not running. So an interrupted
 * entry is tried again on the next turn, and only an entry interrupted
 * ATTEMPTS times in a row is skipped and counted; the scan goes on after it.
 * A pattern that truly explodes costs ATTEMPTS timeouts per such entry, one
 * per turn.
 *
 * Messages are matched as the wire shows them: decoded as UTF-8, invalid
 * bytes as U+FFFD.
 */
import vm from 'node:vm';
import type { Ring } from '../ring/ring.js';
import type { Matches, RingFilter } from './ring-filter.js';
import type { Scan } from './grep-scan.js';

/** A run stops itself after this long. */
export const SLICE_MS = 2;
/** A run is interrupted after this long: one entry took too long alone. */
export const TIMEOUT_MS = 5;
/** Interrupted runs on one entry, each on its own turn, before it is skipped. */
export const ATTEMPTS = 3;

/**
 * The loop, compiled once; its inputs are the context's globals, set before
 * each run. Its progress is one number, written in one store so that the
 * timeout cannot catch it half written: seq * 3 + 0 (seq not started),
 * + 1 (testing seq), + 2 (seq done, a match recorded).
 */
const LOOP = `
(() => {
  let seq = Math.floor(progress[0] / 3);
  let n = progress[1];
  const cap = seqs.length;
  while (seq < to && n < cap) {
    progress[0] = seq * 3 + 1;
    if (admits(seq) && regexp.test(text(seq))) {
      seqs[n] = seq;
      progress[1] = ++n;
    }
    progress[0] = seq * 3 + 2;
    seq++;
    if (now() >= deadline) break;
  }
  progress[0] = seq * 3;
})();
`;

interface LoopGlobals {
  progress: Float64Array;
  seqs: Float64Array;
  to: number;
  deadline: number;
  regexp: RegExp;
  admits(seq: number): boolean;
  text(seq: number): string;
  now(): number;
}

let shared: { context: vm.Context & LoopGlobals; script: vm.Script } | undefined;

/** One context for every regexp scan: they run one at a time, each setting its globals first. */
function loop(): { context: vm.Context & LoopGlobals; script: vm.Script } {
  if (!shared) {
    const globals: LoopGlobals = {
      progress: new Float64Array(2),
      seqs: new Float64Array(0),
      to: 0,
      deadline: 0,
      regexp: /$^/,
      admits: () => false,
      text: () => '',
      now: () => performance.now(),
    };
    shared = { context: vm.createContext(globals) as vm.Context & LoopGlobals, script: new vm.Script(LOOP, { filename: 'memlogd-grep' }) };
  }
  return shared;
}

export class RegexpScan implements Scan {
  private readonly admits: (seq: number) => boolean;
  private readonly text: (seq: number) => string;
  /** The entry the last interrupted run was testing, and how many runs in a row were interrupted on it. */
  private interruptedSeq = -1;
  private interruptions = 0;

  constructor(
    ring: Ring,
    private readonly filter: RingFilter,
    private readonly regexp: RegExp,
  ) {
    this.admits = (seq) => filter.admits(seq);
    this.text = (seq) => {
      const start = ring.offset(seq);
      return ring.bufferOf(seq).toString('utf8', start, start + ring.length(seq));
    };
  }

  scan(from: number, to: number, out: Matches, deadline: number): number {
    if (from >= to || out.full || performance.now() >= deadline) return from;
    this.filter.refresh();
    const { context, script } = loop();
    const progress = context.progress;
    progress[0] = from * 3;
    progress[1] = out.count;
    context.seqs = out.seqs;
    context.to = to;
    context.deadline = Math.min(deadline, performance.now() + SLICE_MS);
    context.regexp = this.regexp;
    context.admits = this.admits;
    context.text = this.text;
    try {
      script.runInContext(context, { timeout: TIMEOUT_MS });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ERR_SCRIPT_EXECUTION_TIMEOUT') throw err;
      const seq = Math.floor(progress[0] / 3);
      const state = progress[0] - seq * 3;
      // Interrupted while testing seq (unless its match was recorded just before): try it again next
      // turn, or skip it after ATTEMPTS interruptions in a row.
      const n = progress[1];
      let next = state === 0 ? seq : seq + 1;
      if (state === 1 && !(n > out.count && out.seqs[n - 1] === seq)) {
        this.interruptions = seq === this.interruptedSeq ? this.interruptions + 1 : 1;
        this.interruptedSeq = seq;
        if (this.interruptions < ATTEMPTS) next = seq;
        else out.skipped++;
      }
      progress[0] = next * 3;
    }
    out.count = progress[1];
    return Math.floor(progress[0] / 3);
  }
}
