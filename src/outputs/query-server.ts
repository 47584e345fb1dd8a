/**
 * The query socket (PROTOCOL.md section 2): accepting connections and turning
 * requests into readers; delivery.ts sends them their entries. A client sends
 * one mode byte, 0 = dump, 1 = follow, 2 = dump then follow, and gets JSON
 * lines; or, our extensions, 3 = resume after a sequence number, and gets a
 * hello line first, and 4 = status (see src/protocol/wire.ts), and 5 = filtered
 * dump or follow (src/protocol/filter-request.ts, served by filtered-reader.ts).
 */
import net from 'node:net';
import type { Ring } from '../ring/ring.js';
import { FOREVER, Reader } from './reader.js';
import { answerAndClose, refuse } from './connection-end.js';
import { FilteredReader } from './filtered-reader.js';
import { Delivery, type DeliveryOptions } from './delivery.js';
import { MODE_FILTER } from '../protocol/filter-request.js';
import {
  encodeHello,
  encodeStatus,
  FILTER_PROTOCOL_VERSION,
  MODE_DUMP,
  MODE_DUMP_FOLLOW,
  MODE_FOLLOW,
  MODE_RESUME,
  MODE_STATUS,
  PROTOCOL_VERSION,
  RequestError,
  RequestParser,
  type DaemonFacts,
  type QueryRequest,
} from '../protocol/wire.js';

export { MAX_QUEUED_PER_READER, STALL_MS } from './delivery.js';

export interface QueryServerOptions extends DeliveryOptions {
  /** Query connections open at once; more are answered with an error entry and closed. */
  maxClients: number;
  /** How long a client may take to send its mode byte. */
  modeTimeoutMs?: number;
  log(msg: string): void;
  /** This daemon's id, for resuming clients to tell a restart. */
  daemonId: string;
  /** What a status request (mode 4) is told (the server adds its own counts). */
  status(): DaemonFacts;
}

export class QueryServer {
  private readonly delivery: Delivery;
  /** Every open connection, refused ones and ones without a request yet included: all count against -max-clients. */
  private readonly sockets = new Set<net.Socket>();

  constructor(
    readonly server: net.Server,
    private readonly ring: Ring,
    private readonly opts: QueryServerOptions,
  ) {
    this.delivery = new Delivery(ring, opts);
    server.on('connection', (socket) => this.onConnection(socket));
    // Accept failures (EMFILE, ENFILE) must not take the daemon down: say so and keep serving.
    server.on('error', (err) => this.opts.log(`query socket: ${err.message}`));
  }

  /** The readers being served (requests answered, connections open). */
  get readers(): Set<Reader> {
    return this.delivery.readers;
  }

  /** Entries lost by all readers since start. */
  get lost(): number {
    return this.delivery.lost;
  }

  /** New entries are in the ring (see Delivery.notify). */
  notify(): void {
    this.delivery.notify();
  }

  /** Whether the inputs should hold a moment for a follower that is draining (see Delivery.wantsHold). */
  wantsHold(): boolean {
    return this.delivery.wantsHold();
  }

  private onConnection(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    // Every open connection counts, answered or not, this one included.
    if (this.sockets.size > this.opts.maxClients) {
      const msg = `too many query clients (${this.opts.maxClients} are connected; -max-clients)`;
      this.opts.log(`refused a query client: ${msg}`);
      refuse(socket, this.opts.ownLine(`error: ${msg}`));
      return;
    }
    socket.setTimeout(this.opts.modeTimeoutMs ?? 10_000, () => {
      this.opts.log('closed a query client that sent no complete request within its time');
      socket.destroy();
    });
    // A client that hangs up before its request is complete is gone: its fd goes at once.
    const onEnd = (): void => void socket.destroy();
    socket.once('end', onEnd);
    const parser = new RequestParser();
    const onData = (data: Buffer): void => {
      let request: QueryRequest | undefined;
      try {
        request = parser.push(data);
      } catch (err) {
        // A request the parser did not foresee is still only that client's problem: refused, not a crash.
        const msg = err instanceof RequestError ? err.message : `cannot read the request (${(err as Error).message})`;
        this.opts.log(`refused a query client: ${msg}`);
        socket.off('data', onData);
        socket.setTimeout(0);
        answerAndClose(socket, this.opts.ownLine(`error: ${msg}`));
        return;
      }
      if (!request) return;
      socket.setTimeout(0);
      socket.off('data', onData);
      socket.off('end', onEnd);
      // Whatever else the client sends is ignored, but reading goes on so that its hang-up is seen.
      socket.on('data', () => {});
      this.start(socket, request);
    };
    socket.on('data', onData);
  }

  private start(socket: net.Socket, request: QueryRequest): void {
    const ring = this.ring;
    let reader: Reader;
    switch (request.mode) {
      case MODE_DUMP:
        reader = new Reader(socket, ring.first, ring.next);
        break;
      case MODE_FOLLOW:
        reader = new Reader(socket, ring.next, FOREVER);
        break;
      case MODE_DUMP_FOLLOW:
        reader = new Reader(socket, ring.first, FOREVER);
        break;
      case MODE_STATUS:
        answerAndClose(socket, encodeStatus({ ...this.opts.status(), queryClients: this.sockets.size, readersLost: this.delivery.lost }));
        return;
      case MODE_RESUME: {
        const start = this.resumeStart(request.daemon, request.after);
        socket.write(encodeHello({ protocol: PROTOCOL_VERSION, daemon: this.opts.daemonId, first: ring.first, next: ring.next, start }));
        reader = new Reader(socket, start, FOREVER);
        break;
      }
      case MODE_FILTER: {
        const r = request.request;
        // Resuming as mode 3 does; else a follower without `last` starts at the newest, the others at the oldest.
        const resuming = r.daemon !== undefined || r.after !== undefined;
        const start = resuming ? this.resumeStart(r.daemon, r.after) : r.mode === MODE_FOLLOW && r.last === undefined ? ring.next : ring.first;
        const hello = { protocol: FILTER_PROTOCOL_VERSION, daemon: this.opts.daemonId, first: ring.first, next: ring.next, start, filter: true };
        socket.write(encodeHello(hello));
        reader = new FilteredReader(socket, ring, r, start);
        break;
      }
    }
    this.delivery.add(reader);
    // A follower whose client shuts its side has left (on a Unix socket a hang-up looks the same
    // until something is written). A dump goes on to its end, for a client that sent its mode
    // byte and shut its side (`printf '\0' | nc -U -N`), then the connection closes.
    if (reader.following) socket.once('end', () => socket.destroy());
  }

  /**
   * Where a resuming reader starts. Sequence numbers only mean something within one daemon's life: a client that
   * knew another daemon wants all of this one's, from its first entry (and a marker if some are gone); a client
   * that knew none wants what there is.
   */
  private resumeStart(daemon: string | undefined, after: number | undefined): number {
    const ring = this.ring;
    const same = daemon === this.opts.daemonId && after !== undefined;
    const wanted = same ? (after as number) + 1 : daemon !== undefined ? 0 : ring.first;
    return Math.min(wanted, ring.next);
  }

  close(): void {
    this.server.close();
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    this.delivery.readers.clear();
  }
}
