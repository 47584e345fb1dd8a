import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputTurns } from '../src/inputs/turns.js';

function stream(): { resumed: number; destroyed: boolean; resume(): void } {
  return {
    resumed: 0,
    destroyed: false,
    resume() {
      this.resumed++;
    },
  };
}

test('streams that read on this turn read again on the next', async () => {
  const turns = new InputTurns();
  const a = stream();
  const b = stream();
  turns.wait(a);
  turns.wait(b);
  assert.equal(a.resumed, 0, 'not within the same turn');
  await new Promise((r) => setImmediate(r));
  assert.equal(a.resumed, 1);
  assert.equal(b.resumed, 1);
});

test('holds for followers take at most their share of the time, however long they are asked for', async () => {
  const turns = new InputTurns(0.25);
  turns.policy = { wantsHold: () => true }; // a follower that always wants more time
  const s = stream();
  const start = performance.now();
  let turnsDone = 0;
  // Keep the stream busy: every time it is resumed, it has read and waits again.
  s.resume = () => {
    turnsDone++;
    if (performance.now() - start < 2000) turns.wait(s);
  };
  turns.wait(s);
  await new Promise((r) => setTimeout(r, 2100));
  const elapsed = performance.now() - start;
  assert.ok(turnsDone > 10, `the stream kept reading (${turnsDone} turns)`);
  // The cap is in the code, not in the machine's speed: at most a quarter of each second, plus a step of slack per window.
  assert.ok(turns.heldMs <= 0.25 * elapsed + 3 * 50, `held ${turns.heldMs.toFixed(0)} ms of ${elapsed.toFixed(0)}`);
  turns.close();
});

test('wake ends a hold at once', async () => {
  const turns = new InputTurns(0.25);
  let hold = true;
  turns.policy = { wantsHold: () => hold };
  const s = stream();
  turns.wait(s);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(s.resumed, 0, 'held while the follower catches up');
  hold = false;
  turns.wake();
  assert.equal(s.resumed, 1);
  turns.close();
});
