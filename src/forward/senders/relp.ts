/**
 * The relp:// and relp+tls:// transport: a RELP client session (librelp's
 * protocol, as rsyslog's imrelp speaks it). open() connects (TLS when asked),
 * sends `open` with our offers and waits for the server's 200; send() writes
 * one `syslog` frame per entry, all of a batch in one socket write (each
 * entry formatted straight into its frame when written), and
 * resolves when the server answered each with rsp 200. At most `window`
 * frames are unanswered: a batch that would pass it waits, written as the
 * answers come. Anything wrong (an answer other than 200, a frame that breaks
 * the grammar, the connection closing or failing, no answer for ackTimeoutMs)
 * rejects every pending send with a SendError and finishes the sender.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { ForwardEntry } from '../entry.js';
import { SendError, type Sender, type SenderOptions } from '../sender.js';
import { memlogVersion } from '../../version.js';
import { isCertificateError, tlsContextOptions } from './connect.js';
import { quickAcks } from './quick-ack.js';
import { encodeFrame, encodeSyslogFrames, nextTxnr, RelpFrameError, rspOffers, rspStatus, rspText, ServerFrameReader } from './relp-frames.js';

export interface RelpSenderOptions extends SenderOptions {
  /** Most syslog frames unanswered at once (default 1024). */
  window?: number;
  /** Most entries in one send() (default a quarter of the window, so that several batches are in flight). */
  maxBatch?: number;
  /** With frames unanswered, how long without an answer before the session is given up (default 30 s). */
  ackTimeoutMs?: number;
  /** Bound on close(): waiting for the last answers, then for the answer to RELP close (default 10 s). */
  closeTimeoutMs?: number;
}

export const DEFAULT_WINDOW = 1024;
const DEFAULT_ACK_TIMEOUT_MS = 30_000;
const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;


let softwareOffer: string | undefined;

/** relp_software's value: memlog,VERSION (the URL part is optional in RELP and we have none to give yet). */
function software(): string {
  const version = memlogVersion();
  softwareOffer ??= `memlog,${/^[\w.+-]{1,40}$/.test(version) ? version : 'unknown'}`;
  return softwareOffer;
}

interface Batch {
  /** The entries, until written (formatted then, straight into the frames, once their transaction numbers are known). */
  entries: readonly ForwardEntry[] | undefined;
  count: number;
  /** Frames of it written and not yet answered, plus those not written. */
  remaining: number;
  resolve: () => void;
  reject: (err: SendError) => void;
}

type Phase = 'new' | 'connecting' | 'handshake' | 'opening' | 'open' | 'closing' | 'closed' | 'failed';

export class RelpSender implements Sender {
  readonly window: number;
  readonly maxBatch: number;
  onReport?: (msg: string) => void;
  onFail?: (err: SendError) => void;

  private readonly url: string;
  private readonly ackTimeoutMs: number;
  private readonly closeTimeoutMs: number;
  private phase: Phase = 'new';
  private socket: net.Socket | undefined;
  private readonly reader: ServerFrameReader;
  private error: SendError | undefined;

  /** The transaction number of the next frame we write, and of the next answer we expect. */
  private txnr = 1;
  private expected = 1;
  /** Frames written and not answered (open and close included). */
  private unanswered = 0;
  /** Syslog frames written and not answered: the window's count. */
  private inFlight = 0;
  /** Batches sent and not settled, oldest first; those from `firstUnwritten` on are waiting for room. */
  private batches: Batch[] = [];
  private head = 0;
  private firstUnwritten = 0;

  private openTxnr = 0;
  private closeTxnr = 0;
  private opened: { resolve: () => void; reject: (err: SendError) => void } | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private ackTimer: NodeJS.Timeout | undefined;
  private lastProgress = 0;
  /** Called once when the session ends, whichever way (close() waits on it). */
  private ended: (() => void) | undefined;
  /** Called once no batch is pending any more, or the session failed (close() waits on it). */
  private drained: (() => void) | undefined;

