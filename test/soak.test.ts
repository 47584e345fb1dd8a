/**
 * A short soak (bench/soak.ts; `npm run soak` is the long one): a few faults chosen by a seed, each once the
 * system has recovered from the last, and only what must hold however fast the machine is. The seed is
 * random unless MEMLOG_SOAK_SEED gives it, and printed; the same seed gives the same faults.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomSeed } from '../bench/random.js';
import { soak } from '../bench/soak.js';

test('faults: memlogd and logwrite killed, followers coming, going and stalling, a flooding writer: every line in order, once, gaps only at markers', { timeout: 900_000 }, async (t) => {
  const seed = process.env.MEMLOG_SOAK_SEED !== undefined ? Number(process.env.MEMLOG_SOAK_SEED) : randomSeed();
  t.diagnostic(`seed ${seed} (MEMLOG_SOAK_SEED=${seed} runs the same faults again)`);
  const r = await soak({ seed, events: 12 });
  const run = `seed ${seed}, events: ${r.events.join(', ')}`;
  assert.equal(r.failures.length, 0, `${run}\n${r.failures.join('\n')}`);
  assert.ok(r.memlogdKills >= 1 && r.logwriteKills >= 1, run);
  for (const w of r.writers) {
    assert.ok(w.onDisk > 0, `${w.name}: nothing on disk (${run})`);
    assert.equal(w.duplicates, 0, `${w.name} (${run})`);
    assert.equal(w.outOfOrder, 0, `${w.name} (${run})`);
    assert.equal(w.gapsWithoutMarker, 0, `${w.name} (${run})`);
  }
});
