/**
 * Where the project's files are, found by walking up from this module: the
 * same code runs from dist/src/ (compiled) and from dist/bundle/ (bundled),
 * at different depths.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/** The directory holding package.json and bin/. */
export function projectRoot(): string {
  if (root) return root;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'bin', 'memlogd'))) return (root = dir);
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`memlog: cannot find the project's files above ${path.dirname(fileURLToPath(import.meta.url))}`);
    dir = up;
  }
}

/** An executable of ours, e.g. binPath('memlogd'). */
export function binPath(name: string): string {
  return path.join(projectRoot(), 'bin', name);
}
