/**
 * The load the scenarios put on a daemon: groups of writer processes and of
 * follower processes (writer.ts, follower.ts), started and connected before
 * the clock starts, reporting their own times (CLOCK_MONOTONIC is the same
 * in every process), so the orchestrator's own delays never enter a figure.
 */
import { Helper, numberField, sleep, timeField, type Message, type Scope } from './children.js';

/** Writers get a process each up to this many; beyond it, streams share processes (256 writers: 16 x 16). */
export const MAX_WRITER_PROCESSES = 16;
/** Bytes per line, newline included. */
export const LINE_LEN = 100;
/** Let the daemon take in the new streams and followers before the clock starts. */
export const SETTLE_MS = 150;
/** No writer or follower may take longer than this. */
const RUN_TIMEOUT_MS = 180_000;

export interface WriterPlan {
  writers: number;
  linesPerWriter: number;
  len?: number;
  /** Source names are PREFIX0, PREFIX1, ... within each process, PREFIX being this plus the process number. */
  prefix?: string;
}

export interface WritersResult {
  go: bigint;
  /** The last writer's EOF: the daemon has read everything. */
  lastEof: bigint;
  /** The last write returned (the kernel had everything). */
  lastWritten: bigint;
  lines: number;
  /** CPU time of all writer processes from go to their report. */
  cpuMicros: number;
}

export class WriterGroup {
  private goAt = 0n;

  private constructor(
    private readonly helpers: Helper[],
    readonly lines: number,
  ) {}

  /** Spawns the writers; resolves once each has handed its streams to the daemon. */
  static async start(scope: Scope, logSocket: string, plan: WriterPlan): Promise<WriterGroup> {
    const procs = Math.min(plan.writers, MAX_WRITER_PROCESSES);
    const prefix = plan.prefix ?? 'bench';
    const helpers: Helper[] = [];
    for (let p = 0; p < procs; p++) {
      const streams = Math.floor(plan.writers / procs) + (p < plan.writers % procs ? 1 : 0);
      helpers.push(
        new Helper(`writer ${p}`, 'writer.js', [logSocket, `${prefix}${p}-`, String(streams), String(plan.linesPerWriter), String(plan.len ?? LINE_LEN)], scope),
      );
    }
    await Promise.all(helpers.map((h) => h.nextWith('ready', 30_000)));
    return new WriterGroup(helpers, plan.writers * plan.linesPerWriter);
  }

  /** Starts the clock and the writers. */
  go(): bigint {
    this.goAt = process.hrtime.bigint();
    for (const h of this.helpers) h.send('go');
    return this.goAt;
  }

  async finished(): Promise<WritersResult> {
    const reports: Message[] = await Promise.all(
      this.helpers.map((h) =>
        h.nextWith('eofAt', RUN_TIMEOUT_MS).catch((err: unknown) => {
          const msg = err instanceof Error ? err.message : String(err);
          throw new Error(msg.includes('no answer') ? `${msg} (no EOF on its streams: does the daemon close a stream once it has read it to the end?)` : msg);
        }),
      ),
    );
    const max = (a: bigint, b: bigint): bigint => (a > b ? a : b);
    return {
      go: this.goAt,
      lastEof: reports.map((r) => timeField(r, 'eofAt')).reduce(max),
      lastWritten: reports.map((r) => timeField(r, 'writtenAt')).reduce(max),
      lines: this.lines,
      cpuMicros: reports.reduce((n, r) => n + numberField(r, 'cpuMicros'), 0),
    };
  }
}

export interface FollowerResult {
  /** Lines from other sources than memlogd. */
  lines: number;
  /** Lines from source memlogd (loss markers and other notices). */
  memlogd: number;
  /** Sum of the loss markers' counts. */
  lostByMarkers: number;
  bytes: number;
  lastAt: bigint;
  connectAt: bigint;
  endAt: bigint;
  cpuMicros: number;
}

function followerResult(m: Message): FollowerResult {
  return {
    lines: numberField(m, 'lines'),
    memlogd: numberField(m, 'memlogd'),
    lostByMarkers: numberField(m, 'lostByMarkers'),
    bytes: numberField(m, 'bytes'),
    lastAt: timeField(m, 'lastAt'),
    connectAt: timeField(m, 'connectAt'),
    endAt: timeField(m, 'endAt'),
    cpuMicros: numberField(m, 'cpuMicros'),
  };
}

/** Follower processes (mode 1), each counting what it gets. */
export class FollowerGroup {
  private readonly done = new Set<Helper>();
  private progressAt = Date.now();

  private constructor(private readonly helpers: Helper[]) {
    for (const h of helpers) {
      h.onMessage = (m) => {
        if (m.status || m.done) this.progressAt = Date.now();
        if (m.done) this.done.add(h);
      };
    }
  }

  static async start(scope: Scope, querySocket: string, count: number, expected: number, mode = 1): Promise<FollowerGroup> {
    const helpers = Array.from({ length: count }, (_, i) => new Helper(`follower ${i}`, 'follower.js', [querySocket, String(mode), String(expected)], scope));
    await Promise.all(helpers.map((h) => h.nextWith('ready', 30_000)));
    return new FollowerGroup(helpers);
  }

  /**
   * Resolves when every follower has all the lines it expects, or none has
   * got anything for idleMs (some lines were lost), then collects their counts.
   */
  async settle(idleMs = 1000): Promise<FollowerResult[]> {
    this.progressAt = Date.now();
    const deadline = Date.now() + RUN_TIMEOUT_MS;
    while (this.done.size < this.helpers.length && Date.now() - this.progressAt < idleMs && Date.now() < deadline) {
      for (const h of this.helpers) if (h.child.exitCode !== null) throw new Error(`${h.name} exited early (status ${h.child.exitCode})`);
      await sleep(5);
    }
    for (const h of this.helpers) h.send('stop');
    const finals = await Promise.all(this.helpers.map((h) => h.nextWith('final', 10_000)));
    return finals.map(followerResult);
  }
}

/** A mode 0 reader in its own process, connecting on go(). */
export class DumpReader {
  private constructor(private readonly helper: Helper) {}

  static async start(scope: Scope, querySocket: string): Promise<DumpReader> {
    const helper = new Helper('dump reader', 'follower.js', [querySocket, '0', '0'], scope);
    await helper.nextWith('ready', 30_000);
    return new DumpReader(helper);
  }

  async run(): Promise<FollowerResult> {
    this.helper.send('go');
    return followerResult(await this.helper.nextWith('final', RUN_TIMEOUT_MS));
  }
}

export function seconds(from: bigint, to: bigint): number {
  return Number(to - from) / 1e9;
}
