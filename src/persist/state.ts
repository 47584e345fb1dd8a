/**
 * The persister's resume state, kept in the log directory: which daemon it
 * last read from, the sequence number up to which every entry is on disk,
 * and what each live file held at that moment.
 *
 * It is saved after every flush, so it must be cheap: two slot files
 * (`.logwrite-state.0` and `.1`), kept open and overwritten in place, in
 * turn, each record carrying a generation and a checksum. A crash in the
 * middle of a save spoils only the slot being written; loading takes the
 * valid record with the highest generation. It describes a bounded number of
 * files (log-files.ts), and each file's entry is encoded again only when it
 * has changed: a save costs the hash and the write of at most that many
 * entries, however many sources have come and gone.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { syncDir, writeAll } from './file-ops.js';

/** What the state says of one file, DIR/<stem>.log. */
export interface FileSnapshot {
  /** Bytes in the file, up to the end of its last whole line. */
  size: number;
  /** Seq of the last line written for this stem (-1 if none); it stays after a rotation, when that line is in X.log.1. */
  seq: number;
  /**
   * The file's device and inode (0 and 0: there was no file). Crash recovery
   * cuts only this file. Absent in states saved by memlog before it recorded them.
   */
  dev?: number;
  ino?: number;
}

/** A leading dot: no source's file can have these names (see file-names.ts). */
export const STATE_FILES = ['.logwrite-state.0', '.logwrite-state.1'];

export interface ResumeState {
  /** The daemon the sequence numbers belong to. */
  daemon?: string;
  /** Every entry up to and including this one is on disk (-1: none yet). */
  seq: number;
  files: Record<string, FileSnapshot>;
  /** Set when a shutdown wrote out everything that daemon held: its successor need not mark a loss. */
  drained?: boolean;
}

export function emptyState(): ResumeState {
  return { seq: -1, files: {} };
}

interface Record_ {
  generation: number;
  state: ResumeState;
}

function checksum(body: string | Buffer): string {
  return crypto.createHash('sha256').update(body).digest('hex').slice(0, 16);
}

/** One slot's record, or why it is not usable. */
function readSlot(file: string): Record_ | string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    // No directory yet (or none possible) is no state: the files report the directory's problems.
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' ? 'missing' : (err as Error).message;
  }
  // "<json>\n<checksum>\n": a torn write fails the checksum.
  const nl = text.indexOf('\n');
  const body = text.slice(0, nl);
  if (nl < 0 || text.slice(nl + 1, nl + 17) !== checksum(body)) return 'bad checksum';
  try {
    const value = JSON.parse(body) as Record_;
    const s = value.state;
    if (typeof value.generation !== 'number' || typeof s?.seq !== 'number' || typeof s.files !== 'object' || s.files === null) return 'missing fields';
    for (const snap of Object.values(s.files)) {
      if (typeof snap?.size !== 'number' || typeof snap.seq !== 'number') return 'bad file entry';
      if ((snap.dev !== undefined || snap.ino !== undefined) && (typeof snap.dev !== 'number' || typeof snap.ino !== 'number')) return 'bad file entry';
    }
    const state: ResumeState = { daemon: typeof s.daemon === 'string' ? s.daemon : undefined, seq: s.seq, files: s.files };
    if (s.drained === true) state.drained = true;
    return { generation: value.generation, state };
  } catch {
    return 'not JSON';
  }
}

export class StateStore {
  private generation = 0;
  private readonly fds: (number | undefined)[] = [undefined, undefined];
  /** Each file's entry as last encoded, the values it was encoded from, and the generation that last had it. */
  private readonly encoded = new Map<string, FileSnapshot & { json: string; mark: number }>();

  constructor(private readonly dir: string) {}

  /** The newest valid saved state, or an empty one; damage is reported and skipped. */
  load(warn: (msg: string) => void): ResumeState {
    let best: Record_ | undefined;
    for (const name of STATE_FILES) {
      const slot = readSlot(path.join(this.dir, name));
      if (typeof slot === 'string') {
        if (slot !== 'missing') warn(`${path.join(this.dir, name)} is not usable (${slot}); using the other copy`);
      } else if (!best || slot.generation > best.generation) {
        best = slot;
      }
    }
    this.generation = best?.generation ?? 0;
    return best?.state ?? emptyState();
  }

  /**
   * Overwrites the older slot; throws on a disk error (the other slot still
   * holds the last state). With fsync, the record is on disk when it returns.
   */
  save(state: ResumeState, fsync = false): void {
    const generation = ++this.generation;
    const slot = generation % 2;
    // What JSON.stringify({ generation, state }) gives, with each file's entry encoded once while it does not change.
    const daemon = state.daemon === undefined ? '' : `"daemon":${JSON.stringify(state.daemon)},`;
    const drained = state.drained === undefined ? '' : `,"drained":${state.drained}`;
    const body = Buffer.from(`{"generation":${generation},"state":{${daemon}"seq":${state.seq},"files":{${this.encodeFiles(state.files, generation)}}${drained}}}`);
    const bytes = Buffer.concat([body, Buffer.from(`\n${checksum(body)}\n`)]);
    let fd = this.fds[slot];
    if (fd === undefined) {
      fd = fs.openSync(path.join(this.dir, STATE_FILES[slot]), fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o640);
      this.fds[slot] = fd;
      if (fsync) syncDir(this.dir); // the slot's name, should it be new
    }
    try {
      writeAll(fd, bytes, undefined, 0);
      fs.ftruncateSync(fd, bytes.length);
      if (fsync) fs.fsyncSync(fd);
    } catch (err) {
      this.closeSlot(slot);
      throw err;
    }
  }

  /** The files' part of a record: entries that did not change since the last save are not encoded again. */
  private encodeFiles(files: Record<string, FileSnapshot>, mark: number): string {
    const parts: string[] = [];
    for (const stem in files) {
      const f = files[stem];
      let e = this.encoded.get(stem);
      if (e === undefined || e.size !== f.size || e.seq !== f.seq || e.dev !== f.dev || e.ino !== f.ino) {
        e = { size: f.size, seq: f.seq, dev: f.dev, ino: f.ino, json: `${JSON.stringify(stem)}:${JSON.stringify(f)}`, mark };
        this.encoded.set(stem, e);
      } else {
        e.mark = mark;
      }
      parts.push(e.json);
    }
    // Files the state no longer holds are forgotten here too.
    if (this.encoded.size > parts.length) {
      for (const [stem, e] of this.encoded) if (e.mark !== mark) this.encoded.delete(stem);
    }
    return parts.join(',');
  }

  private closeSlot(slot: number): void {
    const fd = this.fds[slot];
    this.fds[slot] = undefined;
    if (fd !== undefined) fs.closeSync(fd);
  }

  close(): void {
    this.closeSlot(0);
    this.closeSlot(1);
  }
}
