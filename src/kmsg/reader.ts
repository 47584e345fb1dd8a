/**
 * Reads kernel log records from /dev/kmsg (or from a file of captured
 * records) and prints each as upstream's kmsg does.
 *
 * The device hands out one record per read(): the position is per open file,
 * starting at the oldest record still in the kernel's buffer. EPIPE means the
 * kernel overwrote records we had not read yet (the next read goes on from the
 * oldest left), EINVAL that the buffer was too small for the next record.
 *
 * Following the device, readKmsg waits for the next record in a blocking
 * read on the thread pool, which costs nothing while the kernel is quiet. Such
 * a read cannot be cancelled, and Node joins its thread-pool threads on the way
 * out, so while it is pending the process cannot exit by itself nor even with
 * process.exit() (it hangs until the next record): only a signal whose default
 * action kills ends it at once. The CLI therefore installs no SIGTERM/SIGINT
 * handler. A caller that passes an AbortSignal gets a non-blocking fd polled
 * every DEVICE_POLL_MS at the end instead, so an abort leaves nothing behind.
 *
 * A FIFO (records piped in, as from a capture) is a stream of records like a
 * file, opened and read non-blocking and polled the same way: a blocking open
 * would wait on the thread pool for a writer, and a blocking read for data,
 * with nothing able to cancel either.
 *
 * openKmsg and readOpenedKmsg are the two halves of readKmsg, for a caller
 * that must tell "cannot be opened" from a failure later (memlogd -kmsg).
 */
import fs from 'node:fs';
import os from 'node:os';
import { clockRealtime } from '../native.js';
import { KmsgSplitter, formatUpstream, parseKmsgRecord, type KmsgRecord } from './record.js';

export const DEFAULT_KMSG_DEVICE = '/dev/kmsg';

/** Big enough for any record: the kernel's limit (CONSOLE_EXT_LOG_MAX) is 8 KiB. */
const READ_BUFFER = 16 * 1024;
/** EINVAL with a buffer this big is not a short buffer: give up. */
const MAX_READ_BUFFER = 1024 * 1024;
/** Following the device with an AbortSignal: how often to look for new records once at the end. */
const DEVICE_POLL_MS = 250;
/** Reads of a captured file. */
const FILE_CHUNK = 64 * 1024;
/** Following a file: fs.watch wakes us at once; this is the fallback poll (and for watch-less filesystems). */
const FILE_POLL_MS = 1000;
/** A record at the end of a followed file is printed once the file has been quiet this long (more continuation lines may come). */
const FILE_SETTLE_MS = 100;

export interface KmsgStats {
  records: number;
  /** Records missing between sequence numbers: overwritten before they were read, or not in the file. */
  skipped: number;
  /** Records that did not parse (or were too long, in a file). */
  malformed: number;
}

export interface KmsgReadOptions {
  path: string;
  /** Wait for new records at the end (device), or for appended data (file). */
  follow: boolean;
  /** Each record formatted as upstream prints it, without a newline, and the record itself. A returned promise is awaited before reading on. */
  out: (line: string, record: KmsgRecord) => void | Promise<void>;
  warn: (msg: string) => void;
  /** Stops reading; readKmsg then resolves with the stats so far. With follow, the device is then polled (see above). */
  signal?: AbortSignal;
  /** Boot time used for the timestamps; defaults to bootTime(). */
  bootTime?: { sec: number; nsec: number };
  /** For tests: the device read buffer to start with (it grows on EINVAL). */
  readBufferSize?: number;
}

const now = new Float64Array(2);

/** Wall-clock time of boot: CLOCK_REALTIME now minus /proc/uptime (10 ms precision; upstream uses whole seconds). */
export function bootTime(): { sec: number; nsec: number } {
  clockRealtime(now);
  let upSec: number;
  let upNsec: number;
  const m = /^(\d+)(?:\.(\d{1,9}))?\s/.exec(readUptime());
  if (m) {
    upSec = Number(m[1]);
    upNsec = Number((m[2] ?? '').padEnd(9, '0'));
  } else {
    const up = os.uptime();
    upSec = Math.floor(up);
    upNsec = Math.round((up - upSec) * 1e9);
  }
  let sec = now[0] - upSec;
  let nsec = now[1] - upNsec;
  if (nsec < 0) {
    sec -= 1;
    nsec += 1_000_000_000;
  }
  return { sec, nsec };
}

