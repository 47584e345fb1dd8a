/**
 * Typed wrapper around the N-API addon (native/*.c), which does what Node
 * cannot: pass file descriptors over AF_UNIX datagram sockets.
 *
 * Errors from system calls are Errors shaped like Node's system errors:
 * message `"<syscall> <path>: <description>"`, `code` (errno name, e.g.
 * 'ENOENT'), `errno` (negative, as in Node) and `syscall`, plus `path` when a
 * path was involved. Bad argument types throw TypeError, out-of-range numbers
 * RangeError.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type FdKind =
  | 'fifo'
  | 'socket-stream'
  | 'socket-dgram'
  | 'socket-other'
  | 'file'
  | 'dir'
  | 'chr'
  | 'blk'
  | 'other';

/** readable/writable come from fcntl(F_GETFL) & O_ACCMODE (both false for O_PATH fds). */
export interface FdInfo {
  kind: FdKind;
  readable: boolean;
  writable: boolean;
  /** The identity of the open file (st_dev, st_ino): two fds with the same are the same file, e.g. the same pipe. Exact up to 2^53, as in fs.Stats. */
  dev: number;
  ino: number;
}

/** The shape of errors thrown for failed system calls. */
export interface NativeSystemError extends Error {
  code: string;
  errno: number;
  syscall: string;
  path?: string;
}

// Flags passed to the datagram callback.
/** MSG_TRUNC: payload was longer than maxName bytes (name holds the first maxName bytes). */
export const DGRAM_NAME_TRUNCATED = 1;
/** MSG_CTRUNC: ancillary data truncated; every fd that did arrive has already been closed by the addon and fds is []. */
export const DGRAM_FDS_TRUNCATED = 2;

/** The sender of a datagram as the kernel saw it (SO_PASSCRED): [pid, uid, gid]. */
export type Sender = [number, number, number];
/**
 * Called once per datagram. The callee owns every fd in `fds` (all are
 * FD_CLOEXEC) and must close them. An exception thrown here becomes an
 * uncaught exception, and the rest of that poll round is deferred.
 */
export type DatagramHandler = (name: Buffer, fds: number[], flags: number, sender?: Sender) => void;

export interface DgramReceiverOptions {
  /**
   * Called once if receiving fails for good (recvmsg fails with EBADF,
   * ENOTSOCK, EINVAL and the like: the fd is no longer a working socket).
   * The receiver has stopped; close() it. Without onError such a failure is
   * an uncaught exception: it is never silent.
   */
  onError?: (err: NativeSystemError) => void;
  /** For tests: sizes the control buffer (1..253, default 253). */
  maxFds?: number;
}

interface NativeReceiver {
  close(): void;
  unref(): void;
  ref(): void;
}

interface NativeStreamSet {
  add(fd: number): number;
  remove(id: number): void;
  setBudget(budget: number, maxRead: number): void;
  pause(): void;
  resume(): void;
  close(): void;
}

interface NativeBinding {
  socketpair(): [number, number];
  bindDgram(path: string): number;
  bindListen(path: string, backlog: number): number;
  sendFds(path: string, name: Buffer, fds: number[]): void;
  sendFdsAsync(path: string, name: Buffer, fds: number[], timeoutMs: number): Promise<void>;
  fdInfo(fd: number): FdInfo;
  clockRealtime(out: Float64Array): void;
  tcpQuickAck(fd: number): void;
  mkfifo(path: string, mode: number): void;
  dup(fd: number): number;
  peerCred(fd: number): Sender;
  execvp(file: string, argv: string[], stdio: number[]): never;
  StreamSet: new (buffer: Uint8Array, segments: Int32Array, onBatch: (count: number) => void) => NativeStreamSet;
  DgramBatchReceiver: new (
    fd: number,
    buffer: Uint8Array,
    meta: Uint32Array,
    onBatch: (count: number) => void,
    onError: ((err: NativeSystemError) => void) | undefined,
  ) => NativeReceiver;
  DgramReceiver: new (
    fd: number,
    maxName: number,
    onDatagram: DatagramHandler,
    maxFds: number | undefined,
    onError: ((err: NativeSystemError) => void) | undefined,
  ) => NativeReceiver;
}

const ADDON = join('build', 'Release', 'memlog_native.node');

/** Walks up from this module (src/ or dist/src/) to the dir holding the build. */
function findAddon(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; ) {
    const candidate = join(dir, ADDON);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(
    `memlog: native addon ${ADDON} not found above ${start}; run "npm install" or "npx node-gyp rebuild"`,
  );
}

const require = createRequire(import.meta.url);
// require() is typed `any`; the addon's shape is described by NativeBinding.
const binding = require(findAddon()) as NativeBinding;

/** AF_UNIX SOCK_STREAM pair, both ends O_CLOEXEC and blocking. */
export function socketpair(): [number, number] {
  return binding.socketpair();
}

