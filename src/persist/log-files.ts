/**
 * The persister's files: DIR/<stem>.log per source (stem from file-names.ts),
 * rotated by size in upstream's order: X.log, X.log.1 (newest rotated) ...
 * X.log.<maxFiles-1> (oldest).
 *
 * append() only queues; flush() writes, synchronously, so that the caller can
 * save its resume state right after and know exactly what is on disk. A flush
 * is one write per file, split only where a line takes the file past
 * maxFileSize (upstream rotates right after that line). Only the gzip of
 * rotated files runs in the background.
 *
 * Disk errors never throw: the lines stay queued, the error is reported once,
 * and the next flush retries. Nothing is opened outside DIR and no link is
 * followed: a symlink, FIFO, device or hard-linked file planted as X.log is
 * refused (its lines dropped and counted), not written through.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { fileStem, sourceOfStem, isFileStem } from './file-names.js';

export interface FileSnapshot {
  /** Bytes in DIR/<stem>.log, up to the end of its last whole line. */
  size: number;
  /** Seq of the last line written for this stem (-1 if none); it stays after a rotation, when that line is in X.log.1. */
  seq: number;
}

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
  /** A problem, once per condition, one line. */
  warn(msg: string): void;
  /** Around each rotation, so that the caller can save its resume state on both sides of the renames. */
  onRotate?(phase: 'before' | 'after'): void;
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
}

const { O_WRONLY, O_RDONLY, O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_NOCTTY } = fs.constants;
// O_NONBLOCK: a FIFO planted as X.log would otherwise block open() until a reader comes; it does nothing to regular files.
const OPEN_FLAGS = O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;
const FILE_MODE = 0o640;
const DIR_MODE = 0o750;
const MAX_OPEN = 256;
/** Bytes per write: a huge queue is written in pieces rather than copied into one huge buffer. */
const MAX_WRITE = 8 << 20;
/** Conditions that mean "do not write there", not "try again later". */
const REFUSALS = new Set(['ELOOP', 'ENXIO', 'NOT-A-FILE', 'HARD-LINKED']);
/** X.log, X.log.N, X.log.N.gz; group 1 is N for rotated files. */
const LOG_NAME = /\.log(?:\.(\d+)(?:\.gz)?)?$/;

/** One stem's file and its queue. */
class FileState {
  readonly path: string;
  fd = -1;
  dev = 0;
  ino = 0;
  /** Bytes in X.log, partial line included; -1 until it has been opened or recovered. */
  size = -1;
  seq = -1;
  /** Lines with a seq up to this are on disk already (recover()). */
  skipUpTo = -1;
  /** Rotations so far: tells a background gzip where its file has moved to. */
  generation = 0;
  rotateDue = false;
  /** The error this file is failing with, reported once until it clears. */
  problem: string | undefined;
  // The queue: lines[head..], with their byte lengths and seqs; `written` bytes of lines[head] are on disk already.
  lines: (string | Buffer)[] = [];
  lens: number[] = [];
  seqs: number[] = [];
  head = 0;
  written = 0;

  constructor(
    readonly stem: string,
    dir: string,
  ) {
    this.path = path.join(dir, stem + '.log');
  }

  get queued(): boolean {
    return this.head < this.lines.length;
  }

  clearQueue(): void {
    this.lines = [];
    this.lens = [];
    this.seqs = [];
    this.head = 0;
    this.written = 0;
  }
}

interface GzipJob {
  st: FileState;
  /** The file's generation right after it became X.log.1. */
  generation: number;
}

/** The errno code of a failed syscall; anything else is a bug and goes on up. */
function errnoCode(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (err instanceof Error && typeof code === 'string' && (err as NodeJS.ErrnoException).syscall !== undefined) return code;
  throw err;
}

