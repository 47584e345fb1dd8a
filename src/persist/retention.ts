/**
 * Retention: rotated files are deleted, oldest first, to keep one source's
 * files within maxSourceBytes and all log files in DIR within maxDirBytes.
 * X.log itself is never deleted: only rotated files (X.log.N, X.log.N.gz).
 */
import fs from 'node:fs';
import path from 'node:path';
import { errnoCode, lstatOrUndefined } from './file-ops.js';

/** X.log, X.log.N, X.log.N.gz; group 1 is N for rotated files. */
const LOG_NAME = /\.log(?:\.(\d+)(?:\.gz)?)?$/;

export interface RetentionOptions {
  dir: string;
  maxFiles: number;
  maxFileSize: number;
  maxSourceBytes?: number;
  maxDirBytes?: number;
  /** A problem, once per key until cleared. */
  report(key: string, msg: string): void;
  clear(key: string): void;
  /** Counts: a file deleted, a syscall failed. */
  deleted(): void;
  failed(): void;
}

export class Retention {
  /** Bytes written since maxDirBytes was last checked; the first flush checks. */
  private sinceDirCheck = Infinity;

  constructor(private readonly opts: RetentionOptions) {}

  /** n more bytes are in DIR. */
  wrote(n: number): void {
    this.sinceDirCheck += n;
  }

  /** After a flush: checks maxDirBytes once a sixteenth of it has been written since the last check. */
  afterFlush(): void {
    const limit = this.opts.maxDirBytes;
    if (limit !== undefined && this.sinceDirCheck >= limit / 16) this.boundDir(limit);
  }

  /** After a rotation of the file at logPath (now `size` bytes): its oldest rotated files go until they and a full X.log fit in maxSourceBytes. */
  boundSource(logPath: string, size: number): void {
    const limit = this.opts.maxSourceBytes;
    if (limit === undefined || this.opts.maxFiles === 1) return;
    const files: { file: string; size: number }[] = [];
    let total = 0;
    for (let i = 1; i < this.opts.maxFiles; i++) {
      for (const file of [`${logPath}.${i}`, `${logPath}.${i}.gz`]) {
        const s = lstatOrUndefined(file);
        if (s?.isFile()) {
          files.push({ file, size: s.size });
          total += s.size;
        }
      }
    }
    const budget = limit - Math.max(size, this.opts.maxFileSize);
    for (let i = files.length - 1; i >= 0 && total > budget; i--) {
      if (this.remove(files[i].file)) total -= files[i].size;
    }
  }

  /** Deletes the oldest rotated files in DIR (by mtime, any source) until all *.log* files fit in limit. */
  private boundDir(limit: number): void {
    const dir = this.opts.dir;
    this.sinceDirCheck = 0;
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      return; // the writes report what is wrong with the directory
    }
    let total = 0;
    const rotated: { file: string; size: number; mtime: number; index: number }[] = [];
    for (const name of names) {
      const m = LOG_NAME.exec(name);
      if (!m) continue;
      const file = path.join(dir, name);
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
    if (total > limit) this.opts.report('dir full', `${dir} holds ${total} bytes of logs, more than maxDirBytes (${limit}), and no rotated file is left to delete`);
    else this.opts.clear('dir full');
  }

  private remove(file: string): boolean {
    try {
      fs.unlinkSync(file);
      this.opts.deleted();
      return true;
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT') return true;
      this.opts.failed();
      this.opts.report(`unlink ${code}`, `cannot delete ${file} to keep within the size bounds: ${code}`);
      return false;
    }
  }
}
