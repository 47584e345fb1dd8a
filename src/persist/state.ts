/**
 * The persister's resume state, kept in the log directory: which daemon it
 * last read from, the sequence number up to which every entry is on disk,
 * and what each live file held at that moment. Written to a temporary file
 * and renamed over the old one, so a crash leaves the old state or the new,
 * never half of one.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FileSnapshot } from './log-files.js';

/** A leading dot: no source's file can have this name (see file-names.ts). */
export const STATE_FILE = '.logwrite-state.json';

export interface ResumeState {
  /** The daemon the sequence numbers belong to. */
  daemon?: string;
  /** Every entry up to and including this one is on disk (-1: none yet). */
  seq: number;
  files: Record<string, FileSnapshot>;
}

export function emptyState(): ResumeState {
  return { seq: -1, files: {} };
}

/** The saved state, or an empty one; a state that cannot be read is reported and ignored. */
export function loadState(dir: string, warn: (msg: string) => void): ResumeState {
  const file = path.join(dir, STATE_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') warn(`cannot read ${file}: ${(err as Error).message}; starting afresh`);
    return emptyState();
  }
  try {
    const value = JSON.parse(text) as Partial<ResumeState>;
    if (typeof value.seq !== 'number' || typeof value.files !== 'object' || value.files === null) throw new Error('missing fields');
    for (const snap of Object.values(value.files)) {
      if (typeof snap?.size !== 'number' || typeof snap.seq !== 'number') throw new Error('bad file entry');
    }
    return { daemon: typeof value.daemon === 'string' ? value.daemon : undefined, seq: value.seq, files: value.files };
  } catch (err) {
    warn(`${file} is damaged (${(err as Error).message}); starting afresh`);
    return emptyState();
  }
}

export function saveState(dir: string, state: ResumeState): void {
  const file = path.join(dir, STATE_FILE);
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(state));
  fs.renameSync(tmp, file);
}