  constructor(private readonly opts: RelpSenderOptions) {
    const scheme = opts.destination.scheme;
    if (scheme !== 'relp' && scheme !== 'relp+tls') throw new Error(`RelpSender: ${scheme}:// is not RELP`);
    this.window = opts.window ?? DEFAULT_WINDOW;
    if (!Number.isInteger(this.window) || this.window < 1) throw new RangeError('RelpSender: window must be a whole number of at least 1');
    this.maxBatch = opts.maxBatch ?? Math.max(1, Math.floor(this.window / 4));
    if (!Number.isInteger(this.maxBatch) || this.maxBatch < 1 || this.maxBatch > this.window) throw new RangeError('RelpSender: maxBatch must be 1 to window');
    this.ackTimeoutMs = opts.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS;
    this.closeTimeoutMs = opts.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    this.url = opts.destination.url;
    this.reader = new ServerFrameReader({
      rsp: (txnr, data, length) => this.onRsp(txnr, data, length),
      hint: (command) => this.onHint(command),
    });
  }

  open(): Promise<void> {
    if (this.phase !== 'new') return Promise.reject(new SendError(`${this.url}: RELP session already ${this.phase === 'failed' ? 'failed' : 'opened'}`));
    return new Promise<void>((resolve, reject) => {
      this.opened = { resolve, reject };
      this.phase = 'connecting';
      this.connectTimer = setTimeout(() => this.fail(new SendError(`${this.url}: ${this.phaseText()} took longer than ${this.opts.connectTimeoutMs / 1000} s`)), this.opts.connectTimeoutMs);
      try {
        this.connect();
      } catch (err) {
        this.fail(err instanceof SendError ? err : new SendError(`${this.url}: ${(err as Error).message}`));
      }
    });
  }

  private phaseText(): string {
    if (this.phase === 'connecting') return 'connecting';
    if (this.phase === 'handshake') return 'the TLS handshake';
    return 'the RELP open (no answer from the server)';
  }

