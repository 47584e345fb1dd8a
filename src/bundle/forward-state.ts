/**
 * The forwarder's state in a bundle: each destination's cursor file, and in
 * the summary how far each destination got, and how far behind the ring it
 * is when the cursor names the daemon running now.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CURSOR_SUFFIX } from '../forward/cursor-store.js';
import { describe } from './files.js';
import type { MemlogdReport } from './ring.js';

export interface ForwardCursorReport {
  file: string;
  url?: string;
  daemon?: string;
  seq?: number;
  /** Entries memlogd holds after the cursor (only when the cursor names the running daemon). */
  behind?: number;
  note?: string;
}

/** The cursor files in dir (names only, sorted) and what each says; a missing dir is a note. */
export async function readForwardState(dir: string, memlogd: MemlogdReport, notes: string[]): Promise<ForwardCursorReport[]> {
  let names: string[];
  try {
    names = (await fs.promises.readdir(dir)).filter((n) => n.endsWith(CURSOR_SUFFIX)).sort();
  } catch (err) {
    notes.push((err as NodeJS.ErrnoException).code === 'ENOENT' ? `forwarder state ${dir} does not exist: no cursors` : `forwarder state ${dir}: ${describe(err)}`);
    return [];
  }
  const reports: ForwardCursorReport[] = [];
  for (const file of names) {
    const report: ForwardCursorReport = { file };
    try {
      const handle = await fs.promises.open(path.join(dir, file), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
      let text: string;
      try {
        // A cursor is a few hundred bytes: anything much bigger is not one.
        const buf = Buffer.alloc(4096);
        const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
        text = buf.toString('utf8', 0, bytesRead);
      } finally {
        await handle.close();
      }
      const v = JSON.parse(text) as Record<string, unknown>;
      if (typeof v.url === 'string') report.url = v.url;
      if (typeof v.daemon === 'string') report.daemon = v.daemon;
      if (typeof v.seq === 'number') report.seq = v.seq;
      if (report.daemon !== undefined && report.daemon === memlogd.daemon && report.seq !== undefined && memlogd.next !== undefined) {
        report.behind = Math.max(0, memlogd.next - 1 - report.seq);
      }
    } catch (err) {
      report.note = `not readable as a cursor: ${err instanceof SyntaxError ? 'not JSON' : describe(err)}`;
    }
    reports.push(report);
  }
  return reports;
}
