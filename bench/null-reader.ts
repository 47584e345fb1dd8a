/** Compiles the bench's C helpers (bench/NAME.c into bench/results/NAME) with the system's cc. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BENCH_SRC, RESULTS } from './paths.js';

const built = new Map<string, string>();

/** bench/NAME.c compiled, on the first call of each bench run: cc -O2 -o bench/results/NAME bench/NAME.c */
export function compiledHelper(name: string): string {
  const done = built.get(name);
  if (done) return done;
  fs.mkdirSync(RESULTS, { recursive: true });
  const out = path.join(RESULTS, name);
  try {
    execFileSync('cc', ['-O2', '-o', out, path.join(BENCH_SRC, `${name}.c`)], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`cannot compile bench/${name}.c (cc -O2 -o ${out} bench/${name}.c): ${e.stderr?.toString().trim() || e.message}`);
  }
  built.set(name, out);
  return out;
}

/** The null reader's path (bench/null-reader.c). */
export function nullReaderPath(): string {
  return compiledHelper('null-reader');
}
