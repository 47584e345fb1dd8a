/** Compiles bench/null-reader.c into bench/results/null-reader with the system's cc. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BENCH_SRC, RESULTS } from './paths.js';

let built: string | undefined;

/** The null reader's path, compiled on the first call of each bench run: cc -O2 -o bench/results/null-reader bench/null-reader.c */
export function nullReaderPath(): string {
  if (built) return built;
  fs.mkdirSync(RESULTS, { recursive: true });
  const out = path.join(RESULTS, 'null-reader');
  try {
    execFileSync('cc', ['-O2', '-o', out, path.join(BENCH_SRC, 'null-reader.c')], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`cannot compile the null reader (cc -O2 -o ${out} bench/null-reader.c): ${e.stderr?.toString().trim() || e.message}`);
  }
  built = out;
  return out;
}
