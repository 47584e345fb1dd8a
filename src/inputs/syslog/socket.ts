/**
 * The syslog sockets (`-socket-syslog`, `-syslog-stream`): /dev/log into the
 * ring, one entry per message.
 *
 * The datagram socket is the /dev/log convention (what syslog(3) and
 * `logger` write to). It is read by the addon's datagram receiver, which
 * gets each datagram's sender from the kernel (SO_PASSCRED); payloads up to
 * 64 KiB. The stream socket is a second path: one path cannot be both a
 * datagram and a stream socket, and a client that tries one kind on a path of
 * the other gets EPROTOTYPE. Its peer is known from SO_PEERCRED; its messages
 * are framed as RFC 6587 says (framing.ts).
 *
 * All of it is untrusted: fds passed along with a datagram are closed and
 * counted, empty datagrams are counted and dropped, every other payload
 * becomes an entry, whatever its bytes. Refusals are counted (status) and
 * said in a memlogd entry at most once per kind every 10 s.
 */
import net from 'node:net';
import { clock } from '../../entry/clock.js';
import {
  DgramBatchReceiver,
  DGRAM_BATCH_FDS_CLOSED,
  DGRAM_BATCH_FIELDS,
  DGRAM_BATCH_FLAGS,
  DGRAM_BATCH_GID,
  DGRAM_BATCH_LENGTH,
  DGRAM_BATCH_OFFSET,
  DGRAM_BATCH_PID,
  DGRAM_BATCH_UID,
  DGRAM_FDS_TRUNCATED,
  DGRAM_NAME_TRUNCATED,
  DGRAM_SENDER_KNOWN,
  peerCred,
  type NativeSystemError,
  type Sender,
} from '../../native.js';
import type { Ring } from '../../ring/ring.js';
import type { RingInputOptions } from '../input-options.js';
import { appendSyslog, type Transport } from './entry.js';
import { SyslogFramer } from './framing.js';
import { parseSyslog } from './parse.js';

/** Longest datagram or framed message read; the message kept is cut to -max-line-len. */
export const MAX_SYSLOG_MESSAGE = 65536;
const REFUSAL_LOG_MS = 10_000;
/** Datagrams read per batch (recvmmsg): a 4 MiB buffer, one 64 KiB slot each. */
const BATCH_SLOTS = 64;

export interface SyslogOptions extends RingInputOptions {
  /** Stream connections at once; more are closed at once (and counted). */
  maxConnections: number;
  /** The datagram socket failed for good. */
  onFailure(err: NativeSystemError): void;
}

type Refusal = 'empty' | 'fds' | 'framing' | 'connections';

const REFUSAL_TEXT: Record<Refusal, string> = {
  empty: 'an empty syslog datagram (nothing to log)',
  fds: 'fds passed with a syslog datagram (closed; the message was kept)',
  framing: 'a syslog stream connection closed: its framing could not be followed',
  connections: 'a syslog stream connection refused: too many open',
};

export class SyslogInput {
  private receiver: DgramBatchReceiver | undefined;
  private readonly batchMeta = new Uint32Array(BATCH_SLOTS * DGRAM_BATCH_FIELDS);
  /** The last datagram's sender, reused while the next one's is the same (a sender sends many). */
  private lastSender: Sender | undefined;
  private server: net.Server | undefined;
  private readonly connections = new Set<net.Socket>();
  /** Messages taken into the ring, and dropped by the rate limit, by transport. */
  readonly received = { datagrams: 0, streamMessages: 0, suppressed: 0, truncated: 0, fdsClosed: 0, connectionsAccepted: 0 };
  readonly refused: Record<Refusal, number> = { empty: 0, fds: 0, framing: 0, connections: 0 };
  private readonly loggedAt: Record<Refusal, number> = { empty: -Infinity, fds: -Infinity, framing: -Infinity, connections: -Infinity };
  private readonly unlogged: Record<Refusal, number> = { empty: 0, fds: 0, framing: 0, connections: 0 };

  constructor(
    private readonly ring: Ring,
    private readonly opts: SyslogOptions,
  ) {}

  /** Starts reading a bound SOCK_DGRAM fd (it becomes the receiver's). */
  listenDatagrams(fd: number): void {
    const buf = Buffer.allocUnsafeSlow(BATCH_SLOTS * MAX_SYSLOG_MESSAGE);
    this.receiver = new DgramBatchReceiver(fd, buf, this.batchMeta, (count) => this.onBatch(buf, count), {
      onError: (err) => this.opts.onFailure(err),
    });
  }