function readUptime(): string {
  try {
    return fs.readFileSync('/proc/uptime', 'latin1');
  } catch {
    return '';
  }
}

const DESCRIPTIONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'is a directory',
  ENXIO: 'no such device',
  ENODEV: 'no such device',
};

/** A one-line Error: `cannot read PATH: what went wrong`. */
function cannotRead(path: string, err: unknown, device: boolean): Error {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  let what = DESCRIPTIONS[code] ?? (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ');
  if ((code === 'EACCES' || code === 'EPERM') && (device || path === DEFAULT_KMSG_DEVICE)) {
    what += ' (reading the kernel log needs CAP_SYSLOG)';
  }
  return new Error(`cannot read ${path}: ${what}`);
}

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function openFd(path: string, flags: number): Promise<number> {
  return new Promise((resolve, reject) => fs.open(path, flags, (err, fd) => (err ? reject(err) : resolve(fd))));
}

function readFd(fd: number, buf: Buffer, position: number | null): Promise<number> {
  return new Promise((resolve, reject) =>
    fs.read(fd, buf, 0, buf.length, position, (err, n) => (err ? reject(err) : resolve(n))),
  );
}

function closeFd(fd: number): void {
  fs.close(fd, () => {});
}

/** Waits ms, or less if woken by emitter's 'change' or the signal. */
function pause(ms: number, signal: AbortSignal | undefined, emitter?: fs.FSWatcher): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      emitter?.off('change', done);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    emitter?.on('change', done);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** What records are read from: the kernel's device, a file of captured records, or a FIFO they are piped into. */
export type KmsgKind = 'device' | 'file' | 'pipe';

/** An open source of records (openKmsg); readOpenedKmsg reads it and closes it. */
export interface OpenedKmsg {
  readonly path: string;
  readonly fd: number;
  readonly kind: KmsgKind;
}

/**
 * Opens path for reading records; throws a one-line Error (`cannot read
 * PATH: ...`) if it cannot, with nothing left open. cancellable: the caller
 * will pass an AbortSignal to readOpenedKmsg, so no read may block.
 */
export async function openKmsg(path: string, opts: { follow: boolean; cancellable: boolean }): Promise<OpenedKmsg> {
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(path);
  } catch (err) {
    throw cannotRead(path, err, false);
  }
  if (st.isDirectory()) throw new Error(`cannot read ${path}: is a directory`);
  const kind: KmsgKind | undefined = st.isCharacterDevice() ? 'device' : st.isFIFO() ? 'pipe' : st.isFile() ? 'file' : undefined;
  if (kind === undefined) throw new Error(`cannot read ${path}: not a character device, a FIFO or a regular file`);
  // Non-blocking, the end shows as EAGAIN: to stop there, or to poll so that an abort needs no pending read.
  // A regular file ignores it, but a FIFO put in its place since the stat then cannot block the open.
  const nonBlocking = kind !== 'device' || !opts.follow || opts.cancellable;
  const flags = fs.constants.O_RDONLY | (nonBlocking ? fs.constants.O_NONBLOCK : 0);
  try {
    return { path, kind, fd: await openFd(path, flags) };
  } catch (err) {
    throw cannotRead(path, err, kind === 'device');
  }
}

/** Reads records from what openKmsg opened, until the end (without follow), an abort or a failure; closes it in any case. */
export async function readOpenedKmsg(src: OpenedKmsg, opts: Omit<KmsgReadOptions, 'path'>): Promise<KmsgStats> {
  const all: KmsgReadOptions = { ...opts, path: src.path };
  try {
    const boot = opts.bootTime ?? bootTime();
    const printer = new Printer(all, boot.sec, boot.nsec);
    if (src.kind === 'device') await readDevice(src.fd, all, printer);
    else if (src.kind === 'pipe') await readPipe(src.fd, all, printer);
    else await readFile(src.fd, all, printer);
    return printer.stats;
  } finally {
    closeFd(src.fd);
  }
}

