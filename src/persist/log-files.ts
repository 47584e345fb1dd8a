/**
 * The persister's files: DIR/<stem>.log per source (stem from file-names.ts),
 * rotated by size in upstream's order (rotation.ts), kept within size bounds
 * (retention.ts), cut back after a crash (recovery.ts); each file's queue is
 * a FileQueue (file-queue.ts), its fd and fsyncs are OpenFiles' (open-files.ts).
 *
 * append() only queues; flush() writes, synchronously, so that the caller can
 * save its resume state right after and know exactly what is on disk. Only
 * the gzip of rotated files runs in the background.
 *
 * The resume state describes each file it may have to cut after a crash. So,
 * before the first write to a file the last saved state does not describe
 * (new, dropped from the state, or replaced by someone else), the caller is
 * asked to save the state (describe()), once per flush for all such files.
 * The files remembered, and so the state, are bounded (maxKeptFiles): the
 * ones idle longest are dropped first, once everything written to them is
 * covered by the state being saved.
 *
 * Disk errors never throw: the lines stay queued, the error is reported once,
 * and the next flush retries. Nothing is opened outside DIR and no link is
 * followed: a symlink, FIFO, device or hard-linked file planted as X.log is
 * refused (its lines dropped and counted), not written through.
 */
import path from 'node:path';
import { fileStem, sourceOfStem, isFileStem } from './file-names.js';
import { errnoCode, writeAll } from './file-ops.js';
import { FileQueue } from './file-queue.js';
import { OpenFiles } from './open-files.js';
import { recoverFile } from './recovery.js';
import { Retention } from './retention.js';
import { Gzipper, shiftRotated } from './rotation.js';
import type { FileSnapshot } from './state.js';

export type { FileSnapshot } from './state.js';

export interface LogFilesOptions {
  dir: string;
  /** Files per source including X.log (upstream default 10); 1 keeps no rotated file. */
  maxFiles: number;
  /** X.log is rotated as soon as a line leaves it larger than this. */
  maxFileSize: number;
  /** Gzip rotated files (X.log.1.gz ...), in the background. */
  compress?: boolean;
  /** Rotated files of a source are deleted, oldest first, so that they and a full X.log fit in this. */
  maxSourceBytes?: number;
  /** Rotated files in DIR are deleted, oldest mtime first, to keep all *.log* files within this. */
  maxDirBytes?: number;
  /** sync() makes what was written durable; gzipped files are fsynced before their original goes. */
  fsync?: boolean;
  /** Files remembered (and described in the resume state) at most; default MAX_KEPT_FILES. */
  maxKeptFiles?: number;
  /** A problem, once per condition, one line. */
  warn(msg: string): void;
  /** Around each rotation, so that the caller can save its resume state on both sides of the renames. */
  onRotate?(phase: 'before' | 'after'): void;
  /**
   * Before writing to files the last saved state does not describe: the
   * caller saves its state now (snapshot(), then saved()). False if it could
   * not; the lines are written anyway.
   */
  describe?(): boolean;
}

export interface LogFilesStats {
  linesWritten: number;
  bytesWritten: number;
  rotations: number;
  /** Failed syscalls (each retry counts). */
  errors: number;
  compressed: number;
  /** Rotated files deleted to keep maxSourceBytes or maxDirBytes. */
  deleted: number;
  /** Lines dropped because their X.log is a symlink or not a plain file. */
  refused: number;
  /** Lines ignored because recover() said they are on disk already. */
  skipped: number;
  /** Files dropped from memory and from the resume state, idle, to keep within maxKeptFiles. */
  forgotten: number;
}

/**
 * Files remembered at most, and so entries in the resume state: the state is
 * saved at every flush, and its cost grows with this (about 70 bytes each).
 * Four times the open files (MAX_OPEN, open-files.ts): sources that write
 * now and then keep their entry; names used once (job-$RANDOM) pass through.
 */
export const MAX_KEPT_FILES = 1024;
/** Conditions that mean "do not write there", not "try again later". */
const REFUSALS = new Set(['ELOOP', 'ENXIO', 'NOT-A-FILE', 'HARD-LINKED']);

