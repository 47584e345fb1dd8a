/**
 * The persister's resume state, kept in the log directory: which daemon it
 * last read from, the sequence number up to which every entry is on disk,
 * and what each live file held at that moment.
 *
 * It is saved after every flush, so it must be cheap: two slot files
 * (`.logwrite-state.0` and `.1`), kept open and overwritten in place, in
 * turn, each record carrying a generation and a checksum. A crash in the
 * middle of a save spoils only the slot being written; loading takes the
 * valid record with the highest generation.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { FileSnapshot } from './log-files.js';

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

function checksum(body: string): string {
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

  /** Overwrites the older slot; throws on a disk error (the other slot still holds the last state). */
  save(state: ResumeState): void {
    const generation = ++this.generation;
    const slot = generation % 2;
    const body = JSON.stringify({ generation, state });
    const bytes = Buffer.from(`${body}\n${checksum(body)}\n`);
    let fd = this.fds[slot];
    if (fd === undefined) {
      fd = fs.openSync(path.join(this.dir, STATE_FILES[slot]), fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o640);
      this.fds[slot] = fd;
    }
    try {
      let off = 0;
      while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off, off);
      fs.ftruncateSync(fd, bytes.length);
    } catch (err) {
      this.closeSlot(slot);
      throw err;
    }
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
