/**
 * The persister (upstream pkg/logwrite): streams memlogd's ring into one file
 * per source, with rotation, writing each entry exactly once across restarts
 * of either side.
 *
 * It asks to resume after the last entry it has on disk (query mode 3). After
 * each batch it saves its state (daemon id, sequence number, file sizes); after
 * a crash it cuts its files back to that state and asks again from there, so
 * nothing is written twice and nothing that memlogd still holds is missed.
 * What memlogd lost in between is written into the affected files as a marker.
 *
 * At a shutdown it first writes what memlogd holds, and says so in the state
 * (drained) only once all of it is on disk and the state saying so is saved:
 * the next memlogd then needs no restart marker.
 */
import type net from 'node:net';
import { connectResume, LineReader, queryStatus, type Hello } from '../clients/query-client.js';
import { entryLine, markerLine, nowTime, type FileFormat } from './file-format.js';
import { fastEntry, fastJsonEntry } from './wire-line.js';
import { LogFiles, type LogFilesOptions } from './log-files.js';
import { Pause } from '../pause.js';
import { StateStore, type ResumeState } from './state.js';

/** The files' options (but the hooks, which the persister owns), and the connection's. */
export interface PersisterOptions extends Omit<LogFilesOptions, 'onRotate' | 'describe'> {
  socket: string;
  /** Connection changes (connected, resumed, daemon restarted). */
  info(msg: string): void;
  /** How long to wait for a resume answer before taking the daemon for an upstream one. */
  helloTimeoutMs?: number;
  /** How long a shutdown may spend writing what memlogd still holds. */
  drainTimeoutMs?: number;
  signal?: AbortSignal;
  /** The files' lines: upstream's text (the default) or one JSON object per line with every field. */
  format?: FileFormat;
}

interface Entry {
  time: string;
  source: string;
  msg: string;
  seq?: number;
  lost?: { from: number; to: number; count: number; sources: Record<string, number>; unknown: number };
}

const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 5000;
/** Stop reading from memlogd while this much is waiting for the disk. */
const MAX_PENDING = 8 * 1024 * 1024;

export { fileLine } from './file-format.js';

function skipped(source: string): boolean {
  return source.startsWith('logwrite'); // its own output, as upstream
}

export class Persister {
  readonly files: LogFiles;
  private state: ResumeState;
  private readonly store: StateStore;
  private socket: net.Socket | undefined;
  private stopped = false;
  private warnedUpstream = false;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Backoff between connection attempts; stop() ends it. */
  private readonly pause = new Pause();
  connections = 0;
  entries = 0;
  markers = 0;
  private readonly format: FileFormat;
  /** `,"daemon":"<id>"` for json lines of the daemon connected to (nothing before a hello). */
  private daemonField = Buffer.alloc(0);

  constructor(private readonly opts: PersisterOptions) {
    this.files = new LogFiles({
      ...opts,
      // A rotation renames files: the state must describe the files as they are on both sides of it.
      onRotate: () => void this.save(),
      // And a file must be described before it is first written, so that a crash after the write can cut it back.
      describe: () => this.save(),
    });
    this.format = opts.format ?? 'text';
    this.store = new StateStore(opts.dir);
    this.state = this.store.load(opts.warn);
    for (const line of this.files.recover(this.state.files)) opts.info(line);
    opts.signal?.addEventListener('abort', () => void this.drainThenStop(), { once: true });
  }

  /** Runs until stopped: connects, streams, reconnects with backoff. */
  async run(): Promise<void> {
    let backoff = MIN_BACKOFF_MS;
    let down = false;
    while (!this.stopped) {
      let connection;
      try {
        // After what is queued for the files, not just what is flushed: a flush that failed keeps its lines queued.
        const after = Math.max(this.state.seq, this.pendingSeq);
        connection = await connectResume(this.opts.socket, { daemon: this.state.daemon, after }, this.opts.helloTimeoutMs);
      } catch (err) {
        if (!down) this.opts.warn(`${(err as Error).message}; retrying`);
        down = true;
        await this.pause.for(backoff);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
        continue;
      }
      if (down) this.opts.info(`connected to ${this.opts.socket} again`);
      down = false;
      backoff = MIN_BACKOFF_MS;
      this.connections++;
      this.onHello(connection.hello);
      await this.stream(connection.socket, connection.rest);
      if (!this.stopped) {
        this.opts.warn(`lost the connection to ${this.opts.socket}; reconnecting`);
        down = true;
        await this.pause.for(backoff);
      }
    }
    if (!this.flushAndSave()) this.save();
    this.markDrained();
    this.store.close();
    await this.files.close();
  }

