/**
 * Reading a query connection's entries into logread's output: lines parsed
 * as they come, what the caller makes of each written once per chunk, and the
 * daemon not read while the output is behind (backpressure).
 */
import type net from 'node:net';
import type { Writable } from 'node:stream';
import { LineReader } from './query-client.js';
import { parseReadEntry, type ReadEntry } from './read-entry.js';

export interface PumpOptions {
  /** The socket's path, for errors. */
  path: string;
  /** Bytes already read past a hello: the start of the stream. */
  rest?: Buffer;
  out: Writable;
  warn(msg: string): void;
  /** What to print for an entry ('' for nothing); line is its bytes as sent. */
  onEntry(entry: ReadEntry, line: Buffer): string;
  /** Aborted: the connection is closed at once and the pump resolves (the output went away). */
  signal?: AbortSignal;
}

/** Resolves when the daemon ends the stream (a dump), the connection drops or opts.signal aborts; rejects on a socket error. */
export function pumpEntries(socket: net.Socket, opts: PumpOptions): Promise<void> {
  const { signal } = opts;
  if (signal?.aborted) {
    socket.destroy();
    return Promise.resolve();
  }
  const lines = new LineReader();
  let malformed = 0;
  const take = (chunk: Buffer): void => {
    let text = '';
    lines.push(chunk, (line) => {
      const entry = parseReadEntry(line);
      if (entry) text += opts.onEntry(entry, line);
      else if (++malformed <= 3) opts.warn(`not an entry: ${line.toString('utf8').slice(0, 200)}`);
    });
    if (text !== '' && !opts.out.write(text)) {
      socket.pause();
      opts.out.once('drain', () => socket.resume());
    }
  };
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      socket.destroy();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('data', take);
    socket.on('end', () => resolve());
    socket.on('close', () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    socket.on('error', (err) => reject(new Error(`connection to ${opts.path} failed: ${err.message}`)));
    if (opts.rest && opts.rest.length > 0) take(opts.rest);
    socket.resume();
  });
}

/** The last n of what is put in, oldest first: `-n` over a stream that is not kept whole. */
export class LastN<T> {
  private readonly items: T[] = [];
  private head = 0;

  constructor(private readonly n: number) {}

  put(item: T): void {
    if (this.n === 0) return;
    if (this.items.length < this.n) this.items.push(item);
    else {
      this.items[this.head] = item;
      this.head = (this.head + 1) % this.n;
    }
  }

  /** What is kept, oldest first; empties the keeper. */
  take(): T[] {
    const out = [...this.items.slice(this.head), ...this.items.slice(0, this.head)];
    this.items.length = 0;
    this.head = 0;
    return out;
  }
}
