/**
 * Every process and temporary directory the bench makes goes through here, so
 * that all of them go away at the end: after each scenario (Scope.close), and
 * on Ctrl-C, SIGTERM, an uncaught error or any other exit (installCleanup).
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { ROOT, helperScript } from './paths.js';

const live = new Set<ChildProcess>();
const tempDirs = new Set<string>();

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** spawn(), with the child registered for cleanup. */
export function spawnTracked(command: string, args: string[], opts: SpawnOptions): ChildProcess {
  const child = spawn(command, args, opts);
  live.add(child);
  child.once('exit', () => live.delete(child));
  child.once('error', () => {
    if (child.pid === undefined) live.delete(child);
  });
  return child;
}

/** SIGTERM, then SIGKILL after graceMs; resolves once the child is gone. */
export async function stopChild(child: ChildProcess, graceMs = 2000): Promise<void> {
  if (child.pid === undefined || exited(child)) return;
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const inTime = await Promise.race([gone.then(() => true), sleep(graceMs).then(() => false)]);
  if (!inTime) {
    child.kill('SIGKILL');
    await gone;
  }
}

/** A temporary directory under base (default: os.tmpdir()), removed at the bench's end if not before. */
export function makeTempDir(base = os.tmpdir()): string {
  const dir = fs.mkdtempSync(path.join(base, 'memlog-bench-'));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

function killEverythingNow(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // Already gone.
    }
  }
  live.clear();
  for (const dir of [...tempDirs]) removeTempDir(dir);
}

let stopping = false;

async function stopEverything(code: number, why: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`\nbench: ${why}; stopping ${live.size} child process(es)\n`);
  await Promise.all([...live].map((c) => stopChild(c, 500)));
  killEverythingNow();
  process.exit(code);
}

/** Call once at start: no child or temporary directory outlives the bench, however it ends. */
export function installCleanup(): void {
  process.on('exit', killEverythingNow);
  process.on('SIGINT', () => void stopEverything(130, 'interrupted'));
  process.on('SIGTERM', () => void stopEverything(143, 'terminated'));
  process.on('SIGHUP', () => void stopEverything(129, 'hung up'));
  process.on('uncaughtException', (err) => {
    console.error(err);
    void stopEverything(1, 'uncaught error');
  });
  process.on('unhandledRejection', (err) => {
    console.error(err);
    void stopEverything(1, 'unhandled rejection');
  });
}

/** What one scenario run owns: its children and its temporary directory, all gone at close(). */
export class Scope {
  readonly dir = makeTempDir();
  private readonly children: ChildProcess[] = [];

  adopt(child: ChildProcess): void {
    this.children.push(child);
  }

  async close(): Promise<void> {
    await Promise.all(this.children.map((c) => stopChild(c)));
    removeTempDir(this.dir);
  }
}

/** A message from a helper: one JSON object per line on its stdout. */
export type Message = Record<string, unknown>;

export function numberField(msg: Message, key: string): number {
  const v = msg[key];
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v !== '' && !Number.isNaN(Number(v))) return Number(v);
  throw new Error(`helper message ${JSON.stringify(msg)} lacks the number "${key}"`);
}

/** A time field sent as a decimal string of process.hrtime.bigint() (CLOCK_MONOTONIC, the same in every process). */
export function timeField(msg: Message, key: string): bigint {
  const v = msg[key];
  if (typeof v === 'string' && /^\d+$/.test(v)) return BigInt(v);
  throw new Error(`helper message ${JSON.stringify(msg)} lacks the time "${key}"`);
}

/**
 * A helper process (one of the compiled bench scripts) under the bench's
 * control: commands go to its stdin, messages come back as JSON lines on its
 * stdout. Helpers exit when their stdin closes, so they also go when the bench does.
 */
export class Helper {
  readonly child: ChildProcess;
  private readonly queue: Message[] = [];
  private waiter: { resolve(m: Message): void; reject(e: Error): void } | undefined;
  private stderrTail = '';
  private failure: Error | undefined;
  /** Called for every message, before it is queued for next(). */
  onMessage: ((m: Message) => void) | undefined;

  /** script: a compiled bench script run by node; or, with program given, that executable (a compiled C helper) is run with args instead. */
  constructor(
    readonly name: string,
    script: string,
    args: string[],
    scope: Scope,
    program?: string,
  ) {
    const [command, argv] = program === undefined ? [process.execPath, [helperScript(script), ...args]] : [program, args];
    this.child = spawnTracked(command, argv, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    scope.adopt(this.child);
    const { stdin, stdout, stderr } = this.child;
    if (!stdin || !stdout || !stderr) throw new Error('helper spawned without pipes');
    stdin.on('error', () => {}); // EPIPE once it has gone; its exit says why
    stderr.setEncoding('utf8');
    stderr.on('data', (s: string) => {
      this.stderrTail = (this.stderrTail + s).slice(-2000);
    });
    readline.createInterface({ input: stdout }).on('line', (line) => {
      let msg: Message;
      try {
        msg = JSON.parse(line) as Message;
      } catch {
        this.fail(new Error(`${this.name} printed something that is not JSON: ${line.slice(0, 200)}`));
        return;
      }
      this.onMessage?.(msg);
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        w.resolve(msg);
      } else this.queue.push(msg);
    });
    this.child.once('error', (err) => this.fail(err));
    // 'close', not 'exit': it comes once stdout has been read to the end, so every message is in.
    this.child.once('close', (code, signal) => {
      this.fail(new Error(`${this.name} exited (${signal ?? `status ${code}`})${this.stderrTail ? `: ${this.stderrTail.trim()}` : ''}`));
    });
  }

  private fail(err: Error): void {
    this.failure ??= err;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.reject(this.failure);
    }
  }

  /** The next message, in order; rejects if the helper exits first or timeoutMs passes. */
  next(timeoutMs: number): Promise<Message> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<Message>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`${this.name}: no answer within ${timeoutMs} ms${this.stderrTail ? `: ${this.stderrTail.trim()}` : ''}`));
      }, timeoutMs);
      this.waiter = {
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  /** The next message with field key set (others are dropped). */
  async nextWith(key: string, timeoutMs: number): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = await this.next(Math.max(1, deadline - Date.now()));
      if (m[key] !== undefined) return m;
    }
  }

  send(line: string): void {
    this.child.stdin?.write(line + '\n');
  }
}
