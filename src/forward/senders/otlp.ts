/**
 * The OTLP/HTTP transport: otlp:// (plain HTTP) and otlps:// (HTTPS), each
 * batch POSTed as OTLP/JSON to the destination's path, over a keep-alive
 * agent with at most two requests in flight.
 *
 * A 2xx acknowledges the batch. A 400 says the batch can never succeed: OTLP
 * forbids retrying it, so its records are dropped, the user is told through
 * onReport, and the send resolves (the forwarder's cursor moves past them).
 * 429/408/5xx reject with a retryable SendError (with Retry-After); other
 * 4xx and 3xx say the destination is wrong, not the batch, and reject with a
 * permanent one, so nothing is dropped while someone fixes it.
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { ForwardEntry } from '../entry.js';
import { otlpLogRecord, otlpLogsRequest } from '../otlp-encode.js';
import { interpretAnswer, type HttpAnswer } from '../otlp-response.js';
import { isCertificateError } from './connect.js';
import { SendError, type Sender, type SenderOptions } from '../sender.js';

export const OTLP_MAX_BATCH = 2048;
/** Requests in flight at once: the window is this many batches. */
export const OTLP_IN_FLIGHT = 2;
/** Bound on one request's body; a bigger batch goes as several requests. */
export const OTLP_MAX_BODY_BYTES = 4 * 1024 * 1024;
export const OTLP_REQUEST_TIMEOUT_MS = 30_000;
/** Most of a response body read: the receiver is not trusted. */
export const OTLP_MAX_RESPONSE_BYTES = 64 * 1024;
/** A kept-alive connection idle this long is closed by us, before a server's own idle timeout (Node's is 5 s) races a request. */
const IDLE_SOCKET_MS = 4_000;
/** How long close() waits for what is in flight. */
const CLOSE_WAIT_MS = 5_000;
/** Room for the request's wrapping (resource, scope) around the records. */
const REQUEST_OVERHEAD = 64 * 1024;

export interface OtlpTuning {
  /** memlog's version: the instrumentation scope's version. */
  version?: string;
  maxBatch?: number;
  maxBodyBytes?: number;
  requestTimeoutMs?: number;
}


/** A failure to connect or talk, as one line naming the destination. */
export function describeNetError(err: unknown, url: string, host: string, port: number): SendError {
  if (err instanceof SendError) return err;
  const e = err as NodeJS.ErrnoException;
  const code = typeof e?.code === 'string' ? e.code : '';
  const msg = e instanceof Error ? e.message : String(err);
  if (isCertificateError(code)) {
    return new SendError(`${url}: the server's certificate does not verify (${msg}); give the CA that signs it (-tls-ca), the name it holds (-tls-servername), or -tls-insecure`, true);
  }
  if (code === 'ECONNREFUSED') return new SendError(`${url}: connection refused (nothing listens on ${host} port ${port})`);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new SendError(`${url}: cannot resolve ${host} (${code})`);
  if (code === 'ECONNRESET' || code === 'EPIPE') return new SendError(`${url}: the receiver closed the connection (${code})`);
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return new SendError(`${url}: TLS failed: ${msg}`);
  return new SendError(`${url}: ${msg}`);
}

async function readPem(file: string | undefined, what: string, url: string): Promise<Buffer | undefined> {
  if (file === undefined) return undefined;
  try {
    return await fs.readFile(file);
  } catch (err) {
    throw new SendError(`${url}: cannot read the ${what} file ${file}: ${(err as Error).message}`, true);
  }
}

export class OtlpSender implements Sender {
  readonly maxBatch: number;
  readonly window: number;
  onReport?: (msg: string) => void;

  private readonly url: string;
  private readonly secure: boolean;
  private readonly version: string;
  private readonly maxBodyBytes: number;
  private readonly requestTimeoutMs: number;
  private agent: http.Agent | undefined;
  private tlsOptions: tls.ConnectionOptions = {};
  private readonly requests = new Set<http.ClientRequest>();
  private probe: net.Socket | undefined;
  private destroyed = false;
  /** Numbering of send() calls, and the earliest that failed: every later one fails with it. */
  private sends = 0;
  private failure: { send: number; error: SendError } | undefined;
  /** Settles once every send so far settled: sends resolve in order. */
  private tail: Promise<void> = Promise.resolve();