export class LogFiles {
  readonly stats: LogFilesStats = { linesWritten: 0, bytesWritten: 0, rotations: 0, errors: 0, compressed: 0, deleted: 0, refused: 0, skipped: 0, forgotten: 0 };
  private readonly dir: string;
  private readonly bySource = new Map<string, FileQueue>();
  /** Every file remembered, the one written longest ago first. */
  private readonly byStem = new Map<string, FileQueue>();
  private readonly sourceOf = new Map<FileQueue, string>();
  /** Files with something to do at the next flush. */
  private readonly dirty = new Set<FileQueue>();
  /** Directory-wide conditions already reported (gzip, deletions, the size bound, fsync). */
  private readonly conditions = new Set<string>();
  /** describe() failed in this flush: not asked again until the next. */
  private describeFailed = false;
  private pending = 0;
  private readonly maxKept: number;
  private readonly retention: Retention;
  private readonly gzipper: Gzipper;
  private readonly fds: OpenFiles;

  constructor(private readonly opts: LogFilesOptions) {
    if (!Number.isInteger(opts.maxFiles) || opts.maxFiles < 1) throw new RangeError(`maxFiles must be a whole number >= 1, not ${opts.maxFiles}`);
    if (!(opts.maxFileSize >= 0)) throw new RangeError(`maxFileSize must be >= 0, not ${opts.maxFileSize}`);
    this.dir = path.resolve(opts.dir);
    this.maxKept = opts.maxKeptFiles ?? MAX_KEPT_FILES;
    const report = (key: string, msg: string): void => this.report(key, msg);
    const clear = (key: string): void => void this.conditions.delete(key);
    const failed = (): void => void this.stats.errors++;
    this.retention = new Retention({ ...opts, dir: this.dir, report, clear, failed, deleted: () => void this.stats.deleted++ });
    this.gzipper = new Gzipper({ maxFiles: opts.maxFiles, fsync: opts.fsync ?? false, report, clear, failed, compressed: () => void this.stats.compressed++ });
    this.fds = new OpenFiles({ dir: this.dir, fsync: opts.fsync ?? false, warn: (msg) => opts.warn(msg), report, failed });
    // A directory that cannot be made now (read-only, not mounted yet) is retried by every flush.
    this.fds.makeDir();
  }

  get pendingBytes(): number {
    return this.pending;
  }

  /** Files remembered now (each has an entry in the next snapshot once written). */
  get kept(): number {
    return this.byStem.size;
  }

  append(source: string, line: string | Buffer, seq: number): void {
    let st = this.bySource.get(source);
    if (st === undefined) {
      st = this.fileOf(fileStem(source));
      this.bySource.set(source, st);
      this.sourceOf.set(st, source);
    }
    // seq < 0: a line of the caller's own (a marker), never on disk already.
    if (seq >= 0 && seq <= st.skipUpTo) {
      this.stats.skipped++;
      return;
    }
    const len = typeof line === 'string' ? Buffer.byteLength(line) : line.length;
    st.push(line, len, seq);
    this.pending += len;
    this.dirty.add(st);
  }

  flush(): boolean {
    this.describeFailed = false;
    // Files to be written that the saved state does not describe are described first, all in one save.
    let undescribed = false;
    for (const st of this.dirty) if (this.prepare(st)) undescribed = true;
    if (undescribed) this.describeNow();
    let ok = true;
    for (const st of this.dirty) {
      if (this.flushFile(st)) this.dirty.delete(st);
      else ok = false;
    }
    this.retention.afterFlush();
    return ok;
  }

  /**
   * What the resume state is to say of the files. Before it is taken, the
   * files idle longest beyond maxKeptFiles are forgotten: those with nothing
   * queued and nothing of theirs after safeSeq (the seq the state will say is
   * all on disk), so that after a crash there is nothing to cut in them and
   * nothing memlogd sends again is theirs.
   */
  snapshot(safeSeq = -Infinity): Record<string, FileSnapshot> {
    if (this.byStem.size > this.maxKept) this.forgetIdle(safeSeq);
    const out: Record<string, FileSnapshot> = {};
    // A partial line does not count: after a crash it is cut, and the whole line written again.
    for (const st of this.byStem.values()) if (st.size >= 0) out[st.stem] = { size: st.size - st.written, seq: st.seq, dev: st.dev, ino: st.ino };
    return out;
  }

