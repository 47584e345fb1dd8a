/** Where the bench finds things: the repository, its compiled helpers, its results. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/bench: the compiled helper scripts (writer.js, follower.js, ...). */
export const BENCH_DIST = path.dirname(fileURLToPath(import.meta.url));
/** The repository's root (dist/bench/../..). Daemon commands run here. */
export const ROOT = path.resolve(BENCH_DIST, '../..');
/** bench/ in the source tree (null-reader.c lives here). */
export const BENCH_SRC = path.join(ROOT, 'bench');
/** bench/results: git-ignored; latest.json and the compiled null reader. */
export const RESULTS = path.join(BENCH_SRC, 'results');

export function helperScript(name: string): string {
  return path.join(BENCH_DIST, name);
}
