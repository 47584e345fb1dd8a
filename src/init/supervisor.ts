/**
 * The init: memlogd first, then the on-boot actions one after another, then
 * the services side by side, each wired to memlogd with no change to the
 * program (wiring.ts); at SIGTERM or SIGINT, an orderly stop.
 *
 * Every program runs in its own process group, so that stopping it reaches
 * whatever it started, and a Ctrl-C on the terminal reaches only the init,
 * which then stops things in order: the services, then the ones marked
 * `stop: last` (the persister, which first writes what the others said last),
 * then memlogd.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { InitConfig, ProgramConfig, ServiceConfig } from './config.js';
import { MemlogdChild } from './memlogd-child.js';
import { fifosToMemlogd, socketpairsToMemlogd, toFiles, type HandedStream, type Stdio } from './wiring.js';
import { sendFds, socketpair } from '../native.js';

const MAX_RESTART_DELAY_MS = 30_000;
/** A service that ran this long before failing starts again after its first delay, not a doubled one. */
const HEALTHY_RUN_MS = 10_000;

export interface InitEvents {
  /** The init's own log lines (also sent to memlogd as source `init`). */
  log(line: string): void;
}

interface Running {
  config: ServiceConfig;
  stdio: Stdio;
  proc?: ChildProcess;
  startedAt: number;
  delayMs: number;
  restarts: number;
  timer?: NodeJS.Timeout;
  stopping: boolean;
  exited: Promise<void>;
  markExited: () => void;
}

function exitText(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `was killed by ${signal}` : `exited with status ${code}`;
}

