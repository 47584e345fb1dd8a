/**
 * A log file's bytes in big chunks: plain files by positional reads (the
 * next one already under way while the last is scanned), gzipped ones through
 * zlib's streaming inflate, which runs in the threadpool. Files are opened as
 * the persister opens its own: O_NOFOLLOW (a symlink is never followed), and
 * only a regular file is read.
 */
import fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import zlib from 'node:zlib';

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = fs.constants;

/** Why a file is not read (or not to its end): one line, for the warning that names it. */
export class FileProblem extends Error {}

const REASONS: Record<string, string> = {
  ELOOP: 'a symbolic link: not followed',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'a directory',
  ENXIO: 'not a regular file',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files',
};

export function problemOf(err: unknown): string {
  if (err instanceof FileProblem) return err.message;
  const code = (err as NodeJS.ErrnoException).code;
  return (code && REASONS[code]) ?? (code || (err as Error).message);
}

/** Opens a log file for reading; throws (see problemOf) if it is not a regular file that can be read. */
export async function openLogFile(file: string): Promise<{ fh: FileHandle; size: number }> {
  const fh = await fs.promises.open(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  try {
    const s = await fh.stat();
    if (!s.isFile()) throw new FileProblem(s.isDirectory() ? 'a directory' : 'not a regular file');
    return { fh, size: s.size };
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/**
 * The file's bytes, chunkSize at a time; the fd is closed as soon as the end
 * is seen (a small file: after its one read), or when the caller stops early.
 * A file that grows while it is read (X.log) is read to where it ends then.
 */
export async function* plainChunks(fh: FileHandle, size: number, chunkSize: number): AsyncGenerator<Buffer> {
  let pos = 0;
  let closed = false;
  const close = (): Promise<void> => {
    if (closed) return Promise.resolve();
    closed = true;
    return fh.close();
  };
  const read = async (): Promise<Buffer> => {
    if (closed) return Buffer.alloc(0);
    // One byte more than the file is thought to hold: a short read is the end, with no read of nothing after it.
    // Past that (it grew while read), whole chunks again.
    const left = size - pos;
    const want = left >= 0 ? Math.min(chunkSize, left + 1) : chunkSize;
    const buf = Buffer.allocUnsafe(want);
    const { bytesRead } = await fh.read(buf, 0, want, pos);
    pos += bytesRead;
    if (bytesRead < want) await close();
    return bytesRead === want ? buf : buf.subarray(0, bytesRead);
  };
  let pending = read();
  try {
    for (;;) {
      const chunk = await pending;
      if (chunk.length === 0) return;
      pending = read();
      // Abandoned by the caller while under way: its failure is nobody's business then.
      pending.catch(() => undefined);
      yield chunk;
    }
  } finally {
    await pending.catch(() => undefined);
    await close();
  }
}

/** Bytes zlib hands over per piece: big enough that a 1 MiB chunk is a few pieces. */
const INFLATE_PIECE = 256 * 1024;

/**
 * The decompressed bytes, about chunkSize at a time. Inflating goes on ahead
 * of the caller (up to chunkSize buffered). A damaged file (truncated, not
 * gzip at all) yields what came before the damage, then throws FileProblem.
 */
export async function* gzChunks(fh: FileHandle, chunkSize: number): AsyncGenerator<Buffer> {
  const input = fh.createReadStream({ highWaterMark: chunkSize });
  // Stream options pass through zlib's options to its Transform: the read-ahead is the readable side's buffer.
  const gunzip = zlib.createGunzip({ chunkSize: INFLATE_PIECE, readableHighWaterMark: chunkSize } as zlib.ZlibOptions);
  input.on('error', (err) => gunzip.destroy(err));
  input.pipe(gunzip);
  let parts: Buffer[] = [];
  let n = 0;
  let total = 0;
  const take = (): Buffer => {
    const out = parts.length === 1 ? parts[0] : Buffer.concat(parts, n);
    total += n;
    parts = [];
    n = 0;
    return out;
  };
  let failure: unknown;
  try {
    for await (const piece of gunzip as AsyncIterable<Buffer>) {
      parts.push(piece);
      n += piece.length;
      if (n >= chunkSize) yield take();
    }
  } catch (err) {
    failure = err;
  } finally {
    input.destroy();
    gunzip.destroy();
  }
  if (n > 0) yield take();
  if (failure !== undefined) {
    const code = (failure as NodeJS.ErrnoException).code;
    const reason = code === 'Z_BUF_ERROR' || /unexpected end/.test((failure as Error).message) ? 'truncated' : 'damaged';
    throw new FileProblem(`${reason} gzip file (${(failure as Error).message})${total > 0 ? ': read up to the damage' : ''}`);
  }
}
