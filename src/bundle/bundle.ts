/**
 * `memlog bundle`: one .tar.gz with everything needed to diagnose a machine's
 * logging: the ring as memlogd holds it (JSON lines and logread text), the
 * persister's files, the kernel log, the init config, and a summary.
 *
 * Memory stays flat whatever the sizes: the dump and the kernel log are
 * streamed to temporary files first (a tar header needs the size before the
 * data), then every member is streamed into a tar-stream pack, through gzip,
 * into FILE.tmp, which is renamed to FILE only once complete.
 *
 * A live log file may grow while it is read: each member is read up to the
 * size fstat gave when it was opened, so the header's size is always the
 * number of bytes written; a file that shrank meanwhile is padded with zero
 * bytes (the header is out by then) and a note says so.
 */
import fs from 'node:fs';
import type { Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../paths.js';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { pack as tarPack, type Header, type Pack } from 'tar-stream';
import { ConnectError, connectQuery, connectResume, LineReader, parseEntry } from '../clients/query-client.js';
import { formatText } from '../clients/logread.js';
import { MODE_DUMP } from '../protocol/wire.js';
import { DEFAULT_KMSG_DEVICE, readKmsg } from '../kmsg/reader.js';

export interface BundleOptions {
  /** FILE.tar.gz; written to FILE.tar.gz.tmp, then renamed. */
  output: string;
  /** memlogd's query socket. */
  querySocket: string;
  /** The persister's directory: every regular file in it (recursively) goes under logs/. */
  logDir?: string;
  /** An init config file, included as config.yml. */
  config?: string;
  /** Default /dev/kmsg; included as kmsg.txt when readable. */
  kmsgDevice?: string;
  /** A short status line now and then (at most every PROGRESS_MS, and at each step). */
  progress?: (text: string) => void;
  /** Stops the bundle: createBundle rejects with "interrupted" and leaves no file behind. */
  signal?: AbortSignal;
}

export interface BundleSummary {
  output: string;
  /** Ring entries in the bundle. */
  entries: number;
  /** Files from the log directory in the bundle. */
  files: number;
  /** Size of the archive written. */
  bytes: number;
  memlogdReachable: boolean;
  /** Whatever was skipped or went wrong along the way, one line each. */
  notes: string[];
}

/** summary.json in the archive. */
export interface BundleReport {
  created: string;
  memlogd: {
    reachable: boolean;
    error?: string;
    daemon?: string;
    first?: number;
    next?: number;
    /** = first: entries the ring has dropped since the daemon started. */
    dropped?: number;
    /** Time of the "memlogd started" entry, if the ring still holds it. */
    startedAt?: string;
  };
  sources: Record<string, { lines: number; bytes: number }>;
  lossMarkers: number;
  files: { count: number; bytes: number };
  kmsg: { included: boolean; note?: string; records?: number };
  host: { hostname: string; kernel: string; uptimeSeconds: number; node: string; memlog: string };
  config?: string;
  notes: string[];
}

const PROGRESS_MS = 100;
/** A dump that sends nothing for this long is given up (a wedged daemon must not hang the bundle). */
const DUMP_IDLE_MS = 30_000;
/** Zero bytes to pad a file that shrank while being read. */
const PAD = Buffer.alloc(64 * 1024);
/** Warnings about the kernel log copied into the notes, at most. */
const MAX_KMSG_WARNINGS = 3;

export async function createBundle(opts: BundleOptions): Promise<BundleSummary> {
  const created = new Date();
  const top = `memlog-bundle-${compactUtc(created)}`;
  const notes: string[] = [];
  let lastProgress = 0;
  const progress = (text: string, force = false): void => {
    if (!opts.progress) return;
    const now = Date.now();
    if (!force && now - lastProgress < PROGRESS_MS) return;
    lastProgress = now;
    opts.progress(text);
  };

  const { signal } = opts;
  const checkAborted = (): void => {
    if (signal?.aborted) throw new Error('interrupted');
  };
  checkAborted();
  const tmpOutput = `${opts.output}.tmp`;
  let out: fs.promises.FileHandle;
  try {
    out = await fs.promises.open(tmpOutput, 'w', 0o600);
  } catch (err) {
    throw new Error(`cannot write ${opts.output}: ${describe(err, path.dirname(path.resolve(opts.output)))}`);
  }
  let work: string | undefined;
  let complete = false;
  try {
    const outStat = await out.stat();
    const workDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'memlog-bundle-'));
    work = workDir;
    // 1. The ring, to temporary files.
    progress('ring: connecting', true);
    const ring = await captureRing(opts.querySocket, workDir, notes, (n) => progress(`ring: ${n} entries`), signal);
    checkAborted();
    progress(`ring: ${ring.entries} entries`, true);

    // 2. The kernel log, to a temporary file.
    const kmsgDevice = opts.kmsgDevice ?? DEFAULT_KMSG_DEVICE;
    progress('kmsg: reading', true);
    const kmsg = await captureKmsg(kmsgDevice, path.join(workDir, 'kmsg.txt'), notes, signal);
    checkAborted();

    // 3. What else goes in.
    const logItems = opts.logDir !== undefined ? await listLogDir(opts.logDir, notes) : [];
    checkAborted();
    const logFileCount = logItems.filter((i) => i.kind === 'file').length;
    let config: string | undefined = opts.config;
    if (config !== undefined) {
      try {
        const st = await fs.promises.stat(config);
        if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'ENOTFILE' });
      } catch (err) {
        notes.push(`config ${config} not included: ${describe(err)}`);
        config = undefined;
      }
    }

    // 4. The archive.
    const pack = tarPack();
    // A failure reaches the pipeline through the pack's iterator; without a listener, 'error' would be thrown.
    pack.on('error', () => {});
    // The stream closes the handle when done (a FileHandle with a stream still on it cannot be closed otherwise).
    const archived = pipeline(Readable.from(pack), createGzip(), out.createWriteStream());
    const files = { count: 0, bytes: 0 };
    const onAbort = (): void => pack.destroy(new Error('interrupted'));
    signal?.addEventListener('abort', onAbort, { once: true });
    const fill = async (): Promise<void> => {
      await addDirectory(pack, `${top}/`, created);
      await addBuffer(pack, `${top}/README.txt`, readme(ring.reachable, kmsg.included, logItems.length > 0, config !== undefined), created);
      if (ring.files) {
        await addFile(pack, `${top}/ring.jsonl`, ring.files.jsonl, { noFollow: true, notes });
        await addFile(pack, `${top}/ring.txt`, ring.files.txt, { noFollow: true, notes });
      }
      if (kmsg.included) await addFile(pack, `${top}/kmsg.txt`, path.join(workDir, 'kmsg.txt'), { noFollow: true, notes });
      if (config !== undefined) {
        const added = await addFile(pack, `${top}/config.yml`, config, { noFollow: false, notes });
        if (added === undefined) config = undefined;
      }
      if (logItems.length > 0 && opts.logDir !== undefined) {
        await addDirectory(pack, `${top}/logs/`, created);
        for (const item of logItems) {
          const name = `${top}/logs/${item.rel}`;
          if (item.kind === 'dir') {
            await addDirectory(pack, `${name}/`, created);
            continue;
          }
          const added = await addFile(pack, name, path.join(opts.logDir, item.rel), {
            noFollow: true,
            notes,
            skip: (st) => st.dev === outStat.dev && st.ino === outStat.ino,
            onBytes: (n) => progress(`logs: ${files.count}/${logFileCount} files, ${mb(files.bytes + n)}`),
          });
          if (added !== undefined) {
            files.count++;
            files.bytes += added;
          }
          progress(`logs: ${files.count}/${logFileCount} files, ${mb(files.bytes)}`);
        }
      }
      const report: BundleReport = {
        created: created.toISOString(),
        memlogd: ring.memlogd,
        sources: Object.fromEntries(ring.sources),
        lossMarkers: ring.lossMarkers,
        files,
        kmsg: { included: kmsg.included, ...(kmsg.note !== undefined ? { note: kmsg.note } : {}), ...(kmsg.included ? { records: kmsg.records } : {}) },
        host: {
          hostname: os.hostname(),
          kernel: os.release(),
          uptimeSeconds: os.uptime(),
          node: process.version,
          memlog: memlogVersion(),
        },
        ...(config !== undefined ? { config } : {}),
        notes,
      };
      await addBuffer(pack, `${top}/summary.json`, JSON.stringify(report, null, 2) + '\n', created);
      pack.finalize();
    };
    const filled = fill().catch((err: unknown) => {
      // Unblock the pipeline: it ends with the same error.
      pack.destroy(err instanceof Error ? err : new Error(String(err)));
      throw err;
    });
    const [fillResult, archiveResult] = await Promise.allSettled([filled, archived]);
    signal?.removeEventListener('abort', onAbort);
    checkAborted();
    // The output's own failure (ENOSPC...) first; a failure of fill() ends the pipeline with that same error.
    if (archiveResult.status === 'rejected' && (fillResult.status === 'fulfilled' || archiveResult.reason !== fillResult.reason)) {
      throw new Error(`cannot write ${opts.output}: ${describe(archiveResult.reason)}`);
    }
    if (fillResult.status === 'rejected') throw fillResult.reason;
    // On disk before the rename, so that FILE is never a half file, even after a crash.
    const written = await fs.promises.open(tmpOutput, 'r');
    let bytes: number;
    try {
      await written.sync();
      bytes = (await written.stat()).size;
    } finally {
      await written.close();
    }
    await fs.promises.rename(tmpOutput, opts.output);
    complete = true;
    progress(`done: ${mb(bytes)}`, true);
    return {
      output: opts.output,
      entries: ring.entries,
      files: files.count,
      bytes,
      memlogdReachable: ring.reachable,
      notes,
    };
  } finally {
    await out.close().catch(() => {});
    if (work !== undefined) await fs.promises.rm(work, { recursive: true, force: true }).catch(() => {});
    if (!complete) await fs.promises.rm(tmpOutput, { force: true }).catch(() => {});
  }
}

