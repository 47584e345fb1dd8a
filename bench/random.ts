/** Seeded randomness, so that a run (of the soak, of a fuzz test) can be replayed from its seed. */
import crypto from 'node:crypto';

/** A seed for a run that was given none: print it, so that the run can be repeated. */
export function randomSeed(): number {
  return crypto.randomInt(2 ** 32);
}

/** mulberry32: a small seeded generator of numbers in [0, 1); the same seed gives the same numbers. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
