/**
 * The init: memlogd first, then the on-boot actions one after another, then
 * the services side by side, each wired to memlogd with no change to the
 * program (wiring.ts); at SIGTERM or SIGINT, an orderly stop.
 *
 * Every program runs in its own process group, so that stopping it reaches
 * whatever it started, and a Ctrl-C on the terminal reaches only the init,
 * which then stops things in order: the services, then the ones marked
 * `stop: last` (the persister, which first writes what the others said last),
 * then the `persist:` section's persister, run in this process
 * (hosted-persister.ts), then memlogd.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { InitConfig, ProgramConfig, ServiceConfig } from './config.js';
import { MemlogdChild } from './memlogd-child.js';
import { HostedPersister } from './hosted-persister.js';
import { fifosToMemlogd, socketpairsToMemlogd, toFiles, type Stdio } from './wiring.js';
import { OUTAGE_DIR, outageFile, StreamKeeper } from './stream-keeper.js';
import { OwnLog } from './own-log.js';
import { exitText, signalGroup } from './processes.js';
import { sendFdsAsync, socketpair } from '../native.js';
import { closeAllQuietly } from '../fds.js';

const MAX_RESTART_DELAY_MS = 30_000;
/** A service that ran this long before failing starts again after its first delay, not a doubled one. */
const HEALTHY_RUN_MS = 10_000;
/** Streams a new memlogd did not take are offered again after this (doubled each time). */
const HAND_AGAIN_MS = 500;

export interface InitEvents {
  /** The init's own log lines (also sent to memlogd as source `init`). */
  log(line: string): void;
}

/** stdio of a program with the init's means of letting its read ends go once it is gone for good. */
interface Wired extends Stdio {
  release(): void;
}

interface Running {
  config: ServiceConfig;
  stdio: Wired;
  proc?: ChildProcess;
  startedAt: number;
  delayMs: number;
  restarts: number;
  timer?: NodeJS.Timeout;
  stopping: boolean;
  exited: Promise<void>;
  markExited: () => void;
}

export class Init {
  memlogd: MemlogdChild | undefined;
  /** The `persist:` section's persister, in this process. */
  private persister: HostedPersister | undefined;
  private readonly services = new Map<string, Running>();
  /** Every read end handed to memlogd that is still in use: a new memlogd gets them all again. */
  private readonly keeper: StreamKeeper;
  private readonly ownLog: OwnLog;
  private shuttingDown = false;
  private currentOnboot: ChildProcess | undefined;
  private handAgain: NodeJS.Timeout | undefined;
  private readonly stopped: Promise<void>;
  private resolveStopped!: () => void;

  constructor(
    readonly config: InitConfig,
    private readonly events: InitEvents = { log: (line) => process.stderr.write(`init: ${line}\n`) },
  ) {
    this.stopped = new Promise((resolve) => (this.resolveStopped = resolve));
    this.keeper = new StreamKeeper(config.logDir, (line) => this.log(line));
    this.ownLog = new OwnLog(path.join(config.logDir, 'init.log'), (msg) => this.events.log(msg));
  }

  /** The init's own entries: to memlogd as source `init`, or to LOGDIR/init.log; and to the caller. Never blocks. */
  log(line: string): void {
    this.events.log(line);
    this.ownLog.write(line);
  }

  /** Boots: memlogd, on-boot actions, services. Resolves once the services are started. */
  async boot(): Promise<void> {
    const cfg = this.config;
    if (cfg.memlogd) {
      try {
        this.memlogd = await MemlogdChild.start(cfg.memlogd);
      } catch (err) {
        this.log(`memlogd could not start (${(err as Error).message}); output goes to files under ${cfg.logDir}`);
      }
      if (this.memlogd) {
        // Watched from the moment it answers: should it die now, it is replaced like any other time.
        this.superviseMemlogd(this.memlogd);
        await this.attachOwnLog(this.memlogd);
        this.log(`memlogd is running (pid ${this.memlogd.proc.pid}): log socket ${cfg.memlogd.socketLog}, query socket ${cfg.memlogd.socketQuery}`);
      }
    } else {
      this.log(`no memlogd section: output goes to files under ${cfg.logDir}`);
    }
    for (let i = 0; i < cfg.onboot.length && !this.shuttingDown; i++) {
      await this.runOnboot(cfg.onboot[i], i);
    }
    if (this.shuttingDown) return;
    this.startPersister();
    for (const service of cfg.services) await this.startService(service);
  }

