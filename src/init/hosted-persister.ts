/**
 * The persister run inside the init's process (the `persist:` section), in
 * place of a logwrite service: the same Persister, connected to memlogd's
 * query socket as logwrite is, so it resumes after the last entry on disk,
 * rotates, reconnects to a restarted memlogd, and at shutdown first writes
 * what memlogd holds. What it saves is one Node process: 7 to 9 MB of the
 * stack's PSS (docs/PERFORMANCE.md, issue 13).
 *
 * Where a logwrite service would exit and be restarted, a persister that
 * fails (its constructor or run() throws) is started again here, after a
 * delay that doubles while it keeps failing.
 */
import { Persister } from '../persist/persister.js';
import { Pause } from '../pause.js';
import type { PersistSection } from './config-model.js';

const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 30_000;

export class HostedPersister {
  private current: Persister | undefined;
  private running: Promise<void> | undefined;
  private stopping = false;
  private readonly pause = new Pause();

  constructor(
    private readonly section: PersistSection,
    /** memlogd's query socket. */
    private readonly socket: string,
    /** How long a shutdown may spend writing what memlogd holds (the grace a logwrite service would get). */
    private readonly drainTimeoutMs: number,
    /** The init's own log: the persister's connection changes and problems, prefixed `persist: `. */
    private readonly log: (line: string) => void,
  ) {}

  /** Starts it; it runs until stop(). */
  start(): void {
    this.running ??= this.loop();
  }

  private async loop(): Promise<void> {
    let delay = FIRST_RETRY_MS;
    while (!this.stopping) {
      const s = this.section;
      try {
        const persister = new Persister({
          socket: this.socket,
          dir: s.logDir,
          maxFiles: s.maxFiles,
          maxFileSize: s.maxFileSize,
          compress: s.compress,
          maxSourceBytes: s.maxSourceBytes,
          maxDirBytes: s.maxDirBytes,
          fsync: s.fsync,
          format: s.format,
          drainTimeoutMs: this.drainTimeoutMs,
          warn: (msg) => this.log(`persist: ${msg}`),
          info: (msg) => this.log(`persist: ${msg}`),
        });
        this.current = persister;
        await persister.run();
        delay = FIRST_RETRY_MS;
      } catch (err) {
        if (this.stopping) break;
        this.log(`persist: ${(err as Error).message}; starting the persister again in ${(delay / 1000).toFixed(1)} s`);
        await this.pause.for(delay);
        delay = Math.min(delay * 2, MAX_RETRY_MS);
      } finally {
        this.current = undefined;
      }
    }
  }

  /** Writes what memlogd holds (within drainTimeoutMs), then stops; resolves once the files are closed. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.pause.wake();
    await this.current?.drainThenStop();
    await this.running;
  }
}