/** Nonblocking, close-on-exec SOCK_DGRAM unix socket bound to path. Does not unlink anything. */
export function bindDgram(path: string): number {
  return binding.bindDgram(path);
}

/** Close-on-exec SOCK_STREAM unix socket bound to path and listening; usable with net.Server.listen({fd}). */
export function bindListen(path: string, backlog: number): number {
  return binding.bindListen(path, backlog);
}

/**
 * Sends one datagram to path: payload = name, SCM_RIGHTS = fds (0..253; none
 * means no ancillary data). The kernel duplicates the fds: the caller still
 * owns its own and closes them. Uses a temporary unbound socket, closed
 * before returning. Never blocks: throws EAGAIN at once when the receiver's
 * queue (net.unix.max_dgram_qlen datagrams) is full. Use sendFdsAsync to
 * wait for room.
 */
export function sendFds(path: string, name: Buffer, fds: number[]): void {
  binding.sendFds(path, name, fds);
}

/** How long sendFdsAsync waits for room in the receiver's queue unless told otherwise. */
export const SEND_TIMEOUT_MS = 2000;

/**
 * sendFds without failing on a full queue, and without blocking the event
 * loop: when the receiver's queue is full it waits until the receiver takes
 * a datagram (POLLOUT on a socket connected to it) and sends then. Rejects
 * with EAGAIN if there was no room within timeoutMs (0: try once), with
 * ECONNREFUSED if the receiver went away meanwhile, and with the errors of
 * sendFds (ENOENT from connect when nothing is bound at path).
 *
 * The fds stay the caller's: the addon sends duplicates of them, so the
 * caller may close its copies as soon as this returns, and no fd of the
 * addon outlives the promise (nor the environment, if a Worker ends first).
 */
export async function sendFdsAsync(path: string, name: Buffer, fds: number[], opts: { timeoutMs?: number } = {}): Promise<void> {
  return binding.sendFdsAsync(path, name, fds, opts.timeoutMs ?? SEND_TIMEOUT_MS);
}

/** fstat + fcntl(F_GETFL) + getsockopt(SO_TYPE) for sockets: what the fd is, and the identity of the open file. */
export function fdInfo(fd: number): FdInfo {
  return binding.fdInfo(fd);
}

/** clock_gettime(CLOCK_REALTIME): out[0] = seconds, out[1] = nanoseconds. Allocation-free. */
export function clockRealtime(out: Float64Array): void {
  binding.clockRealtime(out);
}

/** setsockopt(TCP_QUICKACK): acknowledge at once what has arrived (Linux clears it again by itself: set it after each read). */
export function tcpQuickAck(fd: number): void {
  binding.tcpQuickAck(fd);
}

/** mkfifo(3): a named pipe at path (the init gives one to each service stream, as containerd does). */
export function mkfifo(path: string, mode: number): void {
  binding.mkfifo(path, mode);
}

/** fcntl(F_DUPFD_CLOEXEC): a second fd for the same open file, close-on-exec. */
export function dupFd(fd: number): number {
  return binding.dup(fd);
}

/** SO_PEERCRED of a connected Unix stream socket: [pid, uid, gid] of the peer when it connected. */
export function peerCred(fd: number): Sender {
  return binding.peerCred(fd);
}

/**
 * execvp(3): this process becomes `file` (looked up in PATH unless it has a
 * slash), with `argv` (argv[0] first) and the environment, as a shell's
 * `exec` does: same pid, nothing of Node left. The program starts as if
 * spawned afresh: stdio[0..2] as its fds 0, 1 and 2, no other fd of this
 * process, every signal at its default disposition and none blocked.
 * Returns only by throwing: a system error with syscall 'execvp' and path
 * `file` (ENOENT, EACCES...), after which signals and fds 0..2 are as they
 * were (fds above 2 are left close-on-exec). Bad arguments throw TypeError
 * before anything changes.
 */
export function execvp(file: string, argv: string[], stdio: [number, number, number] = [0, 1, 2]): never {
  return binding.execvp(file, argv, stdio);
}

/**
 * Receives datagrams (with SCM_RIGHTS fds) on a bound unix SOCK_DGRAM socket,
 * driven by the event loop. While open it keeps itself alive (like a Node
 * handle) and, unless unref()'d, the event loop too.
 */
export class DgramReceiver {
  readonly #native: NativeReceiver;

  /**
   * Takes ownership of fd (a bound SOCK_DGRAM unix socket, e.g. from bindDgram
   * or inherited). Sets O_NONBLOCK and FD_CLOEXEC on it. If the constructor
   * throws, the fd stays the caller's.
   * @param maxName payload buffer size, 1..65536; longer payloads are truncated
   *   and flagged DGRAM_NAME_TRUNCATED.
   */
  constructor(fd: number, maxName: number, onDatagram: DatagramHandler, opts: DgramReceiverOptions = {}) {
    this.#native = new binding.DgramReceiver(fd, maxName, onDatagram, opts.maxFds, opts.onError);
  }

