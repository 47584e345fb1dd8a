/**
 * Rotation: upstream's order of renames, and the gzip of rotated files in the
 * background. X.log, X.log.1 (newest rotated) ... X.log.<maxFiles-1> (oldest);
 * with compression X.log.N.gz, which shift along with the others.
 */
import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { closeQuietly } from '../fds.js';
import { FILE_MODE, lstatOrUndefined, renameIfThere, unlinkIfThere } from './file-ops.js';
import type { FileQueue } from './file-queue.js';

const { O_WRONLY, O_RDONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = fs.constants;

/**
 * Deletes X.log.<maxFiles-1>, shifts X.log.<i> to X.log.<i+1>, X.log to
 * X.log.1 (or, with maxFiles 1, deletes X.log). The caller has closed X.log.
 * Throws the failing syscall's error; what was renamed before it stays renamed,
 * and a retry carries on (missing names are skipped).
 */
export function shiftRotated(file: FileQueue, maxFiles: number): void {
  const p = file.path;
  if (maxFiles === 1) {
    unlinkIfThere(p);
    return;
  }
  unlinkIfThere(`${p}.${maxFiles - 1}`);
  unlinkIfThere(`${p}.${maxFiles - 1}.gz`);
  for (let i = maxFiles - 2; i >= 1; i--) {
    renameIfThere(`${p}.${i}`, `${p}.${i + 1}`);
    renameIfThere(`${p}.${i}.gz`, `${p}.${i + 1}.gz`);
  }
  file.generation++;
  renameIfThere(p, `${p}.1`);
}

interface GzipJob {
  file: FileQueue;
  /** The file's generation right after it became X.log.1. */
  generation: number;
}

export interface GzipperOptions {
  maxFiles: number;
  /** fsync the .gz before the uncompressed file is deleted. */
  fsync: boolean;
  /** A problem, once per key until cleared. */
  report(key: string, msg: string): void;
  clear(key: string): void;
  /** Counts: a file compressed, a syscall failed. */
  compressed(): void;
  failed(): void;
}

/** Gzips rotated files one at a time, in the background. */
export class Gzipper {
  private readonly jobs: GzipJob[] = [];
  private running: Promise<void> | undefined;

  constructor(private readonly opts: GzipperOptions) {}

  /** file has just been rotated: its X.log.1 is to be compressed. */
  add(file: FileQueue): void {
    file.gzipsPending++;
    this.jobs.push({ file, generation: file.generation });
    if (this.running) return;
    this.running = (async () => {
      for (let job = this.jobs.shift(); job !== undefined; job = this.jobs.shift()) {
        await this.gzip(job);
        job.file.gzipsPending--;
      }
      this.running = undefined;
    })();
  }

  /** Waits for every job queued so far, and any queued meanwhile. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Where a job's file is now: rotations since it became X.log.1 have moved it on (or deleted it). */
  private whereNow(job: GzipJob): string | undefined {
    const index = 1 + job.file.generation - job.generation;
    return index < this.opts.maxFiles ? `${job.file.path}.${index}` : undefined;
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
    const tmp = `${job.file.path}.gz-tmp`;
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
        closeQuietly(fd);
        throw err;
      }
      try {
        await pipeline(fs.createReadStream('', { fd, autoClose: true }), zlib.createGzip(), fs.createWriteStream('', { fd: out, autoClose: false }));
        // The .gz keeps the age of its lines: maxDirBytes deletes by mtime.
        fs.futimesSync(out, s.atime, s.mtime);
        // With -fsync the lines are on disk in the .gz before the only other copy goes.
        if (this.opts.fsync) fs.fsyncSync(out);
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
      this.opts.compressed();
      this.opts.clear('gzip');
    } catch (err) {
      const code = err instanceof Error ? ((err as NodeJS.ErrnoException).code ?? err.message) : String(err);
      if (tmpMade) fs.rm(tmp, { force: true }, () => undefined);
      if (code === 'ENOENT') return; // deleted meanwhile
      this.opts.failed();
      this.opts.report('gzip', `cannot gzip ${from}: ${code}; it stays uncompressed`);
    }
  }
}
