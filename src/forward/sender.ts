/**
 * What the forwarder asks of a destination's transport (tcp, tls, relp, udp,
 * otlp). The forwarder owns the cursor and the reading from memlogd; a sender
 * only encodes, sends and says when the destination has acknowledged.
 *
 * Life of a sender: open() once; then send() any number of batches, never
 * more than `window` entries unacknowledged at a time; each send's promise
 * resolves once the destination acknowledged the whole batch (RELP rsp 200,
 * an OTLP 2xx, for tcp/tls once the bytes were written to the socket, for
 * udp once sent). Promises resolve in the order the batches were sent. When
 * the connection fails, every pending promise rejects with a SendError and
 * the sender is finished: the forwarder destroys it, waits, makes a new one
 * and sends again everything after its cursor. destroy() may come at any
 * time (kill, shutdown) and must leave no socket, timer or fd behind.
 */
import type { ForwardEntry } from './entry.js';
import type { Destination } from './destination.js';
import type { MessageOptions } from './message-options.js';

export class SendError extends Error {
  constructor(
    message: string,
    /**
     * Retrying cannot help (OTLP 400, a certificate that fails verification
     * with the same CA...): the forwarder says so and still retries, slowly,
     * since the receiver's side may change.
     */
    readonly permanent = false,
    /** The receiver asked for this wait before the next try (OTLP Retry-After), in ms. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

export interface Sender {
  /** Most entries unacknowledged at once (RELP's window, an OTLP request's size times requests in flight...). */
  readonly window: number;
  /** Most entries in one send() (an OTLP request, a run of RELP frames, a write). */
  readonly maxBatch: number;
  /** Connects (TLS handshake, RELP open, ...); rejects with a SendError saying why in one line. */
  open(): Promise<void>;
  /** Sends entries; resolves when the destination acknowledged all of them; rejects with a SendError. */
  send(entries: ForwardEntry[]): Promise<void>;
  /**
   * Things the destination reported that are not failures of the batch, to be
   * told to the user (OTLP partial_success rejections). Set by the forwarder.
   */
  onReport?: (msg: string) => void;
  /**
   * Called once when the connection fails while nothing may be pending (the
   * receiver went away between batches), so that the forwarder reconnects
   * now rather than at the next entry. Set by the forwarder; senders without
   * a standing connection (OTLP) never call it.
   */
  onFail?: (err: SendError) => void;
  /** Ends the session politely (RELP close) once what was sent is acknowledged; bounded in time. */
  close(): Promise<void>;
  /** Drops the connection at once; pending sends reject. */
  destroy(): void;
}

/** The TLS flags of the command line, for tls://, relp+tls:// and otlps:// destinations. */
export interface TlsOptions {
  /** PEM file of the CA(s) that sign the server's certificate (default: the system's). */
  ca?: string;
  /** PEM files of our client certificate and key, for servers that ask for one. */
  cert?: string;
  key?: string;
  /** Name to verify in the server's certificate (default: the URL's host). */
  servername?: string;
  /** Do not verify the server's certificate (says so when connecting). */
  insecure?: boolean;
}

export interface SenderOptions {
  destination: Destination;
  message: MessageOptions;
  tls: TlsOptions;
  /** Bound on connecting (and on a RELP open / TLS handshake), in ms. */
  connectTimeoutMs: number;
  /** RELP only: entries unacknowledged at once (-relp-window; the sender's default when undefined). */
  relpWindow?: number;
}
