/**
 * The persister's open files: DIR/<stem>.log opened for appending without
 * following a link (and refused unless it is a plain file with no other hard
 * link), the check that an open fd is still DIR/<stem>.log, a bound on the
 * fds held (MAX_OPEN), and, with fsync, the fsyncs of what was written and of
 * the names in DIR. Also makes DIR, which opening needs.
 */
import fs from 'node:fs';
import { closeQuietly } from '../fds.js';
import { APPEND_FLAGS, DIR_MODE, FILE_MODE, errnoCode, syncDir } from './file-ops.js';
import type { FileQueue } from './file-queue.js';

/** Open files at most; the least recently written is closed first. */
const MAX_OPEN = 256;

export interface OpenFilesOptions {
  /** DIR, resolved. */
  dir: string;
  /** Keep account of what was written, for sync(). */
  fsync: boolean;
  /** A problem, one line. */
  warn(msg: string): void;
  /** A problem, once per key. */
  report(key: string, msg: string): void;
  /** Counts a failed syscall. */
  failed(): void;
}

export class OpenFiles {
  /** Open files, least recently used first. */
  private readonly open = new Set<FileQueue>();
  /** Files written since the last sync() (with fsync). */
  private readonly unsynced = new Set<FileQueue>();
  /** Names made, renamed or removed in DIR since the last sync() (with fsync). */
  private dirChanged = false;
  /** An fsync failed since the last sync(): what it was for may not be on disk. */
  private syncFailed = false;
  /** Why DIR itself cannot be made, if so: reported once for all files, not once per file. */
  private dirProblem: string | undefined;

  constructor(private readonly opts: OpenFilesOptions) {}

  /** Makes DIR if it is missing. Returns an error code (reported once per code), or undefined. */
  makeDir(): string | undefined {
    try {
      fs.mkdirSync(this.opts.dir, { recursive: true, mode: DIR_MODE });
      this.dirUsable();
      return undefined;
    } catch (err) {
      const code = errnoCode(err);
      if (this.dirProblem !== code) this.opts.warn(`cannot make ${this.opts.dir}: ${code}; keeping lines queued and retrying at each flush`);
      this.dirProblem = code;
      return code;
    }
  }

  /**
   * Opens X.log for appending (creating it) and sets st's fd, identity and
   * size. Returns undefined when open, or why not: an errno code, 'DIR' (DIR
   * cannot be made, reported by makeDir()), or a refusal: 'ELOOP' (a
   * symbolic link), 'ENXIO', 'NOT-A-FILE' or 'HARD-LINKED'.
   */
  openFile(st: FileQueue): string | undefined {
    let fd: number;
    try {
      fd = fs.openSync(st.path, APPEND_FLAGS, FILE_MODE);
    } catch (err) {
      const code = errnoCode(err);
      if (code !== 'ENOENT' && code !== 'ENOTDIR') return code;
      // The directory itself is missing (or a file is in its place): make it, or report that once.
      if (this.makeDir() !== undefined) return 'DIR';
      try {
        fd = fs.openSync(st.path, APPEND_FLAGS, FILE_MODE);
      } catch (err2) {
        return errnoCode(err2);
      }
    }
    let s: fs.Stats;
    try {
      s = fs.fstatSync(fd);
    } catch (err) {
      closeQuietly(fd);
      return errnoCode(err);
    }
    if (!s.isFile() || s.nlink > 1) {
      closeQuietly(fd);
      return s.isFile() ? 'HARD-LINKED' : 'NOT-A-FILE';
    }
    this.dirUsable();
    // It may have been made just now: with fsync, its name goes to disk before a state that counts on it.
    this.dirChanged = true;
    st.fd = fd;
    st.dev = s.dev;
    st.ino = s.ino;
    st.size = s.size;
    this.open.add(st);
    if (this.open.size > MAX_OPEN) {
      for (const old of this.open) {
        if (old !== st) {
          this.closeFile(old);
          break;
        }
      }
    }
    return undefined;
  }

  /**
   * Before st is written: marks it the most recently used and, if its fd is
   * no longer DIR/<stem>.log, closes it (to be opened again).
   */
  use(st: FileQueue): void {
    if (st.fd < 0) return;
    this.open.delete(st);
    this.open.add(st);
    if (!this.stillThere(st)) this.closeFile(st);
  }

  closeFile(st: FileQueue): void {
    if (st.fd < 0) return;
    // With fsync, what was written goes to disk before its fd does; a failure is told by the next sync().
    if (this.unsynced.has(st) && !this.syncFile(st)) this.syncFailed = true;
    closeQuietly(st.fd);
    st.fd = -1;
    this.open.delete(st);
  }

  closeAll(): void {
    for (const st of [...this.open]) this.closeFile(st);
  }

  /** Bytes were written to st: with fsync, the next sync() fsyncs it. */
  wrote(st: FileQueue): void {
    if (this.opts.fsync) this.unsynced.add(st);
  }

  /** Whether st has writes the next sync() is to fsync. */
  pendingSync(st: FileQueue): boolean {
    return this.unsynced.has(st);
  }

  /** A name in DIR was made, renamed or removed: the next sync() fsyncs DIR. */
  namesChanged(): void {
    this.dirChanged = true;
  }

  /**
   * With fsync: fsyncs every file written since the last call, then DIR if
   * names changed in it. True if all of it is on disk (false: reported).
   */
  sync(): boolean {
    let ok = !this.syncFailed;
    this.syncFailed = false;
    for (const st of this.unsynced) if (!this.syncFile(st)) ok = false;
    if (this.dirChanged) {
      try {
        syncDir(this.opts.dir);
        this.dirChanged = false;
      } catch (err) {
        ok = this.syncError(this.opts.dir, err);
      }
    }
    return ok;
  }

  private dirUsable(): void {
    if (this.dirProblem === undefined) return;
    this.opts.warn(`${this.opts.dir} is usable again (after ${this.dirProblem})`);
    this.dirProblem = undefined;
  }

  /** Whether the open fd is still DIR/<stem>.log (not removed, renamed or replaced by someone else). */
  private stillThere(st: FileQueue): boolean {
    let s: fs.Stats | undefined;
    try {
      s = fs.lstatSync(st.path, { throwIfNoEntry: false });
    } catch {
      return false; // reopening says what is wrong
    }
    if (s === undefined || s.ino !== st.ino || s.dev !== st.dev) {
      this.opts.warn(`${st.path} was ${s === undefined ? 'removed' : 'replaced'} by someone else: writing to a new ${st.path}`);
      return false;
    }
    // Truncated (copytruncate) or written by someone else: appends go to the real end anyway.
    if (s.size !== st.size) st.size = s.size;
    return true;
  }

  private syncFile(st: FileQueue): boolean {
    try {
      fs.fsyncSync(st.fd);
      this.unsynced.delete(st);
      return true;
    } catch (err) {
      this.unsynced.delete(st); // after a failed fsync, the kernel may have dropped the pages: another would say nothing
      return this.syncError(st.path, err);
    }
  }

  private syncError(file: string, err: unknown): false {
    const code = errnoCode(err);
    this.opts.failed();
    this.opts.report(`fsync ${code}`, `fsync of ${file} failed (${code}): what was written may not be on disk; the resume state is not saved over it`);
    return false;
  }
}
