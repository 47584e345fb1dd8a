/**
 * One received fd, read until EOF into the ring.
 *
 * Pipes, FIFOs and stream sockets go to libuv as non-blocking pipe handles,
 * read straight into one buffer shared by all streams (each read is cut into
 * lines and copied into the ring before the next, so nothing is allocated per
 * read). Each stream reads at most one buffer per event-loop turn, then waits
 * for the next turn (see turns.ts). Regular files cannot be polled; they are read on the thread pool, which
 * never blocks for a file.
 */
import fs from 'node:fs';
import net from 'node:net';
import type { FdInfo } from '../native.js';
import { clock } from '../entry/clock.js';
import type { LineSplitter } from './line-splitter.js';
import { READ_SIZE, type InputTurns } from './turns.js';

const sharedReadBuffer = Buffer.allocUnsafeSlow(READ_SIZE);

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
  /** New entries are in the ring (called once per read, not per line). */
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
    turns: InputTurns,
  ) {
    if (info.kind === 'file') {
      const file = fs.createReadStream('', { fd, autoClose: true, highWaterMark: READ_SIZE });
      file.on('data', (chunk: Buffer | string) => this.onRead(chunk as Buffer));
      this.reader = file;
    } else {
      let lastTurn = -1;
      // onread is honoured by the constructor as by connect(); @types/node only lists it for connect().
      const opts: net.SocketConstructorOpts & { onread: net.OnReadOpts } = {
        fd,
        readable: true,
        writable: false,
        allowHalfOpen: false,
        onread: {
          buffer: sharedReadBuffer,
          callback: (n: number, buf: Uint8Array): boolean => {
            this.onRead(buf.subarray(0, n));
            // A short read emptied the stream: stay armed (libuv's next read just finds EAGAIN),
            // unless it has read on this turn already (libuv tries again at once, and a fast
            // writer may have refilled it). A full read may have more behind it. Either way,
            // one read per stream per turn, and none while a follower is being waited for.
            if (n < READ_SIZE && lastTurn !== turns.turn && !turns.holding) {
              lastTurn = turns.turn;
              return true;
            }
            turns.wait(socket);
            return false;
          },
        },
      };
      const socket = new net.Socket(opts);
      this.reader = socket;
    }
    this.reader.on('end', () => this.finish());
    this.reader.on('error', (err: Error) => this.finish(err));
    this.reader.on('close', () => this.finish());
  }

  private onRead(chunk: Uint8Array): void {
    clock.read();
    this.bytes += chunk.length;
    this.splitter.push(chunk, clock.sec, clock.nsec);
    this.events.onData();
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