  constructor(
    private readonly opts: SenderOptions,
    tuning: OtlpTuning = {},
  ) {
    const d = opts.destination;
    if (d.scheme !== 'otlp' && d.scheme !== 'otlps') throw new Error(`OtlpSender: ${d.scheme}:// is not OTLP`);
    this.url = d.url;
    this.secure = d.scheme === 'otlps';
    this.version = tuning.version ?? 'unknown';
    this.maxBatch = tuning.maxBatch ?? OTLP_MAX_BATCH;
    this.window = this.maxBatch * OTLP_IN_FLIGHT;
    this.maxBodyBytes = tuning.maxBodyBytes ?? OTLP_MAX_BODY_BYTES;
    this.requestTimeoutMs = tuning.requestTimeoutMs ?? OTLP_REQUEST_TIMEOUT_MS;
  }

  async open(): Promise<void> {
    if (this.destroyed) throw this.stopped();
    const { destination: d, tls: t } = this.opts;
    if (this.secure) {
      const [ca, cert, key] = await Promise.all([readPem(t.ca, 'CA', this.url), readPem(t.cert, 'certificate', this.url), readPem(t.key, 'key', this.url)]);
      if ((cert === undefined) !== (key === undefined)) throw new SendError(`${this.url}: a client certificate needs both its certificate and its key`, true);
      this.tlsOptions = { ca, cert, key, rejectUnauthorized: !t.insecure };
      // SNI carries names only; with an IP address and no -tls-servername, the certificate is checked against the IP.
      const servername = t.servername ?? (net.isIP(d.host) ? undefined : d.host);
      if (servername !== undefined) this.tlsOptions.servername = servername;
      if (t.insecure) this.onReport?.(`${this.url}: not verifying the server's certificate (-tls-insecure)`);
    }
    if (this.destroyed) throw this.stopped();
    // One connection first, so that a wrong address or certificate is said now, in one line.
    await this.connectOnce();
    if (this.destroyed) throw this.stopped();
    const agentOptions = { keepAlive: true, maxSockets: OTLP_IN_FLIGHT, maxFreeSockets: OTLP_IN_FLIGHT, timeout: IDLE_SOCKET_MS, scheduling: 'lifo' as const };
    this.agent = this.secure ? new https.Agent({ ...agentOptions, ...this.tlsOptions }) : new http.Agent(agentOptions);
  }

  private connectOnce(): Promise<void> {
    const { host, port } = this.opts.destination;
    return new Promise((resolve, reject) => {
      const socket = this.secure ? tls.connect({ host, port, ...this.tlsOptions }) : net.connect({ host, port });
      this.probe = socket;
      const timer = setTimeout(() => socket.destroy(new SendError(`${this.url}: no connection within ${this.opts.connectTimeoutMs} ms`)), this.opts.connectTimeoutMs);
      const done = (err?: unknown): void => {
        clearTimeout(timer);
        socket.removeAllListeners();
        socket.on('error', () => undefined);
        socket.destroy();
        this.probe = undefined;
        if (err) reject(this.destroyed ? this.stopped() : describeNetError(err, this.url, host, port));
        else resolve();
      };
      socket.once(this.secure ? 'secureConnect' : 'connect', () => done());
      socket.once('error', done);
      socket.once('close', () => done(new Error('the connection closed while opening')));
    });
  }

  send(entries: ForwardEntry[]): Promise<void> {
    const n = this.sends++;
    if (this.destroyed) return Promise.reject(this.stopped());
    if (this.failure) return Promise.reject(this.failure.error);
    if (!this.agent) return Promise.reject(new SendError(`${this.url}: send before open`));
    const own = this.deliver(entries).then(
      () => undefined,
      (err: unknown) => {
        const error = describeNetError(err, this.url, this.opts.destination.host, this.opts.destination.port);
        if (!this.failure || this.failure.send > n) this.failure = { send: n, error };
      },
    );
    const done = Promise.all([this.tail, own]).then(() => {
      // This send, or one before it, failed: the forwarder resends from its cursor.
      if (this.failure && this.failure.send <= n) throw this.failure.error;
    });
    this.tail = done.catch(() => undefined);
    return done;
  }

  /** The entries as one request, or several when they would pass the body bound. */
  private async deliver(entries: ForwardEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const records = new Array<string>(entries.length);
    let chars = 0;
    for (let i = 0; i < entries.length; i++) {
      records[i] = otlpLogRecord(entries[i]);
      chars += records[i].length + 1;
    }
    const room = this.maxBodyBytes - REQUEST_OVERHEAD;
    // A UTF-16 unit is at most 3 bytes of UTF-8: most batches need no counting.
    if (chars * 3 <= room) return this.post(records);
    let start = 0;
    let bytes = 0;
    for (let i = 0; i < records.length; i++) {
      const b = Buffer.byteLength(records[i]) + 1;
      if (i > start && bytes + b > room) {
        await this.post(records.slice(start, i));
        start = i;
        bytes = 0;
      }
      bytes += b;
    }
    await this.post(records.slice(start));
  }