  /** Stop polling and close the fd (the fd close happens in uv_close's callback). Idempotent; also after onError. */
  close(): void {
    this.#native.close();
  }

  /** Like a timer's unref/ref: whether the poll handle keeps the event loop alive. */
  unref(): void {
    this.#native.unref();
  }

  ref(): void {
    this.#native.ref();
  }
}

// The numbers DgramBatchReceiver gives for each datagram of a batch: meta[i * DGRAM_BATCH_FIELDS + field].
export const DGRAM_BATCH_FIELDS = 7;
/** Where datagram i starts in the buffer, and its length (at most the slot's). */
export const DGRAM_BATCH_OFFSET = 0;
export const DGRAM_BATCH_LENGTH = 1;
/** DGRAM_NAME_TRUNCATED, DGRAM_FDS_TRUNCATED, DGRAM_SENDER_KNOWN. */
export const DGRAM_BATCH_FLAGS = 2;
/** How many fds came with it (already closed by the addon). */
export const DGRAM_BATCH_FDS_CLOSED = 3;
/** The sender (SO_PASSCRED), valid when flags has DGRAM_SENDER_KNOWN. */
export const DGRAM_BATCH_PID = 4;
export const DGRAM_BATCH_UID = 5;
export const DGRAM_BATCH_GID = 6;
/** The kernel said who sent the datagram. */
export const DGRAM_SENDER_KNOWN = 4;

/**
 * Receives datagrams on a bound unix SOCK_DGRAM socket many at a time
 * (recvmmsg), for payloads alone: fds sent along are closed by the addon and
 * only counted. `buffer` is cut into meta.length / DGRAM_BATCH_FIELDS equal
 * slots (at most 1024, each at most 65536 bytes; a longer datagram is cut
 * and flagged DGRAM_NAME_TRUNCATED). onBatch(count) is called once per batch
 * with count datagrams described in `meta` (DGRAM_BATCH_*); buffer and meta
 * are reused for the next batch as soon as onBatch returns. An exception
 * thrown by onBatch becomes an uncaught exception, and the rest of that poll
 * round is deferred. Lifetime, close/ref/unref and onError as DgramReceiver.
 */
export class DgramBatchReceiver {
  readonly #native: NativeReceiver;

  /** Takes ownership of fd, as DgramReceiver does. */
  constructor(fd: number, buffer: Uint8Array, meta: Uint32Array, onBatch: (count: number) => void, opts: Pick<DgramReceiverOptions, 'onError'> = {}) {
    this.#native = new binding.DgramBatchReceiver(fd, buffer, meta, onBatch, opts.onError);
  }

  close(): void {
    this.#native.close();
  }

  unref(): void {
    this.#native.unref();
  }

  ref(): void {
    this.#native.ref();
  }
}

/** A segment's length field when the stream ended (EOF), or failed (its start field is then the errno). */
export const SEGMENT_EOF = -1;
export const SEGMENT_ERROR = -2;

/**
 * Input streams read in batches: for every event-loop turn in which some of
 * them had data, onBatch(count) is called once, with count segments in
 * `segments` as (id, start, length) triples: length bytes of stream id at
 * buffer[start..]; or length SEGMENT_EOF (the stream ended and its fd is
 * closed), or SEGMENT_ERROR (start is the errno; the fd is closed): a read
 * failed, or polling could not start again (EEXIST: another handle of this
 * event loop watches the fd number, so it was closed behind the set's back
 * and reused; that fd is then left alone, being no longer the set's). A turn
 * reads at most `budget` bytes in all and `maxRead` from one fd
 * (setBudget); fds not read on a turn are read on the next (level-triggered
 * polls). The set owns each fd given to add() once add() returns.
 */
export class StreamSet {
  private readonly native: NativeStreamSet;

  constructor(buffer: Uint8Array, segments: Int32Array, onBatch: (count: number) => void) {
    this.native = new binding.StreamSet(buffer, segments, onBatch);
  }

  /** Starts reading fd (made non-blocking and close-on-exec); returns its id. On a throw the fd is still the caller's. */
  add(fd: number): number {
    return this.native.add(fd);
  }

  /** Stops reading the stream and closes its fd (segments of it already in a batch are still delivered). */
  remove(id: number): void {
    this.native.remove(id);
  }

  setBudget(budget: number, maxRead: number): void {
    this.native.setBudget(budget, maxRead);
  }

  /** Stops reading every stream until resume(). */
  pause(): void {
    this.native.pause();
  }

  resume(): void {
    this.native.resume();
  }

  /** Closes every stream's fd; the set is unusable afterwards. */
  close(): void {
    this.native.close();
  }
}
