/** What the bundle's parts share about files: a short reason for a failed fs call, ending a write stream. */
import type fs from 'node:fs';

const REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ELOOP: 'is a symbolic link (not followed)',
  ENOSPC: 'no space left on device',
  EROFS: 'read-only file system',
  ENOTFILE: 'not a regular file',
};

/** A short reason for a failed fs call; with dir, an ENOENT says the directory is missing. */
export function describe(err: unknown, dir?: string): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' && dir !== undefined) return `directory ${dir} does not exist`;
  if (code !== undefined && REASONS[code] !== undefined) return REASONS[code];
  return (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ');
}

/** Ends a write stream and waits until its data is on disk (or it failed: the error is thrown). */
export function endStream(stream: fs.WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    if (stream.destroyed) {
      resolve();
      return;
    }
    stream.once('error', reject);
    stream.end(() => resolve());
  });
}
