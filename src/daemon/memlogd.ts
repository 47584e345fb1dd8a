/**
 * memlogd as a library: the ring, the log socket feeding it and the query
 * socket reading from it, wired together. bin/memlogd is a thin layer over this.
 */
import net from 'node:net';
import { clock } from '../entry/clock.js';
import { NONE, Ring } from '../ring/ring.js';
import { SourceTable, type Source } from '../ring/sources.js';
import { LogSocket } from '../inputs/log-socket.js';
import { QueryServer } from '../outputs/query-server.js';
import { encodeOwnEntry } from '../outputs/entry-encoder.js';
import { bindSockets, bindSyslogSocket, DEFAULT_SOCKET_MODE, DEFAULT_SYSLOG_SOCKET_MODE, type SocketAccess } from './socket-path.js';
import { RateLimiter, type SuppressionReport } from '../inputs/rate-limit.js';
import { SyslogInput } from '../inputs/syslog/socket.js';
import { KmsgInput } from '../inputs/kmsg-input.js';
import { closeQuietly, unlinkQuietly } from '../fds.js';
import { DEFAULT_LOG_SOCKET, DEFAULT_QUERY_SOCKET } from '../protocol/wire.js';

export interface MemlogdOptions {
  socketLog: string;
  socketQuery: string;
  /** An already bound SOCK_DGRAM fd; overrides socketLog. */
  fdLog?: number;
  /** An already listening SOCK_STREAM fd; overrides socketQuery. */
  fdQuery?: number;
  maxLines: number;
  maxLineLen: number;
  /** Bound on the bytes of message text in the ring (counted compressed). */
  maxBytes: number;
  /** Compress filled blocks of the ring's text (default true). */
  compressRing?: boolean;
  /** Raw bytes per compressed block (default BLOCK_BYTES); given, rings of any size are compressed. */
  ringBlockBytes?: number;
  /** How long a query client may take to send its mode byte. */
  modeTimeoutMs?: number;
  /** Streams read at once (fds beyond are refused). */
  maxStreams: number;
  /** Query connections at once. */
  maxClients: number;
  /** The id of the daemon this one replaces (it died): said in the first entries. */
  restartOf?: string;
  /** Permission bits of the socket files (default owner only). */
  socketMode?: number;
  /** Group of the socket files. */
  socketGid?: number;
  /** A datagram socket for syslog messages (/dev/log). */
  socketSyslog?: string;
  /** A stream socket for syslog messages (RFC 6587 framing): a second path, one path being one kind of socket. */
  syslogStream?: string;
  /** An already bound SOCK_DGRAM fd for syslog messages; overrides socketSyslog (-daemonize passes the one it bound). */
  fdSyslog?: number;
  /** An already listening SOCK_STREAM fd for syslog messages; overrides syslogStream. */
  fdSyslogStream?: number;
  /** Permission bits of the syslog socket files (default 0666: anyone may log, as /dev/log). */
  syslogSocketMode?: number;
  /** Read a leading `<N>` (or `<PRI>`) of each stream line as its severity and strip it. */
  streamPriorityPrefix?: boolean;
  /** Rate limit per source: at most this many entries per interval (0 or unset: off). */
  rateLimitBurst?: number;
  /** The rate limit's interval in ms (default 30 s). */
  rateLimitIntervalMs?: number;
  /** Read the kernel log from this device (/dev/kmsg, or a file or FIFO of captured records) into entries of source kmsg (-kmsg). */
  kmsgDevice?: string;
  /**
   * A problem the operator should see at once, in one line (the CLI writes
   * it on stderr): the kernel log cannot be read. The daemon's own log has it too.
   */
  warn?: (line: string) => void;
}

/** journald's default interval. */
export const DEFAULT_RATE_LIMIT_INTERVAL_MS = 30_000;

export const DEFAULTS = {
  socketLog: DEFAULT_LOG_SOCKET,
  socketQuery: DEFAULT_QUERY_SOCKET,
  maxLines: 5000,
  maxLineLen: 1024,
  maxBytes: 16 * 1024 * 1024,
  maxStreams: 4096,
  maxClients: 1024,
} satisfies MemlogdOptions;

export const OWN_SOURCE = 'memlogd';

export class Memlogd {
  readonly ring: Ring;
  readonly logSocket: LogSocket;
  readonly query: QueryServer;
  readonly limiter: RateLimiter | undefined;
  readonly syslog: SyslogInput | undefined;
  /** Set once start() has opened the kernel log (-kmsg). */
  private kmsg: KmsgInput | undefined;
  private readonly own: Source;
  /** Socket paths this daemon created, removed again on close. */
  private readonly createdPaths: string[] = [];
  private closed = false;
  /** Tells this daemon's life from another's: sequence numbers restart with each daemon. */
  readonly id = daemonId();
  /**
   * Settles with the reason if the daemon can no longer do its job (its log
   * socket failed: no stream can reach it any more). The caller should close
   * it and exit non-zero, so that a supervisor starts a new one.
   */
  readonly failed: Promise<Error>;
  private fail!: (err: Error) => void;

