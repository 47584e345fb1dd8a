/** The archive's members: directories, generated text, and files read up to the size they had when opened. */
import fs from 'node:fs';
import type { Header, Pack } from 'tar-stream';
import { describe } from './files.js';

/** Zero bytes to pad a file that shrank while being read. */
const PAD = Buffer.alloc(64 * 1024);

type Sink = ReturnType<Pack['entry']>;

/** Adds one member; body writes its data (exactly header.size bytes). Resolves once tar-stream has taken it all. */
async function addEntry(pack: Pack, header: Partial<Header> & { name: string }, body?: (sink: Sink) => Promise<void>): Promise<void> {
  let sink: Sink | undefined;
  const done = new Promise<void>((resolve, reject) => {
    sink = pack.entry(header, (err) => (err ? reject(err) : resolve()));
  });
  const s = sink as Sink;
  // Its failure comes back through the entry's callback (done); without a listener, 'error' would be thrown.
  s.on('error', () => {});
  try {
    if (body) await body(s);
    s.end(undefined);
  } catch (err) {
    s.destroy(err instanceof Error ? err : new Error(String(err)));
    await done.catch(() => {});
    throw err;
  }
  await done;
}

export function addDirectory(pack: Pack, name: string, mtime: Date): Promise<void> {
  return addEntry(pack, { name, type: 'directory', mode: 0o755, mtime });
}

export function addBuffer(pack: Pack, name: string, text: string, mtime: Date): Promise<void> {
  const data = Buffer.from(text);
  return addEntry(pack, { name, type: 'file', mode: 0o644, mtime, size: data.length }, (sink) => write(sink, data));
}

/** Writes a chunk; resolves at once, or once the sink drains; rejects if the sink goes away meanwhile. */
function write(sink: Sink, chunk: Buffer): Promise<void> {
  if (sink.write(chunk)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onDrain = (): void => {
      sink.off('close', onClose);
      resolve();
    };
    const onClose = (): void => {
      sink.off('drain', onDrain);
      reject(new Error('the archive stream was closed'));
    };
    sink.once('drain', onDrain);
    sink.once('close', onClose);
  });
}

/**
 * Adds the regular file at abs, read up to the size it had when opened.
 * Returns the bytes added, or undefined if it was skipped (with a note, unless skip() said so).
 */
export async function addFile(
  pack: Pack,
  name: string,
  abs: string,
  opts: { noFollow: boolean; notes: string[]; skip?: (st: fs.Stats) => boolean; onBytes?: (n: number) => void },
): Promise<number | undefined> {
  const { constants } = fs;
  let handle: fs.promises.FileHandle;
  try {
    // O_NONBLOCK: a FIFO swapped in since the listing must not block the open.
    handle = await fs.promises.open(abs, constants.O_RDONLY | constants.O_NONBLOCK | (opts.noFollow ? constants.O_NOFOLLOW : 0));
  } catch (err) {
    opts.notes.push(`${abs} not included: ${describe(err)}`);
    return undefined;
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) {
      opts.notes.push(`${abs} not included: not a regular file`);
      return undefined;
    }
    if (opts.skip?.(st)) return undefined;
    const size = st.size;
    await addEntry(pack, { name, type: 'file', size, mode: st.mode & 0o7777, mtime: st.mtime }, async (sink) => {
      let written = 0;
      let readError: string | undefined;
      if (size > 0) {
        const stream = fs.createReadStream(abs, { fd: handle, start: 0, end: size - 1, autoClose: false });
        try {
          for await (const chunk of stream as AsyncIterable<Buffer>) {
            // end bounds the read; this only guards against a stream that gives more anyway.
            const part = written + chunk.length > size ? chunk.subarray(0, size - written) : chunk;
            written += part.length;
            await write(sink, part);
            opts.onBytes?.(written);
            if (written >= size) break;
          }
        } catch (err) {
          // The archive failing is fatal; the file failing (EIO...) only spoils this member.
          if (sink.destroyed || sink.destroying) throw err;
          readError = describe(err);
        }
      }
      if (written < size) {
        opts.notes.push(
          readError !== undefined
            ? `${abs}: reading failed after ${written} of ${size} bytes (${readError}): padded with zero bytes in the bundle`
            : `${abs} shrank from ${size} to ${written} bytes while it was read: padded with zero bytes in the bundle`,
        );
        while (written < size) {
          const n = Math.min(PAD.length, size - written);
          await write(sink, PAD.subarray(0, n));
          written += n;
        }
      }
    });
    return size;
  } finally {
    await handle.close().catch(() => {});
  }
}