function lstatOrUndefined(file: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(file, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

function unlinkIfThere(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
}

function renameIfThere(from: string, to: string): void {
  try {
    fs.renameSync(from, to);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
}

function writeAll(fd: number, buf: Buffer, onProgress?: (n: number) => void): void {
  let off = 0;
  while (off < buf.length) {
    const n = fs.writeSync(fd, buf, off, buf.length - off);
    off += n;
    onProgress?.(n);
  }
}

export class LogFiles {
  readonly stats: LogFilesStats = { linesWritten: 0, bytesWritten: 0, rotations: 0, errors: 0, compressed: 0, deleted: 0, refused: 0, skipped: 0 };
  private readonly dir: string;
  private readonly bySource = new Map<string, FileState>();
  private readonly byStem = new Map<string, FileState>();
  /** Files with something to do at the next flush. */
  private readonly dirty = new Set<FileState>();
  /** Open files, least recently used first. */
  private readonly open = new Set<FileState>();
  /** Directory-wide conditions already reported (gzip, deletions, the size bound). */
  private readonly conditions = new Set<string>();
  /** Why DIR itself cannot be made, if so: reported once for all files, not once per file. */
  private dirProblem: string | undefined;
  private pending = 0;
  /** Bytes written since maxDirBytes was last checked; the first flush checks. */
  private sinceDirCheck = Infinity;
  private readonly gzipJobs: GzipJob[] = [];
  private gzipping: Promise<void> | undefined;

  constructor(private readonly opts: LogFilesOptions) {
    if (!Number.isInteger(opts.maxFiles) || opts.maxFiles < 1) throw new RangeError(`maxFiles must be a whole number >= 1, not ${opts.maxFiles}`);
    if (!(opts.maxFileSize >= 0)) throw new RangeError(`maxFileSize must be >= 0, not ${opts.maxFileSize}`);
    this.dir = path.resolve(opts.dir);
    // A directory that cannot be made now (read-only, not mounted yet) is retried by every flush.
    this.makeDir();
  }

  get pendingBytes(): number {
    return this.pending;
  }

  append(source: string, line: string | Buffer, seq: number): void {
    let st = this.bySource.get(source);
    if (st === undefined) {
      st = this.stateOf(fileStem(source));
      this.bySource.set(source, st);
    }
    // seq < 0: a line of the caller's own (a marker), never on disk already.
    if (seq >= 0 && seq <= st.skipUpTo) {
      this.stats.skipped++;
      return;
    }
    const len = typeof line === 'string' ? Buffer.byteLength(line) : line.length;
    st.lines.push(line);
    st.lens.push(len);
    st.seqs.push(seq);
    this.pending += len;
    this.dirty.add(st);
  }

  flush(): boolean {
    let ok = true;
    for (const st of this.dirty) {
      if (this.flushFile(st)) this.dirty.delete(st);
      else ok = false;
    }
    if (this.opts.maxDirBytes !== undefined && this.sinceDirCheck >= this.opts.maxDirBytes / 16) this.boundDir();
    return ok;
  }

  snapshot(): Record<string, FileSnapshot> {
    const out: Record<string, FileSnapshot> = {};
    // A partial line does not count: after a crash it is cut, and the whole line written again.
    for (const st of this.byStem.values()) if (st.size >= 0) out[st.stem] = { size: st.size - st.written, seq: st.seq };
    return out;
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

  /** Sources of every file written to since start, or recovered (when its stem says the name). */
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
      const st = this.stateOf(stem);
      this.closeFile(st);
      st.seq = Math.max(st.seq, snap.seq);
      st.skipUpTo = Math.max(st.skipUpTo, snap.seq);
      let fd: number;
      try {
        fd = fs.openSync(st.path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
      } catch (err) {
        const code = errnoCode(err);
        if (code === 'ENOENT') st.size = 0; // rotated away and not made again yet
        else did.push(`${st.path}: cannot check it (${code}); left as is`);
        continue;
      }
      try {
        const s = fs.fstatSync(fd);
        if (!s.isFile() || s.nlink > 1) {
          did.push(`${st.path}: not a plain file; left as is`);
        } else if (s.size > snap.size) {
          fs.ftruncateSync(fd, snap.size);
          st.size = snap.size;
          did.push(`${st.path}: cut from ${s.size} to ${snap.size} bytes (written after the state was saved)`);
        } else {
          st.size = s.size; // smaller: rotated since the state was saved, and new lines are not in it
        }
      } catch (err) {
        did.push(`${st.path}: cannot cut it (${errnoCode(err)}); left as is`);
      } finally {
        fs.closeSync(fd);
      }
    }
    return did;
  }

  async close(): Promise<void> {
    while (this.gzipping) await this.gzipping;
    for (const st of [...this.open]) this.closeFile(st);
  }

  private stateOf(stem: string): FileState {
    let st = this.byStem.get(stem);
    if (st === undefined) {
      st = new FileState(stem, this.dir);
      this.byStem.set(stem, st);
    }
    return st;
  }

  private makeDir(): string | undefined {
    try {
      fs.mkdirSync(this.dir, { recursive: true, mode: DIR_MODE });
      this.dirUsable();
      return undefined;
    } catch (err) {
      const code = errnoCode(err);
      if (this.dirProblem !== code) this.opts.warn(`cannot make ${this.dir}: ${code}; keeping lines queued and retrying at each flush`);
      this.dirProblem = code;
      return code;
    }
  }

  private dirUsable(): void {
    if (this.dirProblem === undefined) return;
    this.opts.warn(`${this.dir} is usable again (after ${this.dirProblem})`);
    this.dirProblem = undefined;
  }

  /** Writes one file's queue, rotating where due. False: stopped by an error, the rest stays queued. */
  private flushFile(st: FileState): boolean {
    if (st.fd >= 0) {
      this.open.delete(st);
      this.open.add(st);
      if (!this.stillThere(st)) this.closeFile(st);
    }
    for (;;) {
      if (st.fd < 0) {
        const code = this.openFile(st);
        if (code !== undefined) return this.failed(st, code, 'opening');
      }
      if (st.rotateDue) {
        const code = this.rotate(st);
        if (code !== undefined) return this.failed(st, code, 'rotating');
        continue;
      }
      if (!st.queued) break;
      const end = this.segmentEnd(st);
      const buf = this.gather(st, end);
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

  /** Reports a failure once per condition. A refusal drops the lines (counted) and is not retried as an error. */
  private failed(st: FileState, code: string, doing: string): boolean {
    if (REFUSALS.has(code)) {
      if (st.problem !== code) {
        const what = code === 'ELOOP' ? 'a symbolic link' : code === 'HARD-LINKED' ? 'a file with other hard links' : 'not a regular file';
        this.opts.warn(`${st.path} is ${what}: not writing through it; its lines are dropped (counted as refused) until it is replaced`);
        st.problem = code;
      }
      this.stats.refused += st.lines.length - st.head;
      for (let i = st.head; i < st.lines.length; i++) this.pending -= st.lens[i];
      this.pending += st.written;
      st.clearQueue();
      return true;
    }
    this.stats.errors++;
    // 'DIR': the directory cannot be made, which makeDir() reported once for all files.
    if (code !== 'DIR' && st.problem !== code) {
      this.opts.warn(`${code} ${doing} ${st.path}: keeping its lines queued and retrying`);
      st.problem = code;
    }
    if (st.head > 4096 && st.head * 2 > st.lines.length) {
      st.lines.splice(0, st.head);
      st.lens.splice(0, st.head);
      st.seqs.splice(0, st.head);
      st.head = 0;
    }
    return false;
  }

  /** Whether the open fd is still DIR/<stem>.log (not removed, renamed or replaced by someone else). */
  private stillThere(st: FileState): boolean {
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

  /** Opens X.log for appending (creating it). Returns an error code, or undefined when open. */
  private openFile(st: FileState): string | undefined {
    let fd: number;
    try {
      fd = fs.openSync(st.path, OPEN_FLAGS, FILE_MODE);
    } catch (err) {
      const code = errnoCode(err);
      if (code !== 'ENOENT' && code !== 'ENOTDIR') return code;
      // The directory itself is missing (or a file is in its place): make it, or report that once.
      if (this.makeDir() !== undefined) return 'DIR';
      try {
        fd = fs.openSync(st.path, OPEN_FLAGS, FILE_MODE);
      } catch (err2) {
        return errnoCode(err2);
      }
    }
    let s: fs.Stats;
    try {
      s = fs.fstatSync(fd);
    } catch (err) {
      fs.closeSync(fd);
      return errnoCode(err);
    }
    if (!s.isFile() || s.nlink > 1) {
      fs.closeSync(fd);
      return s.isFile() ? 'HARD-LINKED' : 'NOT-A-FILE';
    }
    this.dirUsable();
    st.fd = fd;
    st.dev = s.dev;
    st.ino = s.ino;
    st.size = s.size;
    st.rotateDue &&= s.size > this.opts.maxFileSize; // a file made anew needs no rotating
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

  private closeFile(st: FileState): void {
    if (st.fd < 0) return;
    try {
      fs.closeSync(st.fd);
    } catch {
      // Nothing to do about it: the writes before it succeeded.
    }
    st.fd = -1;
    this.open.delete(st);
  }

  /** The index after the last line of the next write: where the file crosses maxFileSize, or MAX_WRITE. */
  private segmentEnd(st: FileState): number {
    let projected = st.size;
    let bytes = 0;
    let i = st.head;
    while (i < st.lines.length) {
      const n = st.lens[i] - (i === st.head ? st.written : 0);
      if (bytes > 0 && bytes + n > MAX_WRITE) break;
      bytes += n;
      projected += n;
      i++;
      if (projected > this.opts.maxFileSize) break;
    }
    return i;
  }

  /** The bytes of lines[head..end) not yet written, in one buffer. */
  private gather(st: FileState, end: number): Buffer {
    const first = st.lines[st.head];
    if (end === st.head + 1 && typeof first !== 'string') return first.subarray(st.written);
    let total = -st.written;
    for (let i = st.head; i < end; i++) total += st.lens[i];
    const buf = Buffer.allocUnsafe(total);
    let off = 0;
    for (let i = st.head; i < end; i++) {
      let line = st.lines[i];
      const skip = i === st.head ? st.written : 0;
      if (typeof line === 'string') {
        if (skip === 0) {
          off += buf.write(line, off, 'utf8');
          continue;
        }
        line = Buffer.from(line, 'utf8');
      }
      off += line.copy(buf, off, skip);
    }
    return buf;
  }

  /** Accounts for n more bytes written: whole lines leave the queue. */
  private consume(st: FileState, n: number, end: number): void {
    st.size += n;
    this.stats.bytesWritten += n;
    this.pending -= n;
    this.sinceDirCheck += n;
    while (st.head < end) {
      const rest = st.lens[st.head] - st.written;
      if (n < rest) {
        st.written += n;
        return;
      }
      n -= rest;
      const seq = st.seqs[st.head];
      if (seq >= 0) st.seq = seq;
      st.lines[st.head] = ''; // let the line go now, not when the whole queue is written
      st.head++;
      st.written = 0;
      this.stats.linesWritten++;
    }
  }

  /**
   * Upstream's rotation: delete X.log.<maxFiles-1>, shift X.log.<i> to X.log.<i+1>,
   * X.log to X.log.1, start a new X.log (.gz files shift along with the others).
   */
  private rotate(st: FileState): string | undefined {
    this.opts.onRotate?.('before');
    let code: string | undefined;
    try {
      this.closeFile(st);
      const max = this.opts.maxFiles;
      try {
        if (max === 1) {
          unlinkIfThere(st.path);
        } else {
          unlinkIfThere(`${st.path}.${max - 1}`);
          unlinkIfThere(`${st.path}.${max - 1}.gz`);
          for (let i = max - 2; i >= 1; i--) {
            renameIfThere(`${st.path}.${i}`, `${st.path}.${i + 1}`);
            renameIfThere(`${st.path}.${i}.gz`, `${st.path}.${i + 1}.gz`);
          }
          st.generation++;
          renameIfThere(st.path, `${st.path}.1`);
        }
      } catch (err) {
        code = errnoCode(err);
      }
      if (code === undefined) {
        st.size = 0;
        st.rotateDue = false;
        this.stats.rotations++;
        if (this.opts.compress && max > 1) {
          this.gzipJobs.push({ st, generation: st.generation });
          this.startGzip();
        }
        code = this.openFile(st);
      }
    } finally {
      this.opts.onRotate?.('after');
    }
    if (code === undefined) this.boundSource(st);
    return code;
  }

  /** Deletes the oldest rotated files of one source until they and a full X.log fit in maxSourceBytes. */
  private boundSource(st: FileState): void {
    const limit = this.opts.maxSourceBytes;
    if (limit === undefined || this.opts.maxFiles === 1) return;
    const files: { file: string; size: number }[] = [];
    let total = 0;
    for (let i = 1; i < this.opts.maxFiles; i++) {
      for (const file of [`${st.path}.${i}`, `${st.path}.${i}.gz`]) {
        const s = lstatOrUndefined(file);
        if (s?.isFile()) {
          files.push({ file, size: s.size });
          total += s.size;
        }
      }
    }
    const budget = limit - Math.max(st.size, this.opts.maxFileSize);
    for (let i = files.length - 1; i >= 0 && total > budget; i--) {
      if (this.remove(files[i].file)) total -= files[i].size;
    }
  }

  /** Deletes the oldest rotated files in DIR (by mtime, any source) until all *.log* files fit in maxDirBytes. */
  private boundDir(): void {
    const limit = this.opts.maxDirBytes as number;
    this.sinceDirCheck = 0;
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return; // the writes report what is wrong with the directory
    }
    let total = 0;
    const rotated: { file: string; size: number; mtime: number; index: number }[] = [];
    for (const name of names) {
      const m = LOG_NAME.exec(name);
      if (!m) continue;
      const file = path.join(this.dir, name);
      const s = lstatOrUndefined(file);
      if (!s?.isFile()) continue;
      total += s.size;
      if (m[1] !== undefined) rotated.push({ file, size: s.size, mtime: s.mtimeMs, index: Number(m[1]) });
    }
    rotated.sort((a, b) => a.mtime - b.mtime || b.index - a.index);
    for (const f of rotated) {
      if (total <= limit) break;
      if (this.remove(f.file)) total -= f.size;
    }
    if (total > limit) this.report('dir full', `${this.dir} holds ${total} bytes of logs, more than maxDirBytes (${limit}), and no rotated file is left to delete`);
    else this.conditions.delete('dir full');
  }

  private remove(file: string): boolean {
    try {
      fs.unlinkSync(file);
      this.stats.deleted++;
      return true;
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT') return true;
      this.stats.errors++;
      this.report(`unlink ${code}`, `cannot delete ${file} to keep within the size bounds: ${code}`);
      return false;
    }
  }

  private report(key: string, msg: string): void {
    if (this.conditions.has(key)) return;
    this.conditions.add(key);
    this.opts.warn(msg);
  }

  private startGzip(): void {
    if (this.gzipping) return;
    this.gzipping = (async () => {
      for (let job = this.gzipJobs.shift(); job !== undefined; job = this.gzipJobs.shift()) await this.gzip(job);
      this.gzipping = undefined;
    })();
  }

  /** Where a job's file is now: rotations since it became X.log.1 have moved it on (or deleted it). */
  private whereNow(job: GzipJob): string | undefined {
    const index = 1 + job.st.generation - job.generation;
    return index < this.opts.maxFiles ? `${job.st.path}.${index}` : undefined;
  }

  /**
   * Gzips a rotated file, streaming (a rotated file may be large), into a
   * temporary file that becomes <file>.gz by a rename: a .gz is never seen
   * half-written. Never rejects.
   */
  private async gzip(job: GzipJob): Promise<void> {
    const from = this.whereNow(job);
    if (from === undefined) return;
    // Not a name of ours otherwise (it ends in neither .log, .N nor .gz); one job runs at a time.
    const tmp = `${job.st.path}.gz-tmp`;
    let tmpMade = false;
    try {
      // Opened now, synchronously: a rotation while it is read moves the name, not the file.
      const fd = fs.openSync(from, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
      let s: fs.Stats;
      let out: number;
      try {
        s = fs.fstatSync(fd);
        if (!s.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'NOT-A-FILE' });
        unlinkIfThere(tmp); // left by a crash
        out = fs.openSync(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, FILE_MODE);
        tmpMade = true;
      } catch (err) {
        fs.closeSync(fd);
        throw err;
      }
      try {
        await pipeline(fs.createReadStream('', { fd, autoClose: true }), zlib.createGzip(), fs.createWriteStream('', { fd: out, autoClose: false }));
        // The .gz keeps the age of its lines: maxDirBytes deletes by mtime.
        fs.futimesSync(out, s.atime, s.mtime);
      } finally {
        fs.closeSync(out);
      }
      // From here on all is synchronous: no rotation can move the file in between.
      const now = this.whereNow(job);
      const there = now === undefined ? undefined : lstatOrUndefined(now);
      if (now === undefined || there === undefined || there.ino !== s.ino || there.dev !== s.dev) {
        unlinkIfThere(tmp); // deleted meanwhile, by a bound or by someone else
        return;
      }
      fs.renameSync(tmp, `${now}.gz`);
      tmpMade = false;
      fs.unlinkSync(now);
      this.stats.compressed++;
      this.conditions.delete('gzip');
    } catch (err) {
      const code = err instanceof Error ? ((err as NodeJS.ErrnoException).code ?? err.message) : String(err);
      if (tmpMade) fs.rm(tmp, { force: true }, () => undefined);
      if (code === 'ENOENT') return; // deleted meanwhile
      this.stats.errors++;
      this.report('gzip', `cannot gzip ${from}: ${code}; it stays uncompressed`);
    }
  }
}
