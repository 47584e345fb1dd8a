/**
 * memlogd as the init's first child. The init binds both sockets itself and
 * hands them over as fds 3 and 4 (as -daemonize does), so they exist before
 * memlogd has even loaded; it then waits until memlogd answers, so that the
 * first on-boot action starts with logging in place.
 *
 * The init keeps its copies of the two sockets: if memlogd dies, a new one is
 * started on the very same sockets (what senders sent meanwhile waits in the
 * kernel), told which daemon it replaces. A memlogd that cannot be started
 * again is retried with backoff, for as long as the init runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { binPath } from '../paths.js';
import { bindSockets, DEFAULT_SOCKET_MODE } from '../daemon/socket-path.js';
import { queryStatus } from '../clients/query-client.js';
import { closeQuietly } from '../fds.js';
import { exitText } from './processes.js';
import { Pause } from '../pause.js';
import type { DaemonStatus } from '../protocol/wire.js';
import type { MemlogdSection } from './config.js';

/**
 * Node's flags for the memlogd the init runs (when the config names no
 * command of its own). --v8-pool-size=1: one V8 worker thread instead of four
 * (their stacks and malloc arenas): about 0.8 MB less resident, and no
 * measurable cost on the hot path (ingest-8 and deliver-1 daemon CPU per line
 * unchanged within noise; docs/PERFORMANCE.md, issue 13). Given on the
 * command line, not through NODE_OPTIONS, so that nothing else inherits them.
 */
export const MEMLOGD_NODE_FLAGS: readonly string[] = ['--v8-pool-size=1'];

/** First wait between failed restarts; doubled after each, up to the most. */
const RESTART_BACKOFF_MS = 250;
const MAX_RESTART_BACKOFF_MS = 10_000;
/** A restart that takes longer than this leaves the writers to the supervisor's fallback meanwhile. */
const FALLBACK_AFTER_MS = 1000;

/** What the init does around memlogd's restarts. */
export interface MemlogdWatch {
  log(line: string): void;
  /** memlogd is down and not back at once: its streams must be read by someone else meanwhile. */
  onDown(): void;
  /** A new memlogd is ready: hand it the streams. */
  onUp(): Promise<void>;
}

export class MemlogdChild {
  proc!: ChildProcess;
  /** This daemon's id (from its status), for the next one to name. */
  id = '';
  private exited!: Promise<void>;
  private stopping = false;
  /** Backoff between failed restarts; stop() ends it. */
  private readonly pause = new Pause();

  private constructor(
    private readonly section: MemlogdSection,
    private readonly logFd: number,
    private readonly queryFd: number,
  ) {}

  get logSocket(): string {
    return this.section.socketLog;
  }

  get querySocket(): string {
    return this.section.socketQuery;
  }

  static async start(section: MemlogdSection, readyTimeoutMs = 10_000): Promise<MemlogdChild> {
    fs.mkdirSync(path.dirname(section.socketLog), { recursive: true });
    fs.mkdirSync(path.dirname(section.socketQuery), { recursive: true });
    const { logFd, queryFd } = await bindSockets(section, { mode: DEFAULT_SOCKET_MODE });
    const child = new MemlogdChild(section, logFd, queryFd);
    await child.launch(undefined, readyTimeoutMs);
    return child;
  }

  /** Starts a new memlogd on the same sockets, after the previous one died. */
  async restart(readyTimeoutMs = 10_000): Promise<void> {
    await this.launch(this.id, readyTimeoutMs);
  }

  /** From now on, a memlogd that dies is replaced, until stop(). */
  supervise(watch: MemlogdWatch): void {
    const proc = this.proc;
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (this.stopping) return;
      watch.log(`memlogd (pid ${proc.pid}) ${exitText(code, signal)}; starting a new one on the same sockets`);
      void this.replace(watch);
    };
    // It may have died already, between answering and being watched.
    if (proc.exitCode !== null || proc.signalCode !== null) onExit(proc.exitCode, proc.signalCode);
    else proc.once('exit', onExit);
  }

  private async replace(watch: MemlogdWatch): Promise<void> {
    const fallback = setTimeout(() => watch.onDown(), FALLBACK_AFTER_MS);
    let delay = RESTART_BACKOFF_MS;
    for (;;) {
      try {
        await this.restart();
        break;
      } catch (err) {
        if (this.stopping) break;
        watch.onDown();
        watch.log(`memlogd could not be restarted (${(err as Error).message}); trying again in ${(delay / 1000).toFixed(2)} s`);
        await this.pause.for(delay);
        if (this.stopping) break;
        delay = Math.min(delay * 2, MAX_RESTART_BACKOFF_MS);
      }
    }
    clearTimeout(fallback);
    if (this.stopping) return;
    await watch.onUp();
    this.supervise(watch);
  }

  private async launch(restartOf: string | undefined, readyTimeoutMs: number): Promise<void> {
    const s = this.section;
    const [program, ...pre] = s.command ?? [process.execPath, ...MEMLOGD_NODE_FLAGS, binPath('memlogd')];
    const args = [...pre, '-fd-log=3', '-fd-query=4'];
    if (s.maxLines !== undefined) args.push(`-max-lines=${s.maxLines}`);
    if (s.maxLineLen !== undefined) args.push(`-max-line-len=${s.maxLineLen}`);
    if (s.maxBytes !== undefined) args.push(`-max-bytes=${s.maxBytes}`);
    // memlogd binds the syslog sockets itself (a stale file left by one that died is replaced).
    if (s.syslog !== undefined) args.push(`-socket-syslog=${s.syslog}`);
    if (s.syslogStream !== undefined) args.push(`-syslog-stream=${s.syslogStream}`);
    if (s.kmsg) args.push('-kmsg');
    if (s.compressRing === false) args.push('-compress-ring=false');
    if (restartOf) args.push(`-restart-of=${restartOf}`);
    // Its own process group: a Ctrl-C on the terminal goes to the init, which stops memlogd last.
    const proc = spawn(program, args, { stdio: ['ignore', 'inherit', 'inherit', this.logFd, this.queryFd], detached: true });
    this.proc = proc;
    let cannotRun: Error | undefined;
    this.exited = new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.once('error', (err) => {
        cannotRun = err;
        resolve();
      });
    });
    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      const status = await this.status();
      if (status && status.daemon !== restartOf) {
        this.id = status.daemon;
        return;
      }
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`memlogd ${exitText(proc.exitCode, proc.signalCode)} before it was ready`);
      if (cannotRun) throw new Error(`cannot run ${program}: ${cannotRun.message}`);
      if (this.stopping) throw new Error('the init is stopping');
      if (Date.now() > deadline) {
        await this.terminate(1000);
        throw new Error(`memlogd did not answer on ${s.socketQuery} within ${readyTimeoutMs} ms`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** What the daemon says of itself (its id, where its ring is), or undefined if it does not answer. A status costs it one line, not a dump. */
  async status(): Promise<DaemonStatus | undefined> {
    try {
      return await queryStatus(this.section.socketQuery, 1000);
    } catch {
      return undefined;
    }
  }

  /** SIGTERM, then SIGKILL after graceMs; then the sockets go. No more restarts. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    this.pause.wake();
    await this.terminate(graceMs);
    closeQuietly(this.logFd);
    closeQuietly(this.queryFd);
    for (const p of [this.section.socketLog, this.section.socketQuery]) fs.rmSync(p, { force: true });
  }

  /** SIGTERM to the daemon, SIGKILL after graceMs; the sockets stay for the next one. */
  private async terminate(graceMs: number): Promise<void> {
    const proc = this.proc;
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
  }
}