export async function readKmsg(opts: KmsgReadOptions): Promise<KmsgStats> {
  const src = await openKmsg(opts.path, { follow: opts.follow, cancellable: opts.signal !== undefined });
  return readOpenedKmsg(src, opts);
}

/** Parses, counts gaps, formats and prints records. */
class Printer {
  readonly stats: KmsgStats = { records: 0, skipped: 0, malformed: 0 };
  lastSeq: number | undefined;

  constructor(
    private readonly opts: KmsgReadOptions,
    private readonly bootSec: number,
    private readonly bootNsec: number,
  ) {}

  /** Returns the record, or undefined if it was malformed; gap = records missing just before it. */
  parse(bytes: Buffer): { record: KmsgRecord; gap: number } | undefined {
    const record = parseKmsgRecord(bytes);
    if (!record) {
      this.stats.malformed++;
      return undefined;
    }
    // A seq that goes back (a file rewritten, or captures run together) starts counting afresh.
    const gap = this.lastSeq !== undefined && record.seq > this.lastSeq ? record.seq - this.lastSeq - 1 : 0;
    this.stats.skipped += gap;
    this.stats.records++;
    this.lastSeq = record.seq;
    return { record, gap };
  }

  async print(record: KmsgRecord): Promise<void> {
    await this.opts.out(formatUpstream(record, this.bootSec, this.bootNsec), record);
  }
}

/** One record per read. */
async function readDevice(fd: number, opts: KmsgReadOptions, printer: Printer): Promise<void> {
  const { path, signal } = opts;
  let buf = Buffer.allocUnsafe(opts.readBufferSize ?? READ_BUFFER);
  /** EPIPE seen: the next record tells how many were lost. */
  let overrun = false;
  for (;;) {
    if (signal?.aborted) break;
    let n: number;
    try {
      n = await readFd(fd, buf, null);
    } catch (err) {
      const code = errCode(err);
      if (code === 'EPIPE') {
        overrun = true;
        continue;
      }
      if (code === 'EAGAIN' || code === 'EWOULDBLOCK') {
        if (!opts.follow) break;
        await pause(DEVICE_POLL_MS, signal);
        continue;
      }
      if (code === 'EINTR') continue;
      if (code === 'EINVAL') {
        // The kernel keeps its position on EINVAL, so the same read would fail forever: grow, or stop.
        if (buf.length >= MAX_READ_BUFFER) {
          throw new Error(`cannot read ${path}: invalid argument (EINVAL) even with a ${MAX_READ_BUFFER}-byte buffer; stopping`);
        }
        const size = buf.length * 4;
        opts.warn(`a record did not fit in ${buf.length} bytes (EINVAL); reading it again with ${size}`);
        buf = Buffer.allocUnsafe(size);
        continue;
      }
      throw cannotRead(path, err, true);
    }
    // /dev/kmsg never returns 0; another device might, and reading on would spin.
    if (n === 0) break;
    const parsed = printer.parse(buf.subarray(0, n));
    if (!parsed) continue;
    if (overrun) {
      opts.warn(
        parsed.gap > 0
          ? `${parsed.gap} records lost: the kernel overwrote them before they were read`
          : 'records lost: the kernel overwrote them before they were read',
      );
      overrun = false;
    }
    await printer.print(parsed.record);
  }
  if (overrun) opts.warn('records lost: the kernel overwrote them before they were read');
}

/** A splitter for a stream of records, each complete record pushed onto records. */
function recordSplitter(records: Buffer[], printer: Printer): KmsgSplitter {
  return new KmsgSplitter(
    (record) => records.push(record),
    () => printer.stats.malformed++,
  );
}

