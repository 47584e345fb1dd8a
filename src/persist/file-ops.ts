/**
 * The few file-system calls the persister makes in more than one place, each
 * once: what "gone already" means for an unlink or a rename, how a buffer is
 * written whole, how a directory is synced. Nothing here follows a symbolic
 * link. (Closing quietly is ../fds.ts's.)
 */
import fs from 'node:fs';
import { closeQuietly } from '../fds.js';

const { O_WRONLY, O_APPEND, O_CREAT, O_NOFOLLOW, O_NONBLOCK, O_NOCTTY } = fs.constants;
/**
 * X.log for appending. O_NONBLOCK: a FIFO planted as X.log would otherwise
 * block open() until a reader comes; it does nothing to regular files.
 */
export const APPEND_FLAGS = O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;
/** An existing file, to check or cut, never made. */
export const EXISTING_FLAGS = O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;
export const FILE_MODE = 0o640;
export const DIR_MODE = 0o750;

/** The errno code of a failed syscall; anything else is a bug and goes on up. */
export function errnoCode(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (err instanceof Error && typeof code === 'string' && (err as NodeJS.ErrnoException).syscall !== undefined) return code;
  throw err;
}

/** lstat, or undefined when there is nothing there (or nothing that can be looked at). */
export function lstatOrUndefined(file: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(file, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

/** Runs a syscall that may find its file gone already, which is not an error; anything else throws. */
function ifThere(call: () => void): void {
  try {
    call();
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
}

export function unlinkIfThere(file: string): void {
  ifThere(() => fs.unlinkSync(file));
}

export function renameIfThere(from: string, to: string): void {
  ifThere(() => fs.renameSync(from, to));
}

/** Writes buf whole (write may take less); onProgress hears of each part, so that a failure midway loses no account. */
export function writeAll(fd: number, buf: Buffer, onProgress?: (n: number) => void, position?: number): void {
  let off = 0;
  while (off < buf.length) {
    const n = fs.writeSync(fd, buf, off, buf.length - off, position === undefined ? null : position + off);
    off += n;
    onProgress?.(n);
  }
}

/** fsync of a directory: the names made, renamed or removed in it are on disk. */
export function syncDir(dir: string): void {
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    fs.fsyncSync(fd);
  } finally {
    closeQuietly(fd);
  }
}
