/**
 * udp://: one RFC 5424 message per datagram (RFC 5426). Lossy by nature:
 * nothing says a datagram arrived, so a batch counts as acknowledged once
 * sent. A message longer than a datagram can carry is cut. An ICMP "port
 * unreachable" (ECONNREFUSED on the connected socket) is taken as an outage,
 * so that the forwarder backs off instead of sending into the void.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { ForwardEntry } from '../entry.js';
import { formatRfc5424 } from '../rfc5424.js';
import { SendError, type Sender, type SenderOptions } from '../sender.js';
import { PendingSends } from './pending-sends.js';

/** The largest UDP payload over IPv4 (RFC 5426 section 3.2); IPv6 allows a little more, which we do not use. */
export const MAX_DATAGRAM = 65507;

export class UdpSender implements Sender {
  onFail?: (err: SendError) => void;
  readonly window = 4096;
  readonly maxBatch = 1024;
  private socket: dgram.Socket | undefined;
  private readonly pending = new PendingSends((err) => {
    this.onFail?.(err);
    try {
      this.socket?.close();
    } catch {
      // Closed already.
    }
  });

  constructor(private readonly opts: SenderOptions) {}

  open(): Promise<void> {
    const d = this.opts.destination;
    const socket = dgram.createSocket(net.isIPv6(d.host) ? 'udp6' : 'udp4');
    this.socket = socket;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => onError(new Error(`could not resolve ${d.host} within ${this.opts.connectTimeoutMs} ms`)), this.opts.connectTimeoutMs);
      const onError = (err: Error): void => {
        clearTimeout(timer);
        this.fail(new SendError(`cannot send to ${d.host}:${d.port}: ${err.message}`));
        reject(this.pending.failure);
      };
      socket.once('error', onError);
      socket.connect(d.port, d.host, () => {
        clearTimeout(timer);
        socket.off('error', onError);
        socket.on('error', (err) => this.fail(new SendError(`${d.host}:${d.port}: ${err.message}`)));
        resolve();
      });
    });
  }

  send(entries: ForwardEntry[]): Promise<void> {
    const socket = this.socket;
    if (!socket && !this.pending.failure) return Promise.reject(new SendError('not connected'));
    const messages = entries.map((e) => {
      const m = formatRfc5424(e, this.opts.message);
      return m.length > MAX_DATAGRAM ? m.subarray(0, MAX_DATAGRAM) : m;
    });
    if (messages.length === 0) return Promise.resolve();
    return this.pending.track((done) => {
      let left = messages.length;
      let over = false;
      const onSent = (err: Error | null): void => {
        if (over) return;
        if (err) {
          over = true;
          const failure = new SendError(`${this.opts.destination.host}:${this.opts.destination.port}: ${err.message}`);
          this.fail(failure);
          done(failure);
        } else if (--left === 0) {
          over = true;
          done();
        }
      };
      for (const m of messages) (socket as dgram.Socket).send(m, onSent);
    });
  }

  private fail(err: SendError): void {
    this.pending.fail(err);
  }

  close(): Promise<void> {
    this.destroy();
    return Promise.resolve();
  }

  destroy(): void {
    this.fail(new SendError('stopped'));
  }
}
