import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { InputTurns } from '../src/inputs/turns.js';
import { SEGMENT_EOF, StreamSet, socketpair } from '../src/native.js';

function target(): { paused: number; resumed: number; pause(): void; resume(): void } {
  return {
    paused: 0,
    resumed: 0,
    pause() {
      this.paused++;
    },
    resume() {
      this.resumed++;
    },
  };
}

test('holds for followers take at most their share of the time, however long they are asked for', async () => {
  const t = target();
  const turns = new InputTurns(t, 0.25);
  turns.policy = { wantsHold: () => true }; // a follower that always wants more time
  const start = performance.now();
  // A turn of input every few ms, for 2 s.
  while (performance.now() - start < 2000) {
    turns.afterTurn();
    await new Promise((r) => setTimeout(r, 2));
  }
  const elapsed = performance.now() - start;
  assert.ok(t.resumed > 0, 'the inputs went on');
  // The cap is in the code, not in the machine's speed: a quarter of each second, plus a step of slack per window.
  assert.ok(turns.heldMs <= 0.25 * elapsed + 3 * 50, `held ${turns.heldMs.toFixed(0)} ms of ${elapsed.toFixed(0)}`);
  turns.close();
});

test('wake ends a hold at once', async () => {
  const t = target();
  const turns = new InputTurns(t, 0.25);
  let hold = true;
  turns.policy = { wantsHold: () => hold };
  turns.afterTurn();
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(t.paused, 1, 'held while the follower catches up');
  assert.equal(t.resumed, 0);
  hold = false;
  turns.wake();
  assert.equal(t.resumed, 1);
  turns.close();
});

function fdCount(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

test('a stream set reads many streams in one batch per turn, within its budget', async () => {
  const baseline = fdCount();
  const buffer = Buffer.alloc(64 * 1024);
  const segs = new Int32Array(3 * 1024);
  const got = new Map<number, string>();
  const ended = new Set<number>();
  let batches = 0;
  let maxBatchBytes = 0;
  const set = new StreamSet(buffer, segs, (count) => {
    batches++;
    let bytes = 0;
    for (let i = 0; i < count; i++) {
      const [id, start, len] = [segs[3 * i], segs[3 * i + 1], segs[3 * i + 2]];
      if (len === SEGMENT_EOF) ended.add(id);
      else {
        assert.ok(len >= 0);
        bytes += len;
        got.set(id, (got.get(id) ?? '') + buffer.toString('latin1', start, start + len));
      }
    }
    maxBatchBytes = Math.max(maxBatchBytes, bytes);
  });
  set.setBudget(8192, 1024);
  const writers: number[] = [];
  const ids: number[] = [];
  const expected = new Map<number, string>();
  for (let i = 0; i < 50; i++) {
    const [w, r] = socketpair();
    const id = set.add(r);
    ids.push(id);
    writers.push(w);
    const text = `stream ${i}: ${'x'.repeat(3000 + i)}\n`;
    expected.set(id, text);
    fs.writeSync(w, text);
    fs.closeSync(w);
  }
  await new Promise<void>((resolve) => {
    const poll = (): void => (ended.size === 50 ? resolve() : void setTimeout(poll, 5));
    poll();
  });
  for (const id of ids) assert.equal(got.get(id), expected.get(id));
  assert.ok(maxBatchBytes <= 8192, `a turn read ${maxBatchBytes} bytes`);
  assert.ok(batches >= (50 * 3000) / 8192, `${batches} batches`);
  set.close();
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(fdCount(), baseline, 'every fd closed');
});

test('a paused stream set reads nothing until resumed; remove closes a stream', async () => {
  const baseline = fdCount();
  const buffer = Buffer.alloc(4096);
  const segs = new Int32Array(30);
  let bytes = 0;
  const set = new StreamSet(buffer, segs, (count) => {
    for (let i = 0; i < count; i++) if (segs[3 * i + 2] > 0) bytes += segs[3 * i + 2];
  });
  const [w, r] = socketpair();
  set.add(r);
  set.pause();
  fs.writeSync(w, 'held back\n');
  await new Promise((res) => setTimeout(res, 30));
  assert.equal(bytes, 0);
  set.resume();
  await new Promise((res) => setTimeout(res, 30));
  assert.equal(bytes, 10);
  const [w2, r2] = socketpair();
  const id2 = set.add(r2);
  set.remove(id2);
  await new Promise((res) => setTimeout(res, 20));
  // The set closed its end: the writer sees the peer gone.
  assert.throws(() => fs.writeSync(w2, 'x'), /EPIPE/);
  fs.closeSync(w);
  fs.closeSync(w2);
  set.close();
  await new Promise((res) => setTimeout(res, 20));
  assert.equal(fdCount(), baseline);
});
