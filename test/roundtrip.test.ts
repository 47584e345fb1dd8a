/** The whole path: 20 processes at once through the launcher, back through logread. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BIN, run, startDaemon, tmpdir } from './helpers.js';

test('lines written by 20 concurrent processes all come back, in order per source', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t), ['-max-lines', '100000', '-max-bytes', '100000000']);
  const LINES = 2000;
  const script = `i=0; while [ $i -lt ${LINES} ]; do echo "line $i"; echo "err $i" >&2; i=$((i+1)); done`;
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, p) => run(process.execPath, [BIN('logwrite'), '-socket', daemon.logSocket, '-n', `proc${p}`, 'sh', '-c', script], { timeoutMs: 120_000 })),
  );
  for (const r of results) assert.equal(r.code, 0, r.stderr.slice(0, 500));
  const out = await run(process.execPath, [BIN('logread'), '-socket', daemon.querySocket]);
  const bySource = new Map<string, string[]>();
  for (const line of out.stdout.split('\n')) {
    const m = /^[^;]+;([^;]+);(.*)$/.exec(line);
    if (!m) continue;
    const list = bySource.get(m[1]) ?? [];
    list.push(m[2]);
    bySource.set(m[1], list);
  }
  for (let p = 0; p < 20; p++) {
    assert.deepEqual(bySource.get(`proc${p}.out`), Array.from({ length: LINES }, (_, i) => `line ${i}`), `proc${p}.out`);
    assert.deepEqual(bySource.get(`proc${p}`), Array.from({ length: LINES }, (_, i) => `err ${i}`), `proc${p}`);
  }
});
