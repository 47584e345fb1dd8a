/**
 * Crash recovery of one file: after a crash, X.log may hold lines written
 * after the resume state was last saved. They are cut off, so that memlogd's
 * copy of them is written once. Only the file the state describes (same
 * device and inode) is cut: another file at that name (the old one moved away
 * and a new one made) is not ours to cut, and is left as it is.
 */
import fs from 'node:fs';
import { closeQuietly } from '../fds.js';
import { EXISTING_FLAGS, errnoCode } from './file-ops.js';
import type { FileSnapshot } from './state.js';

export interface RecoveredFile {
  /** Bytes in the file now (0 if there is none); undefined if it could not be looked at. */
  size?: number;
  /** Identity of the file found (0 if there is none). */
  dev: number;
  ino: number;
  /** What was done or found, for the log; undefined when the file was as the state says. */
  note?: string;
}

/** Whether a state entry says which file it describes (states saved before memlog recorded identities do not). */
function identified(snap: FileSnapshot): snap is FileSnapshot & { dev: number; ino: number } {
  return snap.dev !== undefined && snap.ino !== undefined;
}

/** Cuts the file at `file` back to snap.size if it is the file snap describes and is longer. */
export function recoverFile(file: string, snap: FileSnapshot): RecoveredFile {
  let fd: number;
  try {
    fd = fs.openSync(file, EXISTING_FLAGS);
  } catch (err) {
    const code = errnoCode(err);
    // ENOENT: rotated away and not made again yet.
    return code === 'ENOENT' ? { size: 0, dev: 0, ino: 0 } : { dev: 0, ino: 0, note: `${file}: cannot check it (${code}); left as is` };
  }
  try {
    const s = fs.fstatSync(fd);
    const found = { size: s.size, dev: s.dev, ino: s.ino };
    if (!s.isFile() || s.nlink > 1) return { ...found, note: `${file}: not a plain file; left as is` };
    if (identified(snap) && (s.dev !== snap.dev || s.ino !== snap.ino)) {
      const was = snap.ino === 0 ? 'there was no file there' : `it was device ${snap.dev}, inode ${snap.ino}`;
      return { ...found, note: `${file}: not the file the saved state describes (device ${s.dev}, inode ${s.ino}; ${was}): moved away or replaced since; left as is` };
    }
    if (s.size > snap.size) {
      fs.ftruncateSync(fd, snap.size);
      return { ...found, size: snap.size, note: `${file}: cut from ${s.size} to ${snap.size} bytes (written after the state was saved)` };
    }
    return found; // smaller: rotated since the state was saved, and new lines are not in it
  } catch (err) {
    return { dev: 0, ino: 0, note: `${file}: cannot cut it (${errnoCode(err)}); left as is` };
  } finally {
    closeQuietly(fd);
  }
}
