/** Closing and removing things that may be gone already: one place for the quiet versions. */
import fs from 'node:fs';

/** Closes fd; one that is closed already, or was never valid, has nothing left to leak. */
export function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // Already closed.
  }
}

export function closeAllQuietly(fds: Iterable<number>): void {
  for (const fd of fds) closeQuietly(fd);
}

/** Removes a file if it is there; true if it was. */
export function unlinkQuietly(file: string): boolean {
  try {
    fs.unlinkSync(file);
    return true;
  } catch {
    return false;
  }
}