  private constructor(
    readonly opts: MemlogdOptions,
    logFd: number,
    server: net.Server,
    createdPaths: string[],
  ) {
    this.createdPaths = createdPaths;
    this.failed = new Promise((resolve) => (this.fail = resolve));
    this.ring = new Ring({ ...opts, compress: opts.compressRing ?? true, blockBytes: opts.ringBlockBytes }, new SourceTable());
    this.own = this.ring.sources.acquire(OWN_SOURCE);
    if (opts.rateLimitBurst !== undefined && opts.rateLimitBurst > 0) {
      this.limiter = new RateLimiter(
        { burst: opts.rateLimitBurst, intervalMs: opts.rateLimitIntervalMs ?? DEFAULT_RATE_LIMIT_INTERVAL_MS },
        (report) => this.reportSuppressed(report),
        () => {
          clock.read();
          return clock.sec * 1000 + clock.nsec / 1e6;
        },
      );
    }
    this.query = new QueryServer(server, this.ring, {
      maxLineLen: opts.maxLineLen,
      maxClients: opts.maxClients,
      modeTimeoutMs: opts.modeTimeoutMs,
      log: (msg) => this.log(msg),
      onRoom: () => this.logSocket.reader.turns.wake(),
      daemonId: this.id,
      status: () => ({
        daemon: this.id,
        pid: process.pid,
        uptimeSeconds: Math.round(process.uptime()),
        ring: {
          first: this.ring.first,
          next: this.ring.next,
          entries: this.ring.count,
          bytes: this.ring.bytes,
          stored: this.ring.stored,
          compressed: this.ring.compressed,
          timeRuns: this.ring.timeRunCount,
          ...this.ring.blockCounts(),
          maxLines: this.ring.maxLines,
          maxBytes: this.ring.capacity,
          dropped: this.ring.evicted,
          sources: this.ring.sources.size,
        },
        memory: memoryFigures(),
        ringSources: this.ringSources(),
        streams: this.logSocket.describeStreams(),
        streamsAccepted: this.logSocket.accepted,
        refused: this.logSocket.refused,
        duplicateStreams: this.logSocket.duplicates,
        ...(this.limiter
          ? { rateLimit: { burst: this.limiter.burst, intervalMs: this.limiter.intervalMs, suppressed: this.limiter.describe() } }
          : {}),
        ...(this.syslog ? { syslog: this.syslog.describe() } : {}),
        ...(this.kmsg ? { kmsg: this.kmsg.describe() } : {}),
      }),
      ownLine: (msg, extra) => {
        clock.read();
        return encodeOwnEntry(clock.sec, clock.nsec, OWN_SOURCE, msg, extra);
      },
    });
    this.logSocket = new LogSocket(logFd, this.ring, {
      maxLineLen: opts.maxLineLen,
      maxStreams: opts.maxStreams,
      limiter: this.limiter,
      priorityPrefix: opts.streamPriorityPrefix,
      log: (msg) => this.log(msg),
      onData: () => this.query.notify(),
      onFailure: (err) => this.onLogSocketFailure(err),
    });
    this.logSocket.reader.turns.policy = this.query;
    if (opts.socketSyslog !== undefined || opts.syslogStream !== undefined || opts.fdSyslog !== undefined || opts.fdSyslogStream !== undefined) {
      this.syslog = new SyslogInput(this.ring, {
        maxLineLen: opts.maxLineLen,
        maxConnections: opts.maxStreams,
        limiter: this.limiter,
        log: (msg) => this.log(msg),
        onData: () => this.query.notify(),
        onFailure: (err) => this.onSyslogFailure(err),
      });
    }
  }

  /** Binds the syslog sockets (each its own path; created ones are removed on close) and starts reading them. */
  private async startSyslog(): Promise<void> {
    const syslog = this.syslog;
    if (!syslog) return;
    const access = { mode: this.opts.syslogSocketMode ?? DEFAULT_SYSLOG_SOCKET_MODE, gid: this.opts.socketGid };
    const { fdSyslog, fdSyslogStream, socketSyslog, syslogStream } = this.opts;
    const dgram = await this.syslogSocket(fdSyslog, socketSyslog, 'dgram', access);
    if (dgram !== undefined) await listenOrClose(dgram, (fd) => syslog.listenDatagrams(fd));
    const stream = await this.syslogSocket(fdSyslogStream, syslogStream, 'stream', access);
    if (stream !== undefined) await listenOrClose(stream, (fd) => syslog.listenStreams(fd));
  }

