/** One minute of faults (bench/soak.ts; `npm run soak -- --minutes N` runs it longer). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { soak } from '../bench/soak.js';

test('a minute of faults: memlogd and logwrite killed, followers coming, going and stalling, a flooding writer', { timeout: 180_000 }, async () => {
  const r = await soak(1);
  assert.deepEqual(r.failures, []);
  assert.ok(r.memlogdKills >= 1 && r.logwriteKills >= 1, `faults: memlogd ${r.memlogdKills}, logwrite ${r.logwriteKills}`);
  for (const w of r.writers) {
    assert.equal(w.duplicates, 0, w.name);
    assert.equal(w.gapsWithoutMarker, 0, w.name);
    assert.ok(w.onDisk > 1000, `${w.name}: ${w.onDisk} lines on disk`);
  }
});