/** Sends sig to the process group of proc (the program and whatever it started). */
function signalGroup(proc: ChildProcess, sig: NodeJS.Signals): void {
  if (proc.pid === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
  try {
    process.kill(-proc.pid, sig);
  } catch {
    // The group is gone already.
  }
}

export class Init {
  memlogd: MemlogdChild | undefined;
  private readonly services = new Map<string, Running>();
  /** Every read end handed to memlogd that is still in use: a new memlogd gets them all again. */
  private readonly handed = new Set<HandedStream>();
  private ownLog: { fd: number; close(): void } | undefined;
  private ownLogFile: number | undefined;
  private shuttingDown = false;
  private currentOnboot: ChildProcess | undefined;
  private readonly stopped: Promise<void>;
  private resolveStopped!: () => void;

  constructor(
    readonly config: InitConfig,
    private readonly events: InitEvents = { log: (line) => process.stderr.write(`init: ${line}\n`) },
  ) {
    this.stopped = new Promise((resolve) => (this.resolveStopped = resolve));
  }

  /** The init's own entries: to memlogd as source `init`, or to LOGDIR/init.log; and to the caller. */
  log(line: string): void {
    this.events.log(line);
    const text = Buffer.from(`${line}\n`);
    try {
      if (this.ownLog) fs.writeSync(this.ownLog.fd, text);
      else if (this.ownLogFile !== undefined) fs.writeSync(this.ownLogFile, text);
    } catch {
      // memlogd is gone or the disk is full: the line still went to the caller.
    }
  }

  /** Boots: memlogd, on-boot actions, services. Resolves once the services are started. */
  async boot(): Promise<void> {
    const cfg = this.config;
    if (cfg.memlogd) {
      try {
        this.memlogd = await MemlogdChild.start(cfg.memlogd);
        const [mine, theirs] = socketpair();
        try {
          sendFds(this.memlogd.logSocket, Buffer.from('init'), [theirs]);
        } catch (err) {
          fs.closeSync(theirs);
          fs.closeSync(mine);
          throw err;
        }
        const own: HandedStream = { name: 'init', fd: theirs };
        this.handed.add(own);
        this.ownLog = {
          fd: mine,
          close: () => {
            fs.closeSync(mine);
            this.handed.delete(own);
            fs.closeSync(theirs);
          },
        };
        this.superviseMemlogd();
        this.log(`memlogd is running (pid ${this.memlogd.proc.pid}): log socket ${cfg.memlogd.socketLog}, query socket ${cfg.memlogd.socketQuery}`);
      } catch (err) {
        this.openOwnLogFile();
        this.log(`memlogd could not start (${(err as Error).message}); output goes to files under ${cfg.logDir}`);
      }
    } else {
      this.openOwnLogFile();
      this.log(`no memlogd section: output goes to files under ${cfg.logDir}`);
    }
    for (let i = 0; i < cfg.onboot.length && !this.shuttingDown; i++) {
      await this.runOnboot(cfg.onboot[i], i);
    }
    if (this.shuttingDown) return;
    for (const service of cfg.services) this.startService(service);
  }

  /** If memlogd dies, a new one on the same sockets, and every stream handed to the old one again. */
  private superviseMemlogd(): void {
    const memlogd = this.memlogd;
    if (!memlogd) return;
    memlogd.proc.once('exit', (code, signal) => {
      if (this.shuttingDown) return;
      this.events.log(`memlogd (pid ${memlogd.proc.pid}) ${exitText(code, signal)}; starting a new one on the same sockets`);
      void (async () => {
        try {
          await memlogd.restart();
        } catch (err) {
          this.events.log(`memlogd could not be restarted: ${(err as Error).message}`);
          return;
        }
        for (const h of this.handed) {
          try {
            sendFds(memlogd.logSocket, Buffer.from(h.name), [h.fd]);
          } catch (err) {
            this.events.log(`cannot hand ${h.name} to the new memlogd: ${(err as Error).message}`);
          }
        }
        this.log(`memlogd restarted (pid ${memlogd.proc.pid}); ${this.handed.size} streams handed over again`);
        this.superviseMemlogd();
      })();
    });
  }

  /** Notes a program's read ends as in use (for a new memlogd) until released. */
  private track(stdio: Stdio): Stdio {
    for (const h of stdio.handed) this.handed.add(h);
    const release = stdio.release;
    return {
      ...stdio,
      release: () => {
        for (const h of stdio.handed) this.handed.delete(h);
        release();
      },
    };
  }

  private openOwnLogFile(): void {
    try {
      fs.mkdirSync(this.config.logDir, { recursive: true });
      this.ownLogFile = fs.openSync(path.join(this.config.logDir, 'init.log'), 'a', 0o640);
    } catch (err) {
      this.events.log(`cannot open ${path.join(this.config.logDir, 'init.log')}: ${(err as Error).message}`);
    }
  }

  /** stdout/stderr for a program: memlogd if it is up and takes the streams, files otherwise. */
  private wire(name: string, kind: 'onboot' | 'service'): Stdio {
    const memlogd = this.memlogd;
    if (memlogd && memlogd.proc.exitCode === null) {
      try {
        return this.track(
          kind === 'onboot'
            ? socketpairsToMemlogd(memlogd.logSocket, name)
            : fifosToMemlogd(memlogd.logSocket, path.join(this.config.runDir, 'fifo'), name),
        );
      } catch (err) {
        this.log(`cannot hand ${name}'s output to memlogd (${(err as Error).message}); writing it to files`);
      }
    }
    return kind === 'onboot'
      ? toFiles(path.join(this.config.logDir, 'onboot'), name.replace(/^onboot\./, ''))
      : toFiles(this.config.logDir, name);
  }

  private spawn(program: ProgramConfig, stdio: Stdio): ChildProcess {
    return spawn(program.command[0], program.command.slice(1), {
      stdio: ['ignore', stdio.out, stdio.err],
      env: { ...process.env, ...program.env },
      cwd: program.cwd,
      detached: true, // its own process group
    });
  }

  private async runOnboot(action: ProgramConfig, index: number): Promise<void> {
    const name = `onboot.${String(index).padStart(3, '0')}-${action.name}`;
    const stdio = this.wire(name, 'onboot');
    this.log(`on-boot ${name}: starting ${JSON.stringify(action.command)}, output to ${stdio.describe}`);
    const proc = this.spawn(action, stdio);
    this.currentOnboot = proc;
    stdio.close(); // the action holds its own copies; EOF reaches memlogd when it exits
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
      proc.once('error', (err) => {
        this.log(`on-boot ${name}: cannot run: ${err.message}`);
        resolve([127, null]);
      });
      proc.once('exit', (c, s) => resolve([c, s]));
    });
    this.currentOnboot = undefined;
    stdio.release(); // memlogd has its own copy and reads to the end
    // As LinuxKit: a failed action is logged, and the boot goes on.
    this.log(`on-boot ${name}: ${exitText(code, signal)}${code === 0 ? '' : '; going on with the boot'}`);
  }

  private startService(config: ServiceConfig): void {
    let markExited!: () => void;
    const running: Running = {
      config,
      stdio: this.wire(config.name, 'service'),
      startedAt: 0,
      delayMs: config.restartDelayMs,
      restarts: 0,
      stopping: false,
      exited: new Promise((resolve) => (markExited = resolve)),
      markExited: () => markExited(),
    };
    this.services.set(config.name, running);
    this.log(`service ${config.name}: output to ${running.stdio.describe}`);
    this.launch(running);
  }

  private launch(running: Running): void {
    const { config } = running;
    running.startedAt = Date.now();
    running.exited = new Promise((resolve) => (running.markExited = resolve));
    const proc = this.spawn(config, running.stdio);
    running.proc = proc;
    let failedToStart = false;
    proc.once('error', (err) => {
      failedToStart = true;
      this.log(`service ${config.name}: cannot run: ${err.message}`);
    });
    proc.once('spawn', () => this.log(`service ${config.name}: started (pid ${proc.pid})${running.restarts > 0 ? `, restart ${running.restarts}` : ''}`));
    proc.once('close', (code, signal) => {
      if (failedToStart) code = 127;
      running.proc = undefined;
      running.markExited();
      this.log(`service ${config.name}: ${exitText(code, signal)}`);
      if (running.stopping || this.shuttingDown) return;
      const failed = code !== 0 || signal !== null;
      const again = config.restart === 'always' || (config.restart === 'on-failure' && failed);
      if (!again) {
        running.stdio.close();
        running.stdio.release();
        return;
      }
      // Backoff: a service that keeps failing fast waits longer each time.
      const healthy = Date.now() - running.startedAt >= HEALTHY_RUN_MS;
      const delay = healthy ? config.restartDelayMs : running.delayMs;
      running.delayMs = Math.min(delay * 2, MAX_RESTART_DELAY_MS);
      this.log(`service ${config.name}: restarting in ${(delay / 1000).toFixed(1)} s (policy ${config.restart})`);
      running.timer = setTimeout(() => {
        running.timer = undefined;
        if (this.shuttingDown) return;
        running.restarts++;
        this.launch(running);
      }, delay);
    });
  }

  /** Stops one service: SIGTERM to its group, SIGKILL after the grace period. */
  private async stopService(running: Running): Promise<void> {
    running.stopping = true;
    if (running.timer) clearTimeout(running.timer);
    const proc = running.proc;
    if (proc) {
      signalGroup(proc, 'SIGTERM');
      const kill = setTimeout(() => {
        this.log(`service ${running.config.name}: still running after ${this.config.shutdownGraceMs} ms; killing it`);
        signalGroup(proc, 'SIGKILL');
      }, this.config.shutdownGraceMs);
      await running.exited;
      clearTimeout(kill);
      // Whatever it started and left behind in its group goes too.
      signalGroup(proc, 'SIGKILL');
    }
    running.stdio.close();
    running.stdio.release();
  }

  /** Waits until memlogd has read what the stopped programs wrote last (its ring stops growing). */
  private async memlogdSettled(): Promise<void> {
    if (!this.memlogd) return;
    let last = -1;
    const deadline = Date.now() + 2000;
    while (Date.now() < deadline) {
      const next = (await this.memlogd.status())?.ring.next ?? -1;
      if (next === last) return;
      last = next;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The orderly stop; resolves when everything has exited. Safe to call twice. */
  async shutdown(reason: string): Promise<void> {
    if (this.shuttingDown) return this.stopped;
    this.shuttingDown = true;
    this.log(`shutting down (${reason})`);
    if (this.currentOnboot) signalGroup(this.currentOnboot, 'SIGTERM');
    const all = [...this.services.values()];
    await Promise.all(all.filter((s) => !s.config.stopLast).map((s) => this.stopService(s)));
    await this.memlogdSettled();
    const last = all.filter((s) => s.config.stopLast);
    if (last.length > 0) this.log(`stopping ${last.map((s) => s.config.name).join(', ')} last`);
    await Promise.all(last.map((s) => this.stopService(s)));
    this.log('stopping memlogd');
    this.ownLog?.close();
    this.ownLog = undefined;
    if (this.ownLogFile !== undefined) fs.closeSync(this.ownLogFile);
    this.ownLogFile = undefined;
    await this.memlogd?.stop(this.config.shutdownGraceMs);
    this.events.log('stopped');
    this.resolveStopped();
    return this.stopped;
  }

  /** Resolves once shutdown() has finished. */
  whenStopped(): Promise<void> {
    return this.stopped;
  }
}
