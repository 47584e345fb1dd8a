/**
 * tcp:// and tls://: RFC 5424 messages with RFC 6587 octet-counted framing,
 * the transport of RFC 5425 over TLS. Neither says what the receiver got, so
 * a batch counts as acknowledged once its bytes were handed to the kernel
 * (the write's callback): what sat in the socket buffers when the receiver
 * died, or was cut off, is lost (README: "What tcp and tls can lose").
 */
import type net from 'node:net';
import type { ForwardEntry } from '../entry.js';
import { formatOctetCounted } from '../rfc5424.js';
import { SendError, type Sender, type SenderOptions } from '../sender.js';
import { connectStream } from './connect.js';
import { PendingSends } from './pending-sends.js';

export class SyslogStreamSender implements Sender {
  onFail?: (err: SendError) => void;
  readonly window = 64 * 1024;
  readonly maxBatch = 4096;
  private socket: net.Socket | undefined;
  private readonly pending = new PendingSends((err) => {
    this.onFail?.(err);
    this.socket?.destroy();
  });

  constructor(private readonly opts: SenderOptions) {}

  async open(): Promise<void> {
    const d = this.opts.destination;
    const socket = await connectStream(d.host, d.port, d.scheme === 'tls' ? this.opts.tls : undefined, this.opts.connectTimeoutMs);
    this.socket = socket;
    // A receiver that closes its side has stopped reading: what is written after that is lost, so stop at once.
    socket.on('end', () => this.fail(new SendError(`${d.host}:${d.port} closed the connection`)));
    socket.on('error', (err) => this.fail(new SendError(`${d.host}:${d.port}: ${err.message}`)));
    socket.on('close', () => this.fail(new SendError(`${d.host}:${d.port} closed the connection`)));
    // Whatever a syslog receiver sends back is not ours to read; reading it keeps the socket from filling.
    socket.on('data', () => undefined);
  }

  send(entries: ForwardEntry[]): Promise<void> {
    const socket = this.socket;
    if (!socket && !this.pending.failure) return Promise.reject(new SendError('not connected'));
    return this.pending.track((done) => {
      (socket as net.Socket).write(formatOctetCounted(entries, this.opts.message), (err) => done(err ? new SendError(err.message) : undefined));
    });
  }

  private fail(err: SendError): void {
    this.pending.fail(err);
  }

  close(): Promise<void> {
    const socket = this.socket;
    if (!socket || socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        socket.destroy();
        resolve();
      }, 2000);
      socket.end(() => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  destroy(): void {
    this.fail(new SendError('stopped'));
  }
}
