/** The bundle's log files: what is under the persister's directory, listed without following links. */
import fs from 'node:fs';
import path from 'node:path';
import { describe } from './files.js';

export interface LogItem {
  kind: 'dir' | 'file';
  /** Relative to the log directory, with `/` between components. */
  rel: string;
}

/** Directories and regular files under dir, sorted, not following symlinks; anything else is counted in a note. */
export async function listLogDir(dir: string, notes: string[]): Promise<LogItem[]> {
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