  /**
   * After the on-boot actions, as a logwrite service would be (one of them may
   * mount the disk the log dir is on), and before the services: it resumes
   * from memlogd's ring, which holds everything since memlogd started.
   */
  private startPersister(): void {
    const section = this.config.persist;
    if (!section) return;
    if (!this.memlogd) {
      this.log(`persist: memlogd is not running; nothing is persisted (output goes to files under ${this.config.logDir})`);
      return;
    }
    this.persister = new HostedPersister(section, this.memlogd.querySocket, this.config.shutdownGraceMs, (line) => this.log(line));
    this.persister.start();
    this.log(`persist: writing memlogd's ring to ${section.logDir} (files of ${section.maxFileSize} bytes, ${section.maxFiles} per source)`);
  }

  /** The init's own lines to memlogd as source `init`; if it does not take the stream, they stay in the file. */
  private async attachOwnLog(memlogd: MemlogdChild): Promise<void> {
    const [mine, theirs] = socketpair();
    try {
      await sendFdsAsync(memlogd.logSocket, Buffer.from('init'), [theirs]);
    } catch (err) {
      closeAllQuietly([mine, theirs]);
      this.log(`cannot hand the init's own lines to memlogd (${(err as Error).message}); they go to ${path.join(this.config.logDir, 'init.log')}`);
      return;
    }
    this.keeper.keep({ name: 'init', fd: theirs });
    this.ownLog.attach(mine, outageFile(this.config.logDir, 'init'));
  }

  /**
   * If memlogd dies, a new one on the same sockets (retried with backoff while
   * that fails), and every stream handed to the old one again; meanwhile the
   * streams are read into their files, so that no writer blocks.
   */
  private superviseMemlogd(memlogd: MemlogdChild): void {
    memlogd.supervise({
      log: (line) => this.log(line),
      onDown: () => {
        if (!this.keeper.draining) this.log(`until memlogd is back, the streams it read go to files under ${path.join(this.config.logDir, OUTAGE_DIR)}`);
        this.keeper.drainAll();
      },
      onUp: () => this.handOver(memlogd, true),
    });
  }

  /** Hands every kept stream to memlogd; those it does not take stay in their files and are offered again later. */
  private async handOver(memlogd: MemlogdChild, restarted: boolean, delay = HAND_AGAIN_MS): Promise<void> {
    if (this.handAgain) clearTimeout(this.handAgain);
    this.handAgain = undefined;
    const { taken, failed } = await this.keeper.handAll(memlogd.logSocket, !restarted);
    if (restarted) this.log(`memlogd restarted (pid ${memlogd.proc.pid}); ${taken} streams handed over again`);
    if (failed.length === 0) {
      if (!restarted) this.log(`memlogd took the remaining streams`);
      return;
    }
    this.log(`memlogd did not take ${failed.join(', ')}: their output goes to files; offering them again in ${(delay / 1000).toFixed(1)} s`);
    this.handAgain = setTimeout(() => {
      this.handAgain = undefined;
      if (!this.shuttingDown && memlogd.proc.exitCode === null && memlogd.proc.signalCode === null) void this.handOver(memlogd, false, Math.min(delay * 2, MAX_RESTART_DELAY_MS));
    }, delay);
  }

  /** stdout/stderr for a program: memlogd if it is up and takes the streams, files otherwise. */
  private async wire(name: string, kind: 'onboot' | 'service'): Promise<Wired> {
    const memlogd = this.memlogd;
    if (memlogd && memlogd.proc.exitCode === null && memlogd.proc.signalCode === null) {
      try {
        const stdio =
          kind === 'onboot'
            ? await socketpairsToMemlogd(memlogd.logSocket, name)
            : await fifosToMemlogd(memlogd.logSocket, path.join(this.config.runDir, 'fifo'), name);
        const releases = stdio.handed.map((h) => this.keeper.keep(h));
        return { ...stdio, release: () => releases.forEach((release) => release()) };
      } catch (err) {
        this.log(`cannot hand ${name}'s output to memlogd (${(err as Error).message}); writing it to files`);
      }
    }
    return { ...toFiles(this.config.logDir, name), release: () => {} };
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
    const stdio = await this.wire(name, 'onboot');
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

  private async startService(config: ServiceConfig): Promise<void> {
    let markExited!: () => void;
    const running: Running = {
      config,
      stdio: await this.wire(config.name, 'service'),
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
    if (this.persister) {
      // After everyone, those stopped last too: it writes what they all said last.
      if (last.length > 0) await this.memlogdSettled();
      this.log('persist: writing out what memlogd holds, then stopping');
      await this.persister.stop();
    }
    this.log('stopping memlogd');
    if (this.handAgain) clearTimeout(this.handAgain);
    await this.ownLog.close();
    this.keeper.close();
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