  /** The fd given for a syslog socket, or the socket bound at path (removed again on close); undefined for neither. */
  private async syslogSocket(given: number | undefined, path: string | undefined, kind: 'dgram' | 'stream', access: SocketAccess): Promise<number | undefined> {
    if (given !== undefined || path === undefined) return given;
    const fd = await bindSyslogSocket(path, kind, access);
    this.createdPaths.push(path);
    return fd;
  }

  /**
   * Opens the kernel log (-kmsg), before the daemon says it started; reading
   * starts after. One that cannot be opened is said once, and memlogd runs
   * on without it: the kernel log is not worth losing everything else for.
   */
  private async openKmsg(): Promise<string | undefined> {
    const device = this.opts.kmsgDevice;
    if (device === undefined) return undefined;
    try {
      this.kmsg = await KmsgInput.open(this.ring, {
        device,
        maxLineLen: this.opts.maxLineLen,
        limiter: this.limiter,
        log: (msg) => this.log(msg),
        onData: () => this.query.notify(),
        held: () => this.logSocket.reader.turns.holding,
        onFailure: (err) => this.kmsgProblem(`${err.message}; the kernel log is no longer collected`),
      });
      return undefined;
    } catch (err) {
      return `${(err as Error).message}; the kernel log is not collected`;
    }
  }

  private kmsgProblem(problem: string): void {
    this.opts.warn?.(`-kmsg: ${problem}`);
    this.log(`-kmsg: ${problem}`);
  }

  /** The entry that says what a source's rate limit dropped in the interval that just ended. */
  private reportSuppressed({ source, count, burst, intervalMs }: SuppressionReport): void {
    const who = source.sender ? ` (pid ${source.sender.pid})` : '';
    const fields = JSON.stringify({ source: source.name, ...source.sender, count });
    this.log(
      `rate limit: suppressed ${count} ${count === 1 ? 'entry' : 'entries'} of "${source.name}"${who} (at most ${burst} per ${formatInterval(intervalMs)})`,
      Buffer.from(`,"suppressed":${fields}`),
    );
  }

  /** Binds (or adopts) both sockets and starts serving; resolves once both are ready. */
  static async start(options: Partial<MemlogdOptions> = {}): Promise<Memlogd> {
    const opts: MemlogdOptions = { ...DEFAULTS, ...options };
    validateOptions(opts);
    const { logFd, queryFd, created } = await bindSockets(opts, { mode: opts.socketMode ?? DEFAULT_SOCKET_MODE, gid: opts.socketGid });
    try {
      // Half-open: a client may send its mode byte and shut its side (`nc -U`) and still get its dump.
      const server = net.createServer({ allowHalfOpen: true });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ fd: queryFd }, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const daemon = new Memlogd(opts, logFd, server, created);
      let kmsgProblem: string | undefined;
      try {
        await daemon.startSyslog();
        kmsgProblem = await daemon.openKmsg();
      } catch (err) {
        await daemon.close();
        throw err;
      }
      daemon.log('memlogd started');
      if (opts.restartOf) {
        daemon.log(`memlogd restarted in place of daemon ${opts.restartOf}, which stopped: the entries it held and had not delivered are gone; the streams it read are handed over again`);
      }
      if (kmsgProblem !== undefined) daemon.kmsgProblem(kmsgProblem);
      daemon.kmsg?.start();
      return daemon;
    } catch (err) {
      if (opts.fdLog === undefined) closeQuietly(logFd);
      if (opts.fdQuery === undefined) closeQuietly(queryFd);
      for (const path of created) unlinkQuietly(path);
      throw err;
    }
  }

  /** Each source with entries in the ring, by name: who sent it and what the ring holds of it. */
  private ringSources(): Record<string, unknown>[] {
    const held = this.ring.heldBySource().map(({ id, entries, bytes }) => ({ source: this.ring.sources.get(id), entries, bytes }));
    held.sort((a, b) => (a.source.name < b.source.name ? -1 : a.source.name > b.source.name ? 1 : (a.source.sender?.pid ?? -1) - (b.source.sender?.pid ?? -1)));
    return held.map(({ source, entries, bytes }) => ({ source: source.name, ...source.sender, entries, bytes }));
  }

  /** Adds an entry of the daemon's own, with source memlogd (and meta: extra JSON fields, if given). */
  log(msg: string, meta?: Buffer): void {
    const bytes = Buffer.from(msg);
    clock.read();
    const end = Math.min(bytes.length, this.opts.maxLineLen);
    if (meta) this.ring.appendWith(this.own.id, clock.sec, clock.nsec, bytes, 0, end, NONE, NONE, meta);
    else this.ring.append(this.own.id, clock.sec, clock.nsec, bytes, 0, end);
    this.query.notify();
  }

  private onSyslogFailure(err: Error): void {
    // Streams and the log socket still work: say so and go on without syslog datagrams.
    this.log(`the syslog socket failed (${err.message}): syslog datagrams are no longer received`);
  }

  private onLogSocketFailure(err: Error): void {
    const failure = new Error(`the log socket failed (${err.message}): no stream can be handed to this memlogd any more`, { cause: err });
    this.log(`${failure.message}; it stops so that its supervisor starts a new one`);
    // After this turn's delivery to the followers, which then have the entry above.
    setImmediate(() => this.fail(failure));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // First, so that nothing is added once the rest is closed; its fd is closed when this resolves.
    await this.kmsg?.close();
    this.logSocket.close();
    this.syslog?.close();
    this.limiter?.close();
    this.query.close();
    for (const path of this.createdPaths) unlinkQuietly(path);
  }
}

