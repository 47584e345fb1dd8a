/**
 * One received fd, read until EOF into the ring.
 *
 * Pipes, FIFOs and stream sockets are read by the batch reader (the addon
 * polls them all and reads each ready one into one buffer per turn). Regular
 * files cannot be polled; they are read on the thread pool, which never
 * blocks for a file.
 */
import fs from 'node:fs';
import type { FdInfo } from '../native.js';
import { clock } from '../entry/clock.js';
import type { LineSplitter } from './line-splitter.js';
import type { BatchReader } from './batch-reader.js';

/** Why an fd cannot be read as a log stream, or undefined if it can. */
export function unreadableReason(info: FdInfo): string | undefined {
  switch (info.kind) {
    case 'fifo':
    case 'socket-stream':
    case 'file':
      return info.readable ? undefined : `it is a ${info.kind} open for writing only`;
    case 'dir':
      return 'it is a directory';
    case 'socket-dgram':
      return 'it is a datagram socket, not a stream';
    default:
      return `it is a ${info.kind}, not a pipe, FIFO, stream socket or regular file`;
  }
}

export interface InputStreamEvents {
  /** New entries are in the ring (regular files only: the batch reader tells for the others, once per turn). */
  onData(): void;
  /** The stream ended or failed; error is set when it failed. The fd is closed. */
  onClose(stream: InputStream, error?: Error): void;
}

export class InputStream {
  private file: fs.ReadStream | undefined;
  private id = -1;
  private closed = false;
  bytes = 0;

  constructor(
    fd: number,
    info: FdInfo,
    readonly splitter: LineSplitter,
    private readonly events: InputStreamEvents,
    private readonly reader: BatchReader,
  ) {
    if (info.kind === 'file') {
      const file = fs.createReadStream('', { fd, autoClose: true, highWaterMark: 64 * 1024 });
      file.on('data', (chunk: Buffer | string) => {
        clock.read();
        this.onChunk(chunk as Buffer, clock.sec, clock.nsec);
        this.events.onData();
      });
      file.on('end', () => this.onEnd());
      file.on('error', (err: Error) => this.onEnd(err));
      file.on('close', () => this.onEnd());
      this.file = file;
    } else {
      this.id = reader.add(fd, this);
    }
  }

  onChunk(chunk: Uint8Array, sec: number, nsec: number): void {
    this.bytes += chunk.length;
    this.splitter.push(chunk, sec, nsec);
  }

  onEnd(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    clock.read();
    this.splitter.end(clock.sec, clock.nsec);
    this.file?.destroy();
    this.events.onData();
    this.events.onClose(this, error);
  }

  /** Stops reading and closes the fd (daemon shutdown). */
  close(): void {
    if (this.id >= 0 && !this.closed) this.reader.remove(this.id);
    this.onEnd();
  }
}
