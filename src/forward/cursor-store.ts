/**
 * Each destination's cursor: the daemon id and the seq of the last entry the
 * destination acknowledged. One small file per destination in the state
 * directory, `<stem of the URL>.cursor`, kept open and overwritten in place
 * with one fixed-size write (a JSON object padded with spaces to RECORD
 * bytes): a write of one record is one system call, which a kill -9 cannot
 * cut in two, and saving costs no open, rename or close. Saving happens only
 * after an acknowledgement, so after kill -9 at most what was in flight is
 * sent again. (Not fsynced: after a power cut, the cursor may be older, and
 * entries since then sent again.)
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

/** Bytes of one saved cursor (destination URLs are at most MAX_URL characters: destination.ts). */
const RECORD = 2048;

export class CursorStore {
  readonly file: string;
  private fd: number | undefined;

  constructor(
    readonly dir: string,
    readonly url: string,
  ) {
    this.file = path.join(dir, cursorFileName(url));
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
    const body = JSON.stringify({ url: this.url, daemon: cursor.daemon, seq: cursor.seq });
    const record = Buffer.alloc(RECORD, 0x20);
    record.write(body, 0, 'utf8');
    record[RECORD - 1] = 10;
    this.fd ??= fs.openSync(this.file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o600);
    try {
      if (fs.writeSync(this.fd, record, 0, RECORD, 0) !== RECORD) throw new Error('short write');
    } catch (err) {
      // Opened again at the next save: the file may have been replaced meanwhile.
      this.close();
      throw err;
    }
  }

  close(): void {
    if (this.fd !== undefined) closeQuietly(this.fd);
    this.fd = undefined;
  }
}
