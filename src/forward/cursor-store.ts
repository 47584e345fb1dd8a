/**
 * Each destination's cursor: the daemon id and the seq of the last entry the
 * destination acknowledged. One small file per destination in the state
 * directory, `<stem of the URL>.cursor`, replaced whole (write a temporary
 * file, rename it over the old one) after every acknowledgement: a crash
 * leaves the old cursor or the new one, never half of one. Saving happens
 * only after an acknowledgement, so after kill -9 at most what was in flight
 * is sent again.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileStem } from '../persist/file-names.js';
import { closeQuietly } from '../fds.js';

export interface Cursor {
  /** The daemon whose seq this is. */
  daemon: string;
  /** Every entry up to and including this seq was acknowledged. */
  seq: number;
}

export const CURSOR_SUFFIX = '.cursor';
/** Where the forwarder keeps its cursors unless told otherwise (-state-dir). */
export const DEFAULT_STATE_DIR = '/var/lib/memlog/forward';

/** The cursor file's name for a destination URL (the persister's rule for source names: safe, one-to-one). */
export function cursorFileName(url: string): string {
  return fileStem(url) + CURSOR_SUFFIX;
}

export class CursorStore {
  readonly file: string;
  private readonly tmp: string;

  constructor(
    readonly dir: string,
    readonly url: string,
  ) {
    this.file = path.join(dir, cursorFileName(url));
    this.tmp = `${this.file}.tmp`;
  }

  /** Makes the directory (owner-only: the cursor says how far logs went, and to where). */
  static prepare(dir: string): void {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  /** The saved cursor; undefined when there is none; a file that is not one is reported through warn and ignored. */
  load(warn: (msg: string) => void): Cursor | undefined {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      warn(`cannot read the cursor ${this.file}: ${(err as Error).message}; forwarding everything memlogd holds`);
      return undefined;
    }
    try {
      const v = JSON.parse(text) as Record<string, unknown>;
      if (typeof v.daemon === 'string' && v.daemon.length <= 64 && typeof v.seq === 'number' && Number.isSafeInteger(v.seq) && v.seq >= -1) {
        return { daemon: v.daemon, seq: v.seq };
      }
    } catch {
      // Told below.
    }
    warn(`the cursor ${this.file} is not one memlog wrote; forwarding everything memlogd holds`);
    return undefined;
  }

  /** Replaces the saved cursor; throws what the disk said. */
  save(cursor: Cursor): void {
    const body = JSON.stringify({ url: this.url, daemon: cursor.daemon, seq: cursor.seq }) + '\n';
    const fd = fs.openSync(this.tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW, 0o600);
    try {
      fs.writeSync(fd, body);
    } finally {
      closeQuietly(fd);
    }
    fs.renameSync(this.tmp, this.file);
  }
}