  private async post(records: string[]): Promise<void> {
    const body = otlpLogsRequest(records, this.opts.message, this.version);
    const answer = await this.request(body, false);
    const outcome = interpretAnswer(answer, records.length, this.url, Date.now());
    switch (outcome.kind) {
      case 'ok':
        if (outcome.report) this.onReport?.(outcome.report);
        return;
      case 'dropped':
        this.onReport?.(outcome.report);
        return;
      case 'split': {
        const half = Math.ceil(records.length / 2);
        await this.post(records.slice(0, half));
        await this.post(records.slice(half));
        return;
      }
      case 'error':
        throw outcome.error;
    }
  }

  /** One POST; resolves with the status and the start of the body, rejects when no answer came. */
  private request(body: Buffer, isRetry: boolean): Promise<HttpAnswer> {
    const { destination: d, connectTimeoutMs } = this.opts;
    return new Promise<HttpAnswer>((resolve, reject) => {
      if (this.destroyed) return reject(this.stopped());
      const options: http.RequestOptions = {
        agent: this.agent,
        host: d.host,
        port: d.port,
        method: 'POST',
        path: d.path,
        headers: { 'Content-Type': 'application/json', 'Content-Length': body.length, 'User-Agent': `memlog/${this.version}` },
      };
      const req = this.secure ? https.request(options) : http.request(options);
      this.requests.add(req);
      let settled = false;
      let answered = false;
      let connectTimer: NodeJS.Timeout | undefined;
      const timer = setTimeout(() => req.destroy(new SendError(`${this.url}: no answer within ${this.requestTimeoutMs / 1000} s`)), this.requestTimeoutMs);
      const finish = (err: unknown, answer?: HttpAnswer): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(connectTimer);
        this.requests.delete(req);
        if (answer) resolve(answer);
        else reject(err);
      };
      req.on('socket', (socket: net.Socket) => {
        if (req.reusedSocket) return;
        connectTimer = setTimeout(() => req.destroy(new SendError(`${this.url}: no connection within ${connectTimeoutMs} ms`)), connectTimeoutMs);
        socket.once(this.secure ? 'secureConnect' : 'connect', () => clearTimeout(connectTimer));
      });
      req.on('response', (res: http.IncomingMessage) => {
        answered = true;
        const chunks: Buffer[] = [];
        let size = 0;
        const answer = (truncated: boolean): HttpAnswer => {
          const retryAfter = res.headers['retry-after'];
          return { status: res.statusCode ?? 0, retryAfter, location: res.headers.location, body: Buffer.concat(chunks), truncated };
        };
        res.on('data', (chunk: Buffer) => {
          if (settled) return;
          const take = Math.min(chunk.length, OTLP_MAX_RESPONSE_BYTES - size);
          chunks.push(take === chunk.length ? chunk : chunk.subarray(0, take));
          size += take;
          if (size >= OTLP_MAX_RESPONSE_BYTES) {
            // Enough: the rest is not read, so the connection cannot be reused.
            finish(undefined, answer(true));
            res.destroy();
          }
        });
        res.on('end', () => finish(undefined, answer(false)));
        // The status came: a body that breaks off does not change what it said.
        res.on('error', () => finish(undefined, answer(true)));
        res.on('aborted', () => finish(undefined, answer(true)));
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (settled) return;
        // A kept-alive connection the server closed as we reused it: once more, on a new one (as Node's docs advise).
        if (!answered && !isRetry && req.reusedSocket && !this.destroyed && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
          settled = true;
          clearTimeout(timer);
          clearTimeout(connectTimer);
          this.requests.delete(req);
          this.request(body, true).then(resolve, reject);
          return;
        }
        finish(this.destroyed ? this.stopped() : describeNetError(err, this.url, d.host, d.port));
      });
      req.end(body);
    });
  }

  private stopped(): SendError {
    return new SendError(`${this.url}: the sender was stopped`);
  }

  async close(): Promise<void> {
    if (!this.destroyed) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.tail, new Promise<void>((r) => (timer = setTimeout(r, CLOSE_WAIT_MS)))]);
      clearTimeout(timer);
    }
    this.destroy();
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const req of this.requests) req.destroy(this.stopped());
    this.requests.clear();
    this.probe?.destroy();
    this.agent?.destroy();
  }
}