  /** The caller has saved a state holding this snapshot: the files in it are described. */
  saved(snapshot: Record<string, FileSnapshot>): void {
    for (const stem in snapshot) {
      const st = this.byStem.get(stem);
      if (st === undefined) continue;
      st.savedDev = snapshot[stem].dev ?? 0;
      st.savedIno = snapshot[stem].ino ?? 0;
    }
  }

  /**
   * With fsync: fsyncs every file written since the last call, then DIR if
   * names changed in it. True if all of it is on disk (false: reported).
   */
  sync(): boolean {
    return this.fds.sync();
  }

  /**
   * Sequence numbers are a daemon's own: when memlogd is a new one, what the
   * files recorded of the old one's numbers must not make its lines look written.
   */
  forgetSeqs(): void {
    for (const st of this.byStem.values()) {
      st.seq = -1;
      st.skipUpTo = -1;
    }
  }

  /** Sources of the files remembered (written to, or recovered when the stem says the name). */
  sources(): string[] {
    const names = new Set(this.bySource.keys());
    for (const stem of this.byStem.keys()) {
      const source = sourceOfStem(stem);
      if (source !== undefined) names.add(source);
    }
    return [...names];
  }

  recover(snapshot: Record<string, FileSnapshot>): string[] {
    const did: string[] = [];
    for (const [stem, snap] of Object.entries(snapshot)) {
      // The state file is not trusted more than a source name: only stems of ours name a file.
      if (!isFileStem(stem) || !Number.isSafeInteger(snap?.size) || snap.size < 0 || !Number.isSafeInteger(snap.seq)) {
        did.push(`ignored ${JSON.stringify(stem)} in the saved state: not a file of ours`);
        continue;
      }
      const st = this.fileOf(stem);
      this.fds.closeFile(st);
      st.seq = Math.max(st.seq, snap.seq);
      st.skipUpTo = Math.max(st.skipUpTo, snap.seq);
      const found = recoverFile(st.path, snap);
      if (found.note !== undefined) did.push(found.note);
      if (found.size !== undefined) st.size = found.size;
      st.dev = found.dev;
      st.ino = found.ino;
      // What the state on disk says: the file found is described only if it is that one.
      st.savedDev = snap.dev ?? 0;
      st.savedIno = snap.ino ?? 0;
    }
    return did;
  }

  async close(): Promise<void> {
    await this.gzipper.idle();
    this.fds.closeAll();
  }

  private fileOf(stem: string): FileQueue {
    let st = this.byStem.get(stem);
    if (st === undefined) {
      st = new FileQueue(stem, this.dir);
      this.byStem.set(stem, st);
    }
    return st;
  }

  /** Drops the files idle longest until at most maxKeptFiles are left (or only ones that cannot go yet). */
  private forgetIdle(safeSeq: number): void {
    let excess = this.byStem.size - this.maxKept;
    for (const st of this.byStem.values()) {
      if (excess <= 0) break;
      const idle = !st.queued && !st.rotateDue && !this.dirty.has(st) && !this.fds.pendingSync(st) && st.gzipsPending === 0 && st.seq <= safeSeq;
      if (!idle) continue;
      this.fds.closeFile(st);
      this.byStem.delete(st.stem);
      const source = this.sourceOf.get(st);
      if (source !== undefined) this.bySource.delete(source);
      this.sourceOf.delete(st);
      this.stats.forgotten++;
      excess--;
    }
  }

  /**
   * Before a flush writes: marks st as the most recently written, checks that
   * its open fd is still DIR/<stem>.log, and opens it if the saved state does
   * not describe it. True if it is open and not described.
   */
  private prepare(st: FileQueue): boolean {
    this.byStem.delete(st.stem);
    this.byStem.set(st.stem, st);
    this.fds.use(st);
    // A file the state describes is opened when written; one it does not is opened now, to be described with its size before the write.
    if (st.fd < 0 && !st.described) this.openFile(st); // a failure is reported by flushFile
    return st.fd >= 0 && !st.described;
  }

