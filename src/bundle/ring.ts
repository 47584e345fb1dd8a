/** The bundle's ring: memlogd's id and sequence numbers, then its entries from a dump, to temporary files. */
import fs from 'node:fs';
import type { Socket } from 'node:net';
import path from 'node:path';
import { formatText } from '../clients/entry-formats.js';
import { ConnectError, connectQuery, LineReader, parseEntry, queryStatus } from '../clients/query-client.js';
import { MODE_DUMP } from '../protocol/wire.js';
import { describe, endStream } from './files.js';

/** A dump that sends nothing for this long is given up (a wedged daemon must not hang the bundle). */
const DUMP_IDLE_MS = 30_000;

/** summary.json's memlogd. */
export interface MemlogdReport {
  reachable: boolean;
  error?: string;
  daemon?: string;
  first?: number;
  next?: number;
  /** = first: entries the ring has dropped since the daemon started. */
  dropped?: number;
  /** Time of the "memlogd started" entry, if the ring still holds it. */
  startedAt?: string;
}

export interface RingCapture {
  reachable: boolean;
  memlogd: MemlogdReport;
  entries: number;
  sources: Map<string, { lines: number; bytes: number }>;
  lossMarkers: number;
  /** The temporary files, when memlogd answered the dump. */
  files?: { jsonl: string; txt: string };
}

export async function captureRing(
  socketPath: string,
  work: string,
  notes: string[],
  onEntries: (n: number) => void,
  signal: AbortSignal | undefined,
): Promise<RingCapture> {
  const ring: RingCapture = { reachable: false, memlogd: { reachable: false }, entries: 0, sources: new Map(), lossMarkers: 0 };
  // The daemon's id and sequence numbers, from its status: one line (a resume request would start a dump and a follow).
  try {
    const status = await queryStatus(socketPath);
    ring.reachable = true;
    const { first, next } = status.ring;
    Object.assign(ring.memlogd, { daemon: status.daemon, first, next, dropped: first });
  } catch (err) {
    if (err instanceof ConnectError) return unreachable(ring, socketPath, err, notes);
    // No status (an upstream memlogd has none) or not one: the dump may still work.
    notes.push(`${describe(err)}: no daemon id or sequence numbers`);
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