  /** Starts accepting on a listening SOCK_STREAM fd. */
  async listenStreams(fd: number): Promise<void> {
    const server = net.createServer((socket) => this.onConnection(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ fd }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
  }

  /** A batch of datagrams, all stamped with one receipt time. */
  private onBatch(buf: Buffer, count: number): void {
    const meta = this.batchMeta;
    clock.read();
    const sec = clock.sec;
    const nsec = clock.nsec;
    for (let i = 0, m = 0; i < count; i++, m += DGRAM_BATCH_FIELDS) {
      const flags = meta[m + DGRAM_BATCH_FLAGS];
      const fdsClosed = meta[m + DGRAM_BATCH_FDS_CLOSED];
      if (fdsClosed > 0 || flags & DGRAM_FDS_TRUNCATED) {
        this.received.fdsClosed += fdsClosed;
        this.refuse('fds');
      }
      const len = meta[m + DGRAM_BATCH_LENGTH];
      if (len === 0) {
        this.refuse('empty');
        continue;
      }
      if (flags & DGRAM_NAME_TRUNCATED) this.received.truncated++;
      this.received.datagrams++;
      const start = meta[m + DGRAM_BATCH_OFFSET];
      this.take(buf, start, start + len, 'syslog', flags & DGRAM_SENDER_KNOWN ? this.sender(meta, m) : undefined, sec, nsec);
    }
    if (count > 0) this.opts.onData();
  }

  private sender(meta: Uint32Array, m: number): Sender {
    const pid = meta[m + DGRAM_BATCH_PID];
    const uid = meta[m + DGRAM_BATCH_UID];
    const gid = meta[m + DGRAM_BATCH_GID];
    const last = this.lastSender;
    if (last !== undefined && last[0] === pid && last[1] === uid && last[2] === gid) return last;
    return (this.lastSender = [pid, uid, gid]);
  }

  private take(buf: Uint8Array, start: number, end: number, transport: Transport, sender: Sender | undefined, sec: number, nsec: number): void {
    const msg = parseSyslog(buf, start, end);
    if (!appendSyslog(this.ring, buf, msg, transport, sender, sec, nsec, this.opts.maxLineLen, this.opts.limiter)) this.received.suppressed++;
  }

  private onConnection(socket: net.Socket): void {
    socket.on('error', () => socket.destroy());
    if (this.connections.size >= this.opts.maxConnections) {
      this.refuse('connections');
      socket.destroy();
      return;
    }
    this.connections.add(socket);
    socket.once('close', () => this.connections.delete(socket));
    this.received.connectionsAccepted++;
    let sender: Sender | undefined;
    // Node keeps the accepted socket's fd on its handle, which is not typed: read it for SO_PEERCRED alone.
    const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (typeof fd === 'number' && fd >= 0) {
      try {
        sender = peerCred(fd);
      } catch {
        // Not known: the entries say no sender.
      }
    }
    const framer = new SyslogFramer(MAX_SYSLOG_MESSAGE, (buf, start, end) => {
      if (end === start) return; // a blank line between messages
      this.received.streamMessages++;
      this.take(buf, start, end, 'syslog-stream', sender, clock.sec, clock.nsec);
    });
    socket.on('data', (chunk: Buffer) => {
      clock.read();
      const before = framer.truncated;
      const ok = framer.push(chunk);
      this.received.truncated += framer.truncated - before;
      this.opts.onData();
      if (!ok) {
        this.refuse('framing', framer.error);
        socket.destroy();
      }
    });
    socket.on('end', () => {
      clock.read();
      framer.end();
      this.opts.onData();
      socket.end();
    });
  }

  private refuse(kind: Refusal, detail?: string): void {
    this.refused[kind]++;
    clock.read();
    const now = clock.sec * 1000 + clock.nsec / 1e6;
    if (now - this.loggedAt[kind] < REFUSAL_LOG_MS) {
      this.unlogged[kind]++;
      return;
    }
    const more = this.unlogged[kind];
    this.loggedAt[kind] = now;
    this.unlogged[kind] = 0;
    this.opts.log(`${REFUSAL_TEXT[kind]}${detail ? `: ${detail}` : ''}${more > 0 ? ` (and ${more} more of these since the last such entry)` : ''}`);
  }

  describe(): Record<string, unknown> {
    return { ...this.received, connections: this.connections.size, refused: { ...this.refused } };
  }

  close(): void {
    this.receiver?.close();
    this.server?.close();
    for (const socket of this.connections) socket.destroy();
  }
}
