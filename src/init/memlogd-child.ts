/**
 * memlogd as the init's first child. The init binds both sockets itself and
 * hands them over as fds 3 and 4 (as -daemonize does), so they exist before
 * memlogd has even loaded; it then waits until memlogd answers, so that the
 * first on-boot action starts with logging in place.
 *
 * The init keeps its copies of the two sockets: if memlogd dies, a new one is
 * started on the very same sockets (what senders sent meanwhile waits in the
 * kernel), told which daemon it replaces.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { binPath } from '../paths.js';
import { bindSockets, DEFAULT_SOCKET_MODE } from '../daemon/socket-path.js';
import { queryStatus } from '../clients/query-client.js';
import type { DaemonStatus } from '../protocol/wire.js';
import type { MemlogdSection } from './config.js';

export class MemlogdChild {
  proc!: ChildProcess;
  /** This daemon's id (from its status), for the next one to name. */
  id = '';
  private exited!: Promise<void>;

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

  private async launch(restartOf: string | undefined, readyTimeoutMs: number): Promise<void> {
    const s = this.section;
    const args = [binPath('memlogd'), '-fd-log=3', '-fd-query=4'];
    if (s.maxLines !== undefined) args.push(`-max-lines=${s.maxLines}`);
    if (s.maxLineLen !== undefined) args.push(`-max-line-len=${s.maxLineLen}`);
    if (s.maxBytes !== undefined) args.push(`-max-bytes=${s.maxBytes}`);
    if (restartOf) args.push(`-restart-of=${restartOf}`);
    // Its own process group: a Ctrl-C on the terminal goes to the init, which stops memlogd last.
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit', this.logFd, this.queryFd], detached: true });
    this.proc = proc;
    this.exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      const status = await this.status();
      if (status && status.daemon !== restartOf) {
        this.id = status.daemon;
        return;
      }
      if (proc.exitCode !== null) throw new Error(`memlogd exited with status ${proc.exitCode} before it was ready`);
      if (Date.now() > deadline) {
        await this.stop(1000);
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

  /** SIGTERM, then SIGKILL after graceMs; then the sockets go. */
  async stop(graceMs: number): Promise<void> {
    const proc = this.proc;
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    for (const fd of [this.logFd, this.queryFd]) {
      try {
        fs.closeSync(fd);
      } catch {
        // closed already
      }
    }
    for (const p of [this.section.socketLog, this.section.socketQuery]) fs.rmSync(p, { force: true });
  }
}
