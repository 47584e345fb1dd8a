/**
 * One received fd, read until EOF into the ring.
 *
 * Pipes, FIFOs and stream sockets go to libuv as non-blocking pipe handles:
 * the event loop polls them all and each wake-up reads up to 64 KiB, so many
 * lines cost one callback. Regular files cannot be polled; they are read on
 * the thread pool, which never blocks for a file.
 */
import fs from 'node:fs';
import net from 'node:net';
import type { FdInfo } from '../native.js';
import { clock } from '../entry/clock.js';
import type { LineSplitter } from './line-splitter.js';

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
  /** New entries are in the ring (called once per chunk read, not per line). */
  onData(): void;
  /** The stream ended or failed; error is set when it failed. The fd is closed. */
  onClose(stream: InputStream, error?: Error): void;
}

export class InputStream {
  private readonly reader: net.Socket | fs.ReadStream;
  private closed = false;
  bytes = 0;

  constructor(
    fd: number,
    info: FdInfo,
    private readonly splitter: LineSplitter,
    private readonly events: InputStreamEvents,
  ) {
    if (info.kind === 'file') {
      this.reader = fs.createReadStream('', { fd, autoClose: true, highWaterMark: 64 * 1024 });
    } else {
      this.reader = new net.Socket({ fd, readable: true, writable: false, allowHalfOpen: false });
    }
    this.reader.on('data', (chunk: Buffer) => {
      clock.read();
      this.bytes += chunk.length;
      this.splitter.push(chunk, clock.sec, clock.nsec);
      this.events.onData();
    });
    this.reader.on('end', () => this.finish());
    this.reader.on('error', (err: Error) => this.finish(err));
    this.reader.on('close', () => this.finish());
  }

  private finish(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    clock.read();
    this.splitter.end(clock.sec, clock.nsec);
    this.reader.destroy();
    this.events.onData();
    this.events.onClose(this, error);
  }

  /** Stops reading and closes the fd (daemon shutdown). */
  close(): void {
    this.finish();
  }
}