  /**
   * A shutdown: first write everything memlogd holds now (what the other
   * services said last), then stop. Bounded: a daemon that has gone, or a
   * drain that takes longer than drainTimeoutMs, ends it anyway.
   */
  async drainThenStop(): Promise<void> {
    if (this.socket && this.state.daemon !== undefined) {
      try {
        // The status query: a resume request would start a dump of the whole ring just to say how far it goes.
        const status = await queryStatus(this.opts.socket, 1000);
        if (status.daemon === this.state.daemon) {
          const target = status.ring.next - 1;
          this.drainTarget = target;
          const deadline = Date.now() + (this.opts.drainTimeoutMs ?? 10_000);
          // Until it is on disk and saved; not for a disk that refuses (the last flush, in run(), tries once more).
          while (this.socket && this.state.seq < target && !this.flushFailing && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        }
      } catch {
        // memlogd is gone (or says nothing): nothing more to drain.
      }
    }
    this.stop();
  }

  /** The seq up to which memlogd held entries when the shutdown began, once it has been asked. */
  private drainTarget: number | undefined;

  /**
   * After the last flush: the old daemon counts as drained only if every
   * entry up to the target is on disk and a state saying so is saved.
   */
  private markDrained(): void {
    const target = this.drainTarget;
    if (target === undefined) return;
    if (this.state.seq >= target && !this.flushFailing) {
      this.state.drained = true;
      if (this.save()) {
        this.opts.info(`wrote everything memlogd held (up to seq ${target}) before stopping`);
        return;
      }
      this.state.drained = false;
    }
    this.opts.warn(`could not write everything memlogd held (up to seq ${target}) before stopping: on disk up to seq ${this.state.seq}; the next start marks the loss`);
  }

  stop(): void {
    this.stopped = true;
    this.socket?.destroy();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.pause.wake();
  }

  private onHello(hello: Hello | undefined): void {
    if (!hello) {
      if (!this.warnedUpstream) {
        this.opts.warn(`${this.opts.socket} does not offer resuming (an upstream memlogd?): reading in plain dump-and-follow mode; after a reconnect, lines may be written twice`);
      }
      this.warnedUpstream = true;
      return;
    }
    const before = this.state.daemon;
    if (before !== undefined && before !== hello.daemon) this.files.forgetSeqs();
    if (before !== undefined && before !== hello.daemon && this.state.drained) {
      // The old daemon was drained at a clean shutdown: nothing of it is missing.
      this.opts.info(`a new memlogd (${hello.daemon}); the previous one was written out completely before it stopped`);
    } else if (before !== undefined && before !== hello.daemon) {
      // A new daemon: whatever the old one held that is not on disk yet is gone, for every source it fed.
      const now = nowTime();
      const msg = `[memlog: memlogd restarted (daemon ${before} -> ${hello.daemon}); lines the old daemon held after seq ${this.state.seq} and had not delivered are lost]`;
      // Every file this persister has written (or found in its state) may miss lines.
      for (const source of this.files.sources()) {
        if (!skipped(source) && source !== 'memlogd') this.files.append(source, markerLine(this.format, now, source, msg, 'restarted'), -1);
      }
      this.files.append('memlogd', markerLine(this.format, now, 'memlogd', msg, 'restarted'), -1);
      this.markers++;
      this.opts.info(msg);
    } else if (before !== undefined) {
      this.opts.info(`resuming after seq ${this.state.seq}`);
    }
    this.state.daemon = hello.daemon;
    this.daemonField = Buffer.from(`,"daemon":${JSON.stringify(hello.daemon)}`);
    this.state.drained = false;
    this.state.seq = hello.start - 1;
    this.pendingSeq = hello.start - 1;
    this.flushAndSave();
  }

  private stream(socket: net.Socket, rest: Buffer): Promise<void> {
    this.socket = socket;
    const lines = new LineReader();
    return new Promise((resolve) => {
      // Everything read in one event-loop turn is written, and the state saved, once.
      let scheduled = false;
      const flushTurn = (): void => {
        scheduled = false;
        if (!this.flushAndSave() || this.files.pendingBytes > MAX_PENDING) {
          // The disk said no (or is far behind): stop reading, memlogd keeps the entries; try again later.
          socket.pause();
          this.retryFlush(socket, MIN_BACKOFF_MS);
        }
      };
      const onChunk = (chunk: Buffer): void => {
        lines.push(chunk, (line) => this.onLine(line));
        if (!scheduled) {
          scheduled = true;
          setImmediate(flushTurn);
        }
      };
      socket.on('data', onChunk);
      socket.once('close', () => {
        this.socket = undefined;
        if (scheduled) flushTurn();
        resolve();
      });
      socket.on('error', () => socket.destroy());
      if (rest.length > 0) onChunk(rest);
      socket.resume();
    });
  }

  private retryFlush(socket: net.Socket, delay: number): void {
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.flushAndSave() && this.files.pendingBytes <= MAX_PENDING) socket.resume();
      else this.retryFlush(socket, Math.min(delay * 2, MAX_BACKOFF_MS));
    }, delay);
  }

  private onLine(line: Buffer): void {
    const fast = this.format === 'json' ? fastJsonEntry(line, this.daemonField) : fastEntry(line);
    if (fast) {
      this.entries++;
      if (!skipped(fast.source)) {
        this.files.append(fast.source, fast.fileLine, fast.seq);
      }
      this.pendingSeq = fast.seq;
      return;
    }
    let entry: Entry;
    try {
      entry = JSON.parse(line.toString('utf8')) as Entry;
    } catch {
      this.opts.warn(`not an entry, skipped: ${line.toString('utf8').slice(0, 200)}`);
      return;
    }
    if (typeof entry !== 'object' || entry === null) return;
    if (typeof entry.source !== 'string' || typeof entry.msg !== 'string' || typeof entry.time !== 'string') return;
    this.entries++;
    const seq = typeof entry.seq === 'number' ? entry.seq : -1;
    if (entry.lost && entry.source === 'memlogd') this.onLoss(entry);
    if (!skipped(entry.source)) {
      // Only the daemon connected to (a hello) has ids: an upstream one's lines have no seq and no daemon.
      this.files.append(entry.source, entryLine(this.format, entry as Entry & Record<string, unknown>, seq >= 0 ? this.state.daemon : undefined), seq);
    }
    if (seq >= 0) this.pendingSeq = seq;
  }

  /** The seq of the last entry handed to the files, flushed or not. */
  private pendingSeq = -1;

  /** memlogd says entries were lost before we got them: put a marker where they would have been. */
  private onLoss(entry: Entry): void {
    const lost = entry.lost as NonNullable<Entry['lost']>;
    this.markers++;
    for (const [source, n] of Object.entries(lost.sources ?? {})) {
      if (skipped(source) || typeof n !== 'number') continue;
      const msg = `[memlog: ${n} lines lost here (between seq ${lost.from} and ${lost.to}): memlogd dropped them before they were written]`;
      this.files.append(source, markerLine(this.format, entry.time, source, msg, 'lost'), -1);
    }
  }

  /** The last flush left lines queued (a disk error). */
  private flushFailing = false;

  /** Writes what is queued; if all of it is on disk, records how far that is. */
  private flushAndSave(): boolean {
    this.flushFailing = !this.files.flush();
    if (this.flushFailing) return false;
    if (this.pendingSeq > this.state.seq) this.state.seq = this.pendingSeq;
    this.save();
    return true;
  }

  private saveFailing = false;

  /** Saves the state (with -fsync: after the files it counts on are on disk). True if saved. */
  private save(): boolean {
    if (this.opts.fsync && !this.files.sync()) return false; // the files said what failed
    const files = this.files.snapshot(this.state.seq);
    this.state.files = files;
    try {
      this.store.save(this.state, this.opts.fsync);
    } catch (err) {
      // Once per outage: the disk errors themselves are reported by the files.
      if (!this.saveFailing) this.opts.warn(`cannot save the resume state in ${this.opts.dir}: ${(err as Error).message}`);
      this.saveFailing = true;
      return false;
    }
    this.files.saved(files);
    if (this.saveFailing) this.opts.info(`the resume state in ${this.opts.dir} is saved again`);
    this.saveFailing = false;
    return true;
  }
}