/** 2026-11-28T10:15:00.123Z -> 20261128T101500Z */
function compactUtc(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(bytes < 1e6 ? 2 : 1)} MB`;
}

const REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ELOOP: 'is a symbolic link (not followed)',
  ENOSPC: 'no space left on device',
  EROFS: 'read-only file system',
  ENOTFILE: 'not a regular file',
};

/** A short reason for a failed fs call; with dir, an ENOENT says the directory is missing. */
function describe(err: unknown, dir?: string): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' && dir !== undefined) return `directory ${dir} does not exist`;
  if (code !== undefined && REASONS[code] !== undefined) return REASONS[code];
  return (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ');
}

let cachedVersion: string | undefined;

function memlogVersion(): string {
  if (cachedVersion === undefined) {
    try {
      // dist/src/bundle/bundle.js (and src/bundle/bundle.ts) -> the package's root.
      const pkg = JSON.parse(fs.readFileSync(path.join(projectRoot(), 'package.json'), 'utf8')) as { version?: unknown };
      cachedVersion = typeof pkg.version === 'string' ? pkg.version : 'unknown';
    } catch {
      cachedVersion = 'unknown';
    }
  }
  return cachedVersion;
}

function readme(ring: boolean, kmsg: boolean, logs: boolean, config: boolean): string {
  const lines = ['memlog diagnostics bundle (memlog bundle). summary.json: memlogd state, lines per source, files, kernel log, host.'];
  if (ring) lines.push("ring.jsonl: memlogd's ring as its dump sent it, one JSON entry per line; ring.txt: the same as logread text (time;source;msg).");
  const rest: string[] = [];
  if (logs) rest.push("logs/: the persister's files (X.log, rotated X.log.N[.gz], state files) as they were");
  if (kmsg) rest.push('kmsg.txt: the kernel log, as memlog kmsg prints it');
  if (config) rest.push('config.yml: the init config');
  if (rest.length > 0) lines.push(rest.join('; ') + '.');
  return lines.join('\n') + '\n';
}

// ---- memlogd ------------------------------------------------------------

interface RingCapture {
  reachable: boolean;
  memlogd: BundleReport['memlogd'];
  entries: number;
  sources: Map<string, { lines: number; bytes: number }>;
  lossMarkers: number;
  /** The temporary files, when memlogd answered the dump. */
  files?: { jsonl: string; txt: string };
}

async function captureRing(
  socketPath: string,
  work: string,
  notes: string[],
  onEntries: (n: number) => void,
  signal: AbortSignal | undefined,
): Promise<RingCapture> {
  const ring: RingCapture = { reachable: false, memlogd: { reachable: false }, entries: 0, sources: new Map(), lossMarkers: 0 };
  // The daemon's id and sequence numbers, from a resume hello.
  try {
    const conn = await connectResume(socketPath, {});
    conn.socket.destroy();
    ring.reachable = true;
    if (conn.hello) {
      const { daemon, first, next } = conn.hello;
      Object.assign(ring.memlogd, { daemon, first, next, dropped: first });
    } else {
      notes.push(`memlogd at ${socketPath} did not answer a resume request (an upstream memlogd?): no daemon id or sequence numbers`);
    }
  } catch (err) {
    if (err instanceof ConnectError) return unreachable(ring, socketPath, err, notes);
    // It answered, but not with a hello: the dump may still work.
    notes.push(`memlogd at ${socketPath}: ${describe(err)}`);
  }
  // The entries, from a plain dump.
  const files = { jsonl: path.join(work, 'ring.jsonl'), txt: path.join(work, 'ring.txt') };
  let socket: Socket;
  try {
    socket = await connectQuery(socketPath, MODE_DUMP);
  } catch (err) {
    if (err instanceof ConnectError) return unreachable(ring, socketPath, err, notes);
    throw err;
  }
  ring.reachable = true;
  ring.memlogd.reachable = true;
  ring.files = files;
  const jsonl = fs.createWriteStream(files.jsonl);
  const txt = fs.createWriteStream(files.txt);
  const lines = new LineReader();
  let malformed = 0;
  const onAbort = (): void => {
    socket.destroy(new Error('interrupted'));
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await new Promise<void>((resolve, reject) => {
      let waiting = 0;
      const drained = (): void => {
        if (--waiting === 0) socket.resume();
      };
      const fail = (err: Error): void => reject(err);
      jsonl.on('error', fail);
      txt.on('error', fail);
      socket.setTimeout(DUMP_IDLE_MS, () => socket.destroy(new Error(`memlogd sent nothing for ${DUMP_IDLE_MS / 1000} s`)));
      socket.on('data', (chunk: Buffer) => {
        let text = '';
        lines.push(chunk, (line) => {
          const entry = parseEntry(line);
          if (!entry) {
            malformed++;
            return;
          }
          ring.entries++;
          text += formatText(entry);
          // parseEntry returns the parsed object itself, so extension fields are still on it.
          if (Object.prototype.hasOwnProperty.call(entry, 'lost')) ring.lossMarkers++;
          if (entry.source === 'memlogd' && entry.msg === 'memlogd started' && ring.memlogd.startedAt === undefined) {
            ring.memlogd.startedAt = entry.time;
          }
          let s = ring.sources.get(entry.source);
          if (!s) ring.sources.set(entry.source, (s = { lines: 0, bytes: 0 }));
          s.lines++;
          s.bytes += Buffer.byteLength(entry.msg);
        });
        // The raw bytes, exactly as the daemon sent them.
        if (!jsonl.write(chunk)) {
          waiting++;
          jsonl.once('drain', drained);
        }
        if (text !== '' && !txt.write(text)) {
          waiting++;
          txt.once('drain', drained);
        }
        if (waiting > 0) socket.pause();
        onEntries(ring.entries);
      });
      socket.on('end', () => resolve());
      socket.on('error', (err) => reject(new Error(`the dump from ${socketPath} failed: ${err.message}`)));
      socket.on('close', () => resolve()); // after 'end' or 'error', this changes nothing
    });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    ring.memlogd.error = message;
    notes.push(`${message}: the ring in the bundle is partial`);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    socket.destroy();
    await Promise.all([endStream(jsonl), endStream(txt)]);
  }
  if (lines.pending > 0) notes.push(`the dump from ${socketPath} ended in the middle of a line (${lines.pending} bytes)`);
  if (malformed > 0) notes.push(`${malformed} lines of the dump from ${socketPath} were not entries (kept in ring.jsonl)`);
  return ring;
}

function unreachable(ring: RingCapture, socketPath: string, err: ConnectError, notes: string[]): RingCapture {
  const prefix = `cannot connect to ${socketPath}: `;
  const detail = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
  ring.reachable = false;
  ring.memlogd = { reachable: false, error: err.message };
  ring.files = undefined;
  notes.push(`memlogd not reachable at ${socketPath} (${detail}): files only`);
  return ring;
}

/** Ends a write stream and waits until its data is on disk (or it failed: the error is thrown). */
function endStream(stream: fs.WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    if (stream.destroyed) {
      resolve();
      return;
    }
    stream.once('error', reject);
    stream.end(() => resolve());
  });
}

// ---- the kernel log -----------------------------------------------------

async function captureKmsg(
  device: string,
  file: string,
  notes: string[],
  signal: AbortSignal | undefined,
): Promise<{ included: boolean; note?: string; records: number }> {
  const out = fs.createWriteStream(file);
  let writeError: Error | undefined;
  out.on('error', (err) => (writeError ??= err));
  let records = 0;
  let warnings = 0;
  let failure: string | undefined;
  try {
    await readKmsg({
      path: device,
      follow: false,
      signal,
      out: (line) => {
        if (writeError) throw writeError;
        records++;
        if (out.write(line + '\n')) return;
        return new Promise<void>((resolve) => out.once('drain', resolve));
      },
      warn: (msg) => {
        if (++warnings <= MAX_KMSG_WARNINGS) notes.push(`kmsg: ${msg}`);
      },
    });
  } catch (err) {
    failure = err instanceof Error ? err.message : String(err);
  }
  try {
    await endStream(out);
  } catch (err) {
    failure ??= `cannot write a temporary copy of ${device}: ${describe(err)}`;
    records = 0;
  }
  if (failure !== undefined && records === 0) {
    const note = `kmsg not included: ${failure}`;
    notes.push(note);
    return { included: false, note, records: 0 };
  }
  if (failure !== undefined) {
    const note = `kmsg.txt is partial: ${failure}`;
    notes.push(note);
    return { included: true, note, records };
  }
  return { included: true, records };
}

// ---- the log directory --------------------------------------------------

interface LogItem {
  kind: 'dir' | 'file';
  /** Relative to the log directory, with `/` between components. */
  rel: string;
}

/** Directories and regular files under dir, sorted, not following symlinks; anything else is counted in a note. */
async function listLogDir(dir: string, notes: string[]): Promise<LogItem[]> {
  try {
    const st = await fs.promises.stat(dir);
    if (!st.isDirectory()) {
      notes.push(`log directory ${dir} is not a directory: no log files`);
      return [];
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    notes.push(code === 'ENOENT' ? `log directory ${dir} does not exist: no log files` : `log directory ${dir}: ${describe(err)}: no log files`);
    return [];
  }
  const items: LogItem[] = [];
  let skipped = 0;
  const walk = async (rel: string): Promise<void> => {
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(rel === '' ? dir : path.join(dir, rel), { withFileTypes: true });
    } catch (err) {
      notes.push(`cannot list ${path.join(dir, rel)}: ${describe(err)}`);
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const child = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) {
        items.push({ kind: 'dir', rel: child });
        await walk(child);
      } else if (e.isFile()) {
        items.push({ kind: 'file', rel: child });
      } else {
        skipped++;
      }
    }
  };
  await walk('');
  if (skipped > 0) notes.push(`${skipped} entries under ${dir} are not regular files or directories (symlinks, sockets...): not included`);
  return items;
}

// ---- tar members --------------------------------------------------------

type Sink = ReturnType<Pack['entry']>;

/** Adds one member; body writes its data (exactly header.size bytes). Resolves once tar-stream has taken it all. */
async function addEntry(pack: Pack, header: Partial<Header> & { name: string }, body?: (sink: Sink) => Promise<void>): Promise<void> {
  let sink: Sink | undefined;
  const done = new Promise<void>((resolve, reject) => {
    sink = pack.entry(header, (err) => (err ? reject(err) : resolve()));
  });
  const s = sink as Sink;
  // Its failure comes back through the entry's callback (done); without a listener, 'error' would be thrown.
  s.on('error', () => {});
  try {
    if (body) await body(s);
    s.end(undefined);
  } catch (err) {
    s.destroy(err instanceof Error ? err : new Error(String(err)));
    await done.catch(() => {});
    throw err;
  }
  await done;
}

function addDirectory(pack: Pack, name: string, mtime: Date): Promise<void> {
  return addEntry(pack, { name, type: 'directory', mode: 0o755, mtime });
}

function addBuffer(pack: Pack, name: string, text: string, mtime: Date): Promise<void> {
  const data = Buffer.from(text);
  return addEntry(pack, { name, type: 'file', mode: 0o644, mtime, size: data.length }, (sink) => write(sink, data));
}

/** Writes a chunk; resolves at once, or once the sink drains; rejects if the sink goes away meanwhile. */
function write(sink: Sink, chunk: Buffer): Promise<void> {
  if (sink.write(chunk)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onDrain = (): void => {
      sink.off('close', onClose);
      resolve();
    };
    const onClose = (): void => {
      sink.off('drain', onDrain);
      reject(new Error('the archive stream was closed'));
    };
    sink.once('drain', onDrain);
    sink.once('close', onClose);
  });
}

/**
 * Adds the regular file at abs, read up to the size it had when opened.
 * Returns the bytes added, or undefined if it was skipped (with a note, unless skip() said so).
 */
async function addFile(
  pack: Pack,
  name: string,
  abs: string,
  opts: { noFollow: boolean; notes: string[]; skip?: (st: fs.Stats) => boolean; onBytes?: (n: number) => void },
): Promise<number | undefined> {
  const { constants } = fs;
  let handle: fs.promises.FileHandle;
  try {
    // O_NONBLOCK: a FIFO swapped in since the listing must not block the open.
    handle = await fs.promises.open(abs, constants.O_RDONLY | constants.O_NONBLOCK | (opts.noFollow ? constants.O_NOFOLLOW : 0));
  } catch (err) {
    opts.notes.push(`${abs} not included: ${describe(err)}`);
    return undefined;
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) {
      opts.notes.push(`${abs} not included: not a regular file`);
      return undefined;
    }
    if (opts.skip?.(st)) return undefined;
    const size = st.size;
    await addEntry(pack, { name, type: 'file', size, mode: st.mode & 0o7777, mtime: st.mtime }, async (sink) => {
      let written = 0;
      let readError: string | undefined;
      if (size > 0) {
        const stream = fs.createReadStream(abs, { fd: handle, start: 0, end: size - 1, autoClose: false });
        try {
          for await (const chunk of stream as AsyncIterable<Buffer>) {
            // end bounds the read; this only guards against a stream that gives more anyway.
            const part = written + chunk.length > size ? chunk.subarray(0, size - written) : chunk;
            written += part.length;
            await write(sink, part);
            opts.onBytes?.(written);
            if (written >= size) break;
          }
        } catch (err) {
          // The archive failing is fatal; the file failing (EIO...) only spoils this member.
          if (sink.destroyed || sink.destroying) throw err;
          readError = describe(err);
        }
      }
      if (written < size) {
        opts.notes.push(
          readError !== undefined
            ? `${abs}: reading failed after ${written} of ${size} bytes (${readError}): padded with zero bytes in the bundle`
            : `${abs} shrank from ${size} to ${written} bytes while it was read: padded with zero bytes in the bundle`,
        );
        while (written < size) {
          const n = Math.min(PAD.length, size - written);
          await write(sink, PAD.subarray(0, n));
          written += n;
        }
      }
    });
    return size;
  } finally {
    await handle.close().catch(() => {});
  }
}
