/**
 * The log socket: senders hand over the read end of their output with
 * SCM_RIGHTS and name it in the datagram's payload (PROTOCOL.md section 1).
 * Everything in a datagram is untrusted: each fd is checked before it is read,
 * and anything refused is closed at once, with an entry saying why.
 */
import { closeQuietly } from '../fds.js';
import { DgramReceiver, DGRAM_FDS_TRUNCATED, DGRAM_NAME_TRUNCATED, fdInfo, type NativeSystemError, type Sender } from '../native.js';
import type { Ring } from '../ring/ring.js';
import type { Source } from '../ring/sources.js';
import { InputStream, unreadableReason } from './fd-stream.js';
import { LineSplitter } from './line-splitter.js';
import { BatchReader } from './batch-reader.js';
import { sourceName } from './source-name.js';
import { MAX_NAME_BYTES } from '../protocol/wire.js';
import type { RingInputOptions } from './input-options.js';

export interface LogSocketOptions extends RingInputOptions {
  /** Streams read at once; fds beyond are refused (closed, with an entry saying so). */
  maxStreams: number;
  /** Read a leading `<N>` of each line as its severity (-stream-priority-prefix). */
  priorityPrefix?: boolean;
  /**
   * The socket can receive nothing more (recvmsg failed for good: the fd is
   * no longer a working socket). The receiver has stopped; the streams
   * already open are still read.
   */
  onFailure(err: NativeSystemError): void;
}

export class LogSocket {
  private readonly receiver: DgramReceiver;
  /** The open streams, each with its source. */
  readonly streams = new Map<InputStream, Source>();
  /**
   * The open streams by the identity of the open file ("dev:ino"): one pipe
   * handed over twice (a datagram still queued for a daemon that died, and
   * the init handing every stream again to its successor) is read once, or
   * its lines would be split between two readers.
   */
  private readonly identities = new Map<string, string>();
  readonly reader: BatchReader;
  /** Streams accepted since start, datagrams or fds refused, and fds of streams read already. */
  accepted = 0;
  refused = 0;
  duplicates = 0;

  constructor(
    fd: number,
    private readonly ring: Ring,
    private readonly opts: LogSocketOptions,
  ) {
    this.reader = new BatchReader(ring, () => opts.onData());
    this.receiver = new DgramReceiver(fd, MAX_NAME_BYTES, (payload, fds, flags, sender) => this.onDatagram(payload, fds, flags, sender), {
      onError: (err) => opts.onFailure(err),
    });
  }

  private onDatagram(payload: Buffer, fds: number[], flags: number, sender?: Sender): void {
    const { name, problem } = sourceName(payload, (flags & DGRAM_NAME_TRUNCATED) !== 0);
    if (flags & DGRAM_FDS_TRUNCATED) {
      this.refused++;
      this.opts.log(
        `refused a datagram for "${name}": its fds could not all be received (more than fit in one message, or memlogd is out of file descriptors); all that arrived were closed`,
      );
      return;
    }
    if (fds.length === 0) {
      this.refused++;
      this.opts.log(`ignored a datagram for "${name}" that carried no fd`);
      return;
    }
    if (problem) this.opts.log(problem);
    for (const fd of fds) this.accept(fd, name, sender);
  }

  private accept(fd: number, name: string, sender?: Sender): void {
    if (this.streams.size >= this.opts.maxStreams) {
      this.refused++;
      closeQuietly(fd);
      this.opts.log(`refused an fd for "${name}": ${this.opts.maxStreams} streams are open already (-max-streams)`);
      return;
    }
    let reason: string | undefined;
    let info;
    let identity = '';
    try {
      info = fdInfo(fd);
      reason = unreadableReason(info);
      identity = `${info.dev}:${info.ino}`;
    } catch (err) {
      reason = `it cannot be inspected (${(err as Error).message})`;
    }
    if (reason !== undefined || !info) {
      this.refused++;
      closeQuietly(fd);
      this.opts.log(`refused an fd for "${name}": ${reason}`);
      return;
    }
    const readAs = this.identities.get(identity);
    if (readAs !== undefined) {
      this.duplicates++;
      closeQuietly(fd);
      this.opts.log(`closed an fd for "${name}": memlogd reads that stream already (as "${readAs}")`);
      return;
    }
    const source = this.ring.sources.acquire(name, sender);
    const limit = this.opts.limiter?.acquire(source);
    const splitter = new LineSplitter(this.ring, source.id, this.opts.maxLineLen, { limit, priorityPrefix: this.opts.priorityPrefix });
    try {
      const events = {
        onData: this.opts.onData,
        onClose: (s: InputStream, error?: Error) => {
          this.streams.delete(s);
          this.identities.delete(identity);
          this.ring.sources.release(source.id);
          if (limit) this.opts.limiter?.release(limit);
          if (error) this.opts.log(`stream "${name}" ended with an error: ${error.message}`);
        },
      };
      const stream = new InputStream(fd, info, splitter, events, this.reader);
      this.streams.set(stream, source);
      this.identities.set(identity, name);
      this.accepted++;
    } catch (err) {
      this.ring.sources.release(source.id);
      if (limit) this.opts.limiter?.release(limit);
      this.refused++;
      closeQuietly(fd);
      this.opts.log(`refused an fd for "${name}": ${(err as Error).message}`);
    }
  }

  /** The open streams, for a status request: name, sender, bytes and lines so far. */
  describeStreams(): Record<string, unknown>[] {
    return [...this.streams].map(([stream, source]) => {
      return {
        source: source.name,
        ...(source.sender ?? {}),
        bytes: stream.bytes,
        lines: stream.splitter.lines,
        truncated: stream.splitter.truncated,
        ...(stream.splitter.suppressed > 0 ? { suppressed: stream.splitter.suppressed } : {}),
      };
    });
  }

  close(): void {
    this.receiver.close();
    for (const stream of [...this.streams.keys()]) stream.close();
    this.reader.close();
  }
}
