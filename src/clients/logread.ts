/**
 * logread as a library: dump or follow the ring and print it as upstream's
 * logread does, `<time>;<source>;<msg>` with any `;` in the source as `\;`.
 */
import type { Writable } from 'node:stream';
import { connectQuery, LineReader, parseEntry, type WireEntry } from './query-client.js';

export function formatText(entry: WireEntry): string {
  return `${entry.time};${entry.source.replaceAll(';', '\\;')};${entry.msg}\n`;
}

export interface LogreadOptions {
  socket: string;
  mode: number;
  out: Writable;
  /** Told about lines that are not entries. */
  warn(msg: string): void;
}

/** Resolves when the daemon ends the stream (dump) or the connection drops. */
export async function logread(opts: LogreadOptions): Promise<{ entries: number; malformed: number }> {
  const socket = await connectQuery(opts.socket, opts.mode);
  const lines = new LineReader();
  let entries = 0;
  let malformed = 0;
  return new Promise((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      let text = '';
      lines.push(chunk, (line) => {
        const entry = parseEntry(line);
        if (entry) {
          text += formatText(entry);
          entries++;
        } else {
          malformed++;
          if (malformed <= 3) opts.warn(`not an entry: ${line.toString('utf8').slice(0, 200)}`);
        }
      });
      // Backpressure: stop reading the daemon while the terminal or pipe catches up.
      if (text !== '' && !opts.out.write(text)) {
        socket.pause();
        opts.out.once('drain', () => socket.resume());
      }
    });
    socket.on('end', () => resolve({ entries, malformed }));
    socket.on('error', (err) => reject(new Error(`connection to ${opts.socket} failed: ${err.message}`)));
  });
}