/**
 * What a reader of a stream of records (a file, a FIFO) does with one read:
 * n bytes taken; or none, and then with `ended` what was sent is complete, and
 * with `quiet` (a wait brought nothing) a record held back is complete too.
 */
function feed(splitter: KmsgSplitter, chunk: Buffer, n: number, ended: boolean, quiet: boolean): void {
  if (n > 0) splitter.push(chunk.subarray(0, n));
  else if (ended) splitter.end();
  else if (quiet) splitter.flush();
}

/** Prints the records split off so far, and forgets them. */
async function printRecords(records: Buffer[], printer: Printer): Promise<void> {
  for (const bytes of records.splice(0)) {
    const parsed = printer.parse(bytes);
    if (parsed) await printer.print(parsed.record);
  }
}

/** A file of records back to back; with follow, also what is appended later. */
async function readFile(fd: number, opts: KmsgReadOptions, printer: Printer): Promise<void> {
  const { path, signal } = opts;
  const chunk = Buffer.allocUnsafe(FILE_CHUNK);
  const records: Buffer[] = [];
  let splitter = recordSplitter(records, printer);
  let position = 0;
  /** The last wait brought nothing new. */
  let quiet = false;
  let watcher: fs.FSWatcher | undefined;
  let watchFailed = false;
  try {
    for (;;) {
      if (signal?.aborted) return;
      let n: number;
      try {
        n = await readFd(fd, chunk, position);
      } catch (err) {
        throw cannotRead(path, err, false);
      }
      feed(splitter, chunk, n, !opts.follow, quiet);
      if (n > 0) {
        position += n;
        quiet = false;
      }
      await printRecords(records, printer);
      if (n > 0) continue;
      if (!opts.follow) return;
      // A file cut short (rewritten in place) is read again from the start.
      if (fs.fstatSync(fd).size < position) {
        opts.warn(`${path} got shorter; reading it again from the start`);
        position = 0;
        splitter = recordSplitter(records, printer);
        printer.lastSeq = undefined;
        continue;
      }
      if (!watcher && !watchFailed) {
        try {
          watcher = fs.watch(path, { persistent: true });
          watcher.on('error', () => {
            watcher?.close();
            watcher = undefined;
            watchFailed = true;
          });
        } catch {
          watchFailed = true; // e.g. out of inotify watches: the poll alone will do.
        }
      }
      await pause(splitter.pending ? FILE_SETTLE_MS : FILE_POLL_MS, signal, watcher);
      quiet = true;
    }
  } finally {
    watcher?.close();
  }
}

/**
 * A FIFO of records back to back, read non-blocking (see the top): EAGAIN
 * means a writer is there but quiet, 0 that no writer is (yet, or any more).
 * Following, both are waited out by polling; without follow, either ends it.
 */
async function readPipe(fd: number, opts: KmsgReadOptions, printer: Printer): Promise<void> {
  const { path, signal } = opts;
  const chunk = Buffer.allocUnsafe(FILE_CHUNK);
  const records: Buffer[] = [];
  const splitter = recordSplitter(records, printer);
  /** The last wait brought nothing new: a record held back is complete. */
  let quiet = false;
  for (;;) {
    if (signal?.aborted) return;
    let n: number;
    try {
      n = await readFd(fd, chunk, null);
    } catch (err) {
      const code = errCode(err);
      if (code === 'EINTR') continue;
      if (code !== 'EAGAIN' && code !== 'EWOULDBLOCK') throw cannotRead(path, err, false);
      n = -1;
    }
    // n === 0: the writer closed, so what it sent is complete (as when we stop here).
    feed(splitter, chunk, n, n === 0 || !opts.follow, quiet);
    if (n > 0) quiet = false;
    await printRecords(records, printer);
    if (n > 0) continue;
    if (!opts.follow) return;
    await pause(n < 0 && splitter.pending ? FILE_SETTLE_MS : DEVICE_POLL_MS, signal);
    quiet = n < 0;
  }
}