  private describeNow(): void {
    if (this.describeFailed || this.opts.describe === undefined) return;
    if (!this.opts.describe()) this.describeFailed = true;
  }

  /** Writes one file's queue, rotating where due. False: stopped by an error, the rest stays queued. */
  private flushFile(st: FileQueue): boolean {
    for (;;) {
      if (st.fd < 0) {
        const code = this.openFile(st);
        if (code !== undefined) return this.failed(st, code, 'opening');
      }
      // Opened again and found another file than the one described (rare: prepare() described the rest).
      if (!st.described) this.describeNow();
      if (st.rotateDue) {
        const code = this.rotate(st);
        if (code !== undefined) return this.failed(st, code, 'rotating');
        continue;
      }
      if (!st.queued) break;
      const end = st.segmentEnd(this.opts.maxFileSize);
      const buf = st.gather(end);
      try {
        writeAll(st.fd, buf, (n) => this.consume(st, n, end));
      } catch (err) {
        return this.failed(st, errnoCode(err), 'writing');
      }
      this.consume(st, 0, end); // lines of no bytes at the end of the segment
      if (st.size > this.opts.maxFileSize) st.rotateDue = true;
    }
    st.clearQueue();
    if (st.problem !== undefined) {
      this.opts.warn(`${st.path}: writing works again (after ${st.problem})`);
      st.problem = undefined;
    }
    return true;
  }

  /** Accounts for n more bytes written to st. */
  private consume(st: FileQueue, n: number, end: number): void {
    this.stats.linesWritten += st.consume(n, end);
    this.stats.bytesWritten += n;
    this.pending -= n;
    this.retention.wrote(n);
    if (n > 0) this.fds.wrote(st);
  }

  /** Reports a failure once per condition. A refusal drops the lines (counted) and is not retried as an error. */
  private failed(st: FileQueue, code: string, doing: string): boolean {
    if (REFUSALS.has(code)) {
      if (st.problem !== code) {
        const what = code === 'ELOOP' ? 'a symbolic link' : code === 'HARD-LINKED' ? 'a file with other hard links' : 'not a regular file';
        this.opts.warn(`${st.path} is ${what}: not writing through it; its lines are dropped (counted as refused) until it is replaced`);
        st.problem = code;
      }
      this.stats.refused += st.lines.length - st.head;
      this.pending -= st.queuedBytes;
      st.clearQueue();
      return true;
    }
    this.stats.errors++;
    // 'DIR': the directory cannot be made, which OpenFiles.makeDir() reported once for all files.
    if (code !== 'DIR' && st.problem !== code) {
      this.opts.warn(`${code} ${doing} ${st.path}: keeping its lines queued and retrying`);
      st.problem = code;
    }
    st.compact();
    return false;
  }

  /** OpenFiles.openFile(), and a file made anew needs no rotating. */
  private openFile(st: FileQueue): string | undefined {
    const code = this.fds.openFile(st);
    if (code === undefined) st.rotateDue &&= st.size > this.opts.maxFileSize;
    return code;
  }

  /**
   * Upstream's rotation (rotation.ts), with the caller's resume state saved
   * on both sides of the renames.
   */
  private rotate(st: FileQueue): string | undefined {
    this.opts.onRotate?.('before');
    let code: string | undefined;
    try {
      this.fds.closeFile(st);
      try {
        shiftRotated(st, this.opts.maxFiles);
        this.fds.namesChanged();
      } catch (err) {
        code = errnoCode(err);
      }
      if (code === undefined) {
        st.size = 0;
        st.rotateDue = false;
        // The name holds no file now: the state after this describes none, or the new one.
        st.dev = 0;
        st.ino = 0;
        this.stats.rotations++;
        if (this.opts.compress && this.opts.maxFiles > 1) this.gzipper.add(st);
        code = this.openFile(st);
      }
    } finally {
      this.opts.onRotate?.('after');
    }
    if (code === undefined) this.retention.boundSource(st.path, st.size);
    return code;
  }

  private report(key: string, msg: string): void {
    if (this.conditions.has(key)) return;
    this.conditions.add(key);
    this.opts.warn(msg);
  }
}
