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
import os from 'node:os';
import path from 'node:path';
import { Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { pack as tarPack } from 'tar-stream';
import { DEFAULT_KMSG_DEVICE } from '../kmsg/reader.js';
import { describe } from './files.js';
import { memlogVersion } from '../version.js';
import { captureKmsg } from './kmsg.js';
import { listLogDir } from './log-dir.js';
import { readForwardState, type ForwardCursorReport } from './forward-state.js';
import { captureRing, type MemlogdReport } from './ring.js';
import { addBuffer, addDirectory, addFile } from './tar.js';

export interface BundleOptions {
  /**
   * FILE.tar.gz; written to FILE.tar.gz.tmp, then renamed. Or a stream the
   * archive is written to as it is made (memlog web's download), named `name`
   * in the summary; it is ended when the archive is, destroyed on a failure.
   */
  output: string | { stream: Writable; name: string };
  /** memlogd's query socket. */
  querySocket: string;
  /** The persister's directory: every regular file in it (recursively) goes under logs/. */
  logDir?: string;
  /** The forwarder's state directory: its cursor files go under forward/, what they say into the summary. */
  forwardStateDir?: string;
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
  memlogd: MemlogdReport;
  sources: Record<string, { lines: number; bytes: number }>;
  lossMarkers: number;
  files: { count: number; bytes: number };
  kmsg: { included: boolean; note?: string; records?: number };
  host: { hostname: string; kernel: string; uptimeSeconds: number; node: string; memlog: string };
  config?: string;
  /** Each destination's cursor, and how far behind the ring it is. */
  forward?: ForwardCursorReport[];
  notes: string[];
}

const PROGRESS_MS = 100;

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
  const sink = typeof opts.output === 'string' ? undefined : opts.output.stream;
  const outputName = typeof opts.output === 'string' ? opts.output : opts.output.name;
  const tmpOutput = `${outputName}.tmp`;
  let out: fs.promises.FileHandle | undefined;
  if (sink === undefined) {
    try {
      out = await fs.promises.open(tmpOutput, 'w', 0o600);
    } catch (err) {
      throw new Error(`cannot write ${outputName}: ${describe(err, path.dirname(path.resolve(outputName)))}`);
    }
  }
  let work: string | undefined;
  let complete = false;
  try {
    // The output file, so that a log directory holding it does not put it in itself.
    const outStat = out ? await out.stat() : undefined;
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
    const forward = opts.forwardStateDir !== undefined ? await readForwardState(opts.forwardStateDir, ring.memlogd, notes) : undefined;
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
    let streamed = 0;
    const counted = new Transform({
      transform(chunk: Buffer, _enc, done) {
        streamed += chunk.length;
        done(null, chunk);
      },
    });
    const archived = pipeline(Readable.from(pack), createGzip(), counted, sink ?? (out as fs.promises.FileHandle).createWriteStream());
    const files = { count: 0, bytes: 0 };
    const onAbort = (): void => pack.destroy(new Error('interrupted'));
    signal?.addEventListener('abort', onAbort, { once: true });
    const fill = async (): Promise<void> => {
      await addDirectory(pack, `${top}/`, created);
      await addBuffer(pack, `${top}/README.txt`, readme(ring.reachable, kmsg.included, logItems.length > 0, config !== undefined, (forward?.length ?? 0) > 0), created);
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
            skip: (st) => outStat !== undefined && st.dev === outStat.dev && st.ino === outStat.ino,
            onBytes: (n) => progress(`logs: ${files.count}/${logFileCount} files, ${mb(files.bytes + n)}`),
          });
          if (added !== undefined) {
            files.count++;
            files.bytes += added;
          }
          progress(`logs: ${files.count}/${logFileCount} files, ${mb(files.bytes)}`);
        }
      }
      if (forward && forward.length > 0 && opts.forwardStateDir !== undefined) {
        await addDirectory(pack, `${top}/forward/`, created);
        for (const c of forward) await addFile(pack, `${top}/forward/${c.file}`, path.join(opts.forwardStateDir, c.file), { noFollow: true, notes });
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
        ...(forward !== undefined ? { forward } : {}),
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
      throw new Error(`cannot write ${outputName}: ${describe(archiveResult.reason)}`);
    }
    if (fillResult.status === 'rejected') throw fillResult.reason;
    if (sink !== undefined) {
      complete = true;
      return { output: outputName, entries: ring.entries, files: files.count, bytes: streamed, memlogdReachable: ring.reachable, notes };
    }
    // On disk before the rename, so that FILE is never a half file, even after a crash.
    const written = await fs.promises.open(tmpOutput, 'r');
    let bytes: number;
    try {
      await written.sync();
      bytes = (await written.stat()).size;
    } finally {
      await written.close();
    }
    await fs.promises.rename(tmpOutput, outputName);
    complete = true;
    progress(`done: ${mb(bytes)}`, true);
    return {
      output: outputName,
      entries: ring.entries,
      files: files.count,
      bytes,
      memlogdReachable: ring.reachable,
      notes,
    };
  } finally {
    await out?.close().catch(() => {});
    if (work !== undefined) await fs.promises.rm(work, { recursive: true, force: true }).catch(() => {});
    if (!complete && sink === undefined) await fs.promises.rm(tmpOutput, { force: true }).catch(() => {});
  }
}

/** 2026-11-28T10:15:00.123Z -> 20261128T101500Z */
export function compactUtc(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(bytes < 1e6 ? 2 : 1)} MB`;
}

function readme(ring: boolean, kmsg: boolean, logs: boolean, config: boolean, forward: boolean): string {
  const lines = ['memlog diagnostics bundle (memlog bundle). summary.json: memlogd state, lines per source, files, kernel log, host.'];
  if (ring) lines.push("ring.jsonl: memlogd's ring as its dump sent it, one JSON entry per line; ring.txt: the same as logread text (time;source;msg).");
  const rest: string[] = [];
  if (logs) rest.push("logs/: the persister's files (X.log, rotated X.log.N[.gz], state files) as they were");
  if (kmsg) rest.push('kmsg.txt: the kernel log, as memlog kmsg prints it');
  if (config) rest.push('config.yml: the init config');
  if (forward) rest.push("forward/: the forwarder's cursor per destination (summary.json says how far behind the ring each is)");
  if (rest.length > 0) lines.push(rest.join('; ') + '.');
  return lines.join('\n') + '\n';
}