/**
 * 16 hex digits from the start time (ns), the pid and Math.random: unique
 * enough to tell one daemon's life from the next. Not node:crypto, which
 * costs a few MB of resident memory for this one call.
 */
function daemonId(): string {
  clock.read();
  const t = (clock.sec * 1e9 + clock.nsec) % 2 ** 32;
  const mix = (t ^ (process.pid * 2654435761)) >>> 0;
  const rand = Math.floor(Math.random() * 2 ** 32) >>> 0;
  return mix.toString(16).padStart(8, '0') + rand.toString(16).padStart(8, '0');
}

/** The daemon's memory as Node sees it, in bytes: what the ring's bounds leave out. */
function memoryFigures(): { rss: number; heapUsed: number; heapTotal: number; external: number } {
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external };
}

export function validateOptions(opts: MemlogdOptions): void {
  const whole = (name: string, value: number, min: number, max: number): void => {
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new RangeError(`${name} must be a whole number from ${min} to ${max}, not ${value}`);
    }
  };
  whole('-max-lines', opts.maxLines, 1, 100_000_000);
  whole('-max-line-len', opts.maxLineLen, 1, 1024 * 1024);
  whole('-max-bytes', opts.maxBytes, 1, 2 ** 32 - 1);
  if (opts.ringBlockBytes !== undefined) whole('-ring-block-bytes', opts.ringBlockBytes, 1, 16 * 1024 * 1024);
  whole('-max-streams', opts.maxStreams, 1, 1_000_000);
  whole('-max-clients', opts.maxClients, 1, 1_000_000);
  if (opts.socketMode !== undefined) whole('-socket-mode', opts.socketMode, 0, 0o777);
  if (opts.socketGid !== undefined) whole('-socket-group', opts.socketGid, 0, 2 ** 32 - 2);
  if (opts.modeTimeoutMs !== undefined) whole('-mode-timeout-ms', opts.modeTimeoutMs, 1, 3_600_000);
  if (opts.fdLog !== undefined) whole('-fd-log', opts.fdLog, 0, 2 ** 31 - 1);
  if (opts.fdSyslog !== undefined) whole('-fd-syslog', opts.fdSyslog, 0, 2 ** 31 - 1);
  if (opts.fdSyslogStream !== undefined) whole('-fd-syslog-stream', opts.fdSyslogStream, 0, 2 ** 31 - 1);
  if (opts.fdQuery !== undefined) whole('-fd-query', opts.fdQuery, 0, 2 ** 31 - 1);
  if (opts.syslogSocketMode !== undefined) whole('-syslog-socket-mode', opts.syslogSocketMode, 0, 0o777);
  if (opts.rateLimitBurst !== undefined) whole('-rate-limit-burst', opts.rateLimitBurst, 0, 2 ** 31 - 1);
  if (opts.rateLimitIntervalMs !== undefined) whole('-rate-limit-interval (ms)', opts.rateLimitIntervalMs, 1, 24 * 3_600_000);
  if (opts.kmsgDevice === '') throw new RangeError('-kmsg-device must be a path, not empty');
  const paths = [opts.socketLog, opts.socketQuery, opts.socketSyslog, opts.syslogStream].filter((p) => p !== undefined);
  if (new Set(paths).size !== paths.length) throw new RangeError('each socket needs its own path (-socket-log, -socket-query, -socket-syslog, -syslog-stream)');
}

/** 30000 as "30s", 500 as "500ms", 60000 as "1m". */
export function formatInterval(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** Starts reading a socket; closes it if that fails. */
async function listenOrClose(fd: number, listen: (fd: number) => void | Promise<void>): Promise<void> {
  try {
    await listen(fd);
  } catch (err) {
    closeQuietly(fd);
    throw err;
  }
}
