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

/** The largest UDP payload over IPv4 (RFC 5426 section 3.2); IPv6 allows a little more, which we do not use. */
export const MAX_DATAGRAM = 65507;

export class UdpSender implements Sender {
  onFail?: (err: SendError) => void;
  readonly window = 4096;
  readonly maxBatch = 1024;
  private socket: dgram.Socket | undefined;
  private failure: SendError | undefined;
  private readonly waiting = new Set<(err: SendError) => void>();

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
        reject(this.failure);
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
    if (this.failure) return Promise.reject(this.failure);
    const socket = this.socket;
    if (!socket) return Promise.reject(new SendError('not connected'));
    const messages = entries.map((e) => {
      const m = formatRfc5424(e, this.opts.message);
      return m.length > MAX_DATAGRAM ? m.subarray(0, MAX_DATAGRAM) : m;
    });
    if (messages.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiting.add(reject);
      let left = messages.length;
      let done = false;
      const onSent = (err: Error | null): void => {
        if (done) return;
        if (err) {
          done = true;
          this.waiting.delete(reject);
          this.fail(new SendError(`${this.opts.destination.host}:${this.opts.destination.port}: ${err.message}`));
          reject(this.failure);
          return;
        }
        if (--left === 0) {
          done = true;
          this.waiting.delete(reject);
          resolve();
        }
      };
      for (const m of messages) socket.send(m, onSent);
    });
  }

  private fail(err: SendError): void {
    if (this.failure) return;
    this.failure = err;
    this.onFail?.(err);
    for (const reject of this.waiting) reject(err);
    this.waiting.clear();
    try {
      this.socket?.close();
    } catch {
      // Closed already.
    }
  }

  close(): Promise<void> {
    this.destroy();
    return Promise.resolve();
  }

  destroy(): void {
    this.fail(new SendError('stopped'));
  }
}