  private connect(): void {
    const { host, port } = this.opts.destination;
    let socket: net.Socket;
    // The TCP connection first, TLS over it when asked: the TCP socket's fd gets the quick acks.
    const tcp = net.connect({ host, port });
    tcp.setNoDelay(true);
    if (this.opts.destination.scheme === 'relp+tls') {
      const t = this.opts.tls;
      if ((t.cert === undefined) !== (t.key === undefined)) throw new SendError(`${this.url}: a TLS client certificate needs its key, and a key its certificate`, true);
      socket = tls.connect({ socket: tcp, ...tlsContextOptions(t, host) });
      tcp.once('connect', () => {
        if (this.phase === 'connecting') this.phase = 'handshake';
      });
      socket.once('secureConnect', () => {
        if (t.insecure) this.onReport?.(`${this.url}: not verifying the server's TLS certificate (-tls-insecure)`);
        this.startSession();
      });
      // Errors of the TCP connection under TLS (refused, reset) are the TLS socket's too.
      tcp.on('error', (err: NodeJS.ErrnoException) => this.fail(this.socketError(err)));
    } else {
      socket = tcp;
      socket.once('connect', () => this.startSession());
    }
    quickAcks(socket, tcp);
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => this.fail(this.socketError(err)));
    socket.on('end', () => this.onServerGone('the server closed the connection'));
    socket.on('close', () => this.onServerGone('the connection closed'));
  }

  private socketError(err: NodeJS.ErrnoException): SendError {
    const code = err.code ?? '';
    if (isCertificateError(code)) {
      return new SendError(`${this.url}: the server's TLS certificate does not verify (${code}: ${err.message}); give the CA that signs it, or connect insecurely`, true);
    }
    if (code === 'ECONNREFUSED') return new SendError(`${this.url}: connection refused`);
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new SendError(`${this.url}: cannot resolve ${this.opts.destination.host} (${code})`);
    const during = this.phase === 'open' || this.phase === 'closing' ? '' : ` during ${this.phaseText()}`;
    return new SendError(`${this.url}: ${err.message.replace(/\s+/g, ' ')}${during}`);
  }

  private startSession(): void {
    if (this.phase !== 'connecting' && this.phase !== 'handshake') return;
    this.phase = 'opening';
    // Offers, one a line: we speak RELP version 0 (what librelp speaks) and want the syslog command.
    const offers = `relp_version=0\nrelp_software=${software()}\ncommands=syslog`;
    this.openTxnr = this.txnr;
    this.writeSingle(encodeFrame(this.openTxnr, 'open', offers));
  }

  /** One frame that is not a syslog one (open, close): counted as unanswered, not against the window. */
  private writeSingle(frame: Buffer): void {
    this.txnr = nextTxnr(this.txnr);
    this.unanswered++;
    this.armAckTimer();
    this.socket?.write(frame);
  }

  send(entries: ForwardEntry[]): Promise<void> {
    if (this.phase !== 'open') {
      const err = this.error ?? new SendError(`${this.url}: the RELP session is ${this.phase === 'new' ? 'not open yet' : this.phase === 'closing' ? 'closing' : 'over'}`);
      return Promise.reject(err);
    }
    if (entries.length > this.maxBatch) {
      return Promise.reject(new SendError(`${this.url}: ${entries.length} entries in one send, more than maxBatch (${this.maxBatch})`, true));
    }
    if (entries.length === 0 && this.head === this.batches.length) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.batches.push({ entries, count: entries.length, remaining: entries.length, resolve, reject });
      this.writeWaiting();
    });
  }

  /** Writes the waiting batches that fit in the window, in one socket write. */
  private writeWaiting(): void {
    let room = this.window - this.inFlight;
    let end = this.firstUnwritten;
    while (end < this.batches.length && this.batches[end].count <= room) {
      room -= this.batches[end].count;
      end++;
    }
    if (end === this.firstUnwritten) return;
    let entries: readonly ForwardEntry[];
    if (end - this.firstUnwritten === 1) {
      entries = this.batches[this.firstUnwritten].entries ?? [];
    } else {
      const all: ForwardEntry[] = [];
      for (let k = this.firstUnwritten; k < end; k++) for (const e of this.batches[k].entries ?? []) all.push(e);
      entries = all;
    }
    for (let k = this.firstUnwritten; k < end; k++) this.batches[k].entries = undefined;
    this.firstUnwritten = end;
    if (entries.length === 0) {
      this.settleEmpty();
      return;
    }
    const { frames, next } = encodeSyslogFrames(entries, this.opts.message, this.txnr);
    this.txnr = next;
    this.unanswered += entries.length;
    this.inFlight += entries.length;
    this.armAckTimer();
    this.socket?.write(frames);
  }

  /** Resolves the batches at the head that have nothing left unanswered (empty ones sent after settled ones). */
  private settleEmpty(): void {
    while (this.head < this.firstUnwritten && this.batches[this.head].remaining === 0) {
      const b = this.batches[this.head++];
      b.resolve();
    }
    if (this.head === this.batches.length) {
      this.batches = [];
      this.head = 0;
      this.firstUnwritten = 0;
      const drained = this.drained;
      this.drained = undefined;
      drained?.();
    } else if (this.head > 1024) {
      this.batches = this.batches.slice(this.head);
      this.firstUnwritten -= this.head;
      this.head = 0;
    }
  }

  private onData(chunk: Buffer): void {
    this.lastProgress = performance.now();
    try {
      this.reader.feed(chunk);
    } catch (err) {
      if (err instanceof RelpFrameError) this.fail(new SendError(`${this.url}: the server sent a malformed RELP frame: ${err.message}`));
      else if (err instanceof SendError) this.fail(err);
      else throw err;
      return;
    }
    if (this.phase === 'open' || this.phase === 'closing') {
      if (this.unanswered === 0) this.disarmAckTimer();
      this.writeWaiting();
    }
  }

  private onRsp(txnr: number, data: Buffer, length: number): void {
    if (this.phase === 'failed' || this.phase === 'closed') return;
    if (this.unanswered === 0) throw new SendError(`${this.url}: the server answered transaction ${txnr}, which we did not send`);
    if (txnr !== this.expected) throw new SendError(`${this.url}: the server answered transaction ${txnr} where ${this.expected} was next`);
    this.expected = nextTxnr(txnr);
    this.unanswered--;
    if (txnr === this.openTxnr && this.phase === 'opening') {
      this.onOpenAnswer(data, length);
      return;
    }
    if (txnr === this.closeTxnr && this.phase === 'closing' && this.inFlight === 0) {
      // librelp answers close with no data at all: any answer ends the session.
      this.end();
      return;
    }
    const status = rspStatus(data, length);
    if (status !== 200) {
      throw new SendError(
        status === -1
          ? `${this.url}: the server answered a message without a status`
          : `${this.url}: the server refused a message: ${status}${rspText(data, length) ? ` ${rspText(data, length)}` : ''}`,
      );
    }
    this.inFlight--;
    const b = this.batches[this.head];
    if (--b.remaining === 0) {
      this.head++;
      b.resolve();
      this.settleEmpty();
    }
  }

  private onOpenAnswer(data: Buffer, length: number): void {
    const status = rspStatus(data, length);
    if (status !== 200) {
      throw new SendError(`${this.url}: the server refused the RELP session: ${status === -1 ? 'no status' : status}${rspText(data, length) ? ` ${rspText(data, length)}` : ''}`);
    }
    const offers = rspOffers(data, length);
    if (!offers.has('relp_version')) throw new SendError(`${this.url}: the server's answer to RELP open has no relp_version`, true);
    const commands = (offers.get('commands') ?? '').split(',');
    if (!commands.includes('syslog')) throw new SendError(`${this.url}: the server does not accept RELP's syslog command (it offers: ${offers.get('commands') ?? 'none'})`, true);
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    this.disarmAckTimer();
    this.phase = 'open';
    const opened = this.opened;
    this.opened = undefined;
    opened?.resolve();
  }

  private onHint(command: string): void {
    if (command === 'serverclose') this.onServerGone('the server closed the RELP session (serverclose)');
    // Other hints are not defined; a hint needs no answer, so one we do not know is passed over.
  }

  /** The server ended the session: normal after our close, a failure otherwise. */
  private onServerGone(why: string): void {
    if (this.phase === 'closing' && this.inFlight === 0) {
      this.end();
      return;
    }
    this.fail(new SendError(`${this.url}: ${why}${this.inFlight > 0 ? ` with ${this.inFlight} messages unanswered` : ''}`));
  }

  private armAckTimer(): void {
    if (this.ackTimer !== undefined) return;
    this.lastProgress = performance.now();
    const check = (): void => {
      this.ackTimer = undefined;
      if (this.unanswered === 0 || this.phase === 'failed' || this.phase === 'closed') return;
      const idle = performance.now() - this.lastProgress;
      if (idle >= this.ackTimeoutMs) {
        this.fail(new SendError(`${this.url}: no answer from the server for ${this.ackTimeoutMs / 1000} s with ${this.unanswered} frames unanswered`));
        return;
      }
      this.ackTimer = setTimeout(check, this.ackTimeoutMs - idle + 1);
    };
    this.ackTimer = setTimeout(check, this.ackTimeoutMs);
  }

  private disarmAckTimer(): void {
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
  }

  /** Ends the session (failed or not): no socket, no timer left; settles what waits. */
  private teardown(): void {
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    this.disarmAckTimer();
    const s = this.socket;
    this.socket = undefined;
    s?.destroy();
    const ended = this.ended;
    this.ended = undefined;
    ended?.();
    const drained = this.drained;
    this.drained = undefined;
    drained?.();
  }

  private fail(err: SendError): void {
    if (this.phase === 'failed' || this.phase === 'closed') return;
    this.phase = 'failed';
    this.error = err;
    this.onFail?.(err);
    this.teardown();
    const opened = this.opened;
    this.opened = undefined;
    opened?.reject(err);
    const pending = this.batches.slice(this.head);
    this.batches = [];
    this.head = 0;
    this.firstUnwritten = 0;
    for (const b of pending) b.reject(err);
  }

  /** The session ended as it should (closed by us): nothing is pending. */
  private end(): void {
    if (this.phase === 'failed' || this.phase === 'closed') return;
    this.phase = 'closed';
    this.error = new SendError(`${this.url}: the RELP session is closed`);
    this.teardown();
  }

  async close(): Promise<void> {
    if (this.phase === 'failed' || this.phase === 'closed') return;
    if (this.phase !== 'open') {
      this.destroy();
      return;
    }
    this.phase = 'closing';
    const done = new Promise<void>((resolve) => (this.ended = resolve));
    const timer = setTimeout(() => {
      if (this.phase === 'closing') this.fail(new SendError(`${this.url}: the RELP session did not close within ${this.closeTimeoutMs / 1000} s`));
    }, this.closeTimeoutMs);
    try {
      // What was sent is answered first (or the session fails); then close, whose answer ends the session.
      if (this.head < this.batches.length) await new Promise<void>((resolve) => (this.drained = resolve));
      if (this.phase === 'closing') {
        this.closeTxnr = this.txnr;
        this.writeSingle(encodeFrame(this.closeTxnr, 'close', ''));
      }
      await done;
    } finally {
      clearTimeout(timer);
    }
  }

  destroy(): void {
    if (this.phase === 'failed' || this.phase === 'closed') {
      this.teardown();
      return;
    }
    this.fail(new SendError(`${this.url}: the RELP sender was stopped`));
  }
}

