import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { InputTurns } from '../src/inputs/turns.js';
import { SEGMENT_EOF, StreamSet, socketpair } from '../src/native.js';
import { fdCount, fdsBackTo, waitFor } from './helpers.js';

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

/**
 * An InputTurns on a clock the test moves itself, with setTimeout mocked to follow it: what the holds do
 * depends on the code only, not on how fast this machine runs the test.
 */
function onTestClock(t: TestContext, share: number): { turns: InputTurns; target: ReturnType<typeof target>; advance(ms: number): void } {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let now = 0;
  const tgt = target();
  const turns = new InputTurns(tgt, share, () => now);
  t.after(() => turns.close());
  return {
    turns,
    target: tgt,
    advance: (ms) => {
      for (let i = 0; i < ms; i++) {
        now++;
        t.mock.timers.tick(1);
      }
    },
  };
}

test('holds for followers take their share of the time and no more, however long they are asked for', (t) => {
  const { turns, target: tgt, advance } = onTestClock(t, 0.25);
  turns.policy = { wantsHold: () => true }; // a follower that always wants more time
  // A turn of input every 2 ms, for 2 s.
  const elapsed = 2000;
  for (let ms = 0; ms < elapsed; ms += 2) {
    turns.afterTurn();
    advance(2);
  }
  assert.ok(tgt.resumed > 0, 'the inputs went on');
  // A quarter of each second, within a step of the hold's timer.
  assert.ok(Math.abs(turns.heldMs - 0.25 * elapsed) <= 2, `held ${turns.heldMs} ms of ${elapsed}`);
});

test('wake ends a hold at once', (t) => {
  const { turns, target: tgt, advance } = onTestClock(t, 0.25);
  let hold = true;
  turns.policy = { wantsHold: () => hold };
  turns.afterTurn();
  advance(20);
  assert.equal(tgt.paused, 1, 'held while the follower catches up');
  assert.equal(tgt.resumed, 0);
  hold = false;
  turns.wake();
  assert.equal(tgt.resumed, 1);
  assert.equal(turns.heldMs, 20);
});

test('a stream set reads many streams in one batch per turn, within its budget', async () => {
  const baseline = fdCount(process.pid);
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
  await waitFor('every stream to end', () => ended.size === 50);
  for (const id of ids) assert.equal(got.get(id), expected.get(id));
  assert.ok(maxBatchBytes <= 8192, `a turn read ${maxBatchBytes} bytes`);
  assert.ok(batches >= (50 * 3000) / 8192, `${batches} batches`);
  set.close();
  await fdsBackTo(process.pid, baseline);
});

test('a paused stream set reads nothing until resumed; remove closes a stream', async () => {
  const baseline = fdCount(process.pid);
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
  // A witness: a set that is not paused, given a line just after. Once it has read its line, the paused set has
  // had the same turns of the event loop to read (sets are polled and hand out their batch each turn).
  let witnessed = 0;
  const witness = new StreamSet(Buffer.alloc(64), new Int32Array(3), (count) => (witnessed += count));
  const [ww, wr] = socketpair();
  witness.add(wr);
  fs.writeSync(ww, 'seen\n');
  await waitFor('the witness to read its line', () => witnessed > 0);
  assert.equal(bytes, 0);
  set.resume();
  await waitFor('the held line once resumed', () => bytes === 10);
  const [w2, r2] = socketpair();
  const id2 = set.add(r2);
  set.remove(id2);
  // The set closes its end: the writer sees the peer gone.
  await waitFor('EPIPE for the removed stream', () => {
    try {
      fs.writeSync(w2, 'x');
      return false;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EPIPE') return true;
      throw err;
    }
  });
  for (const fd of [w, w2, ww]) fs.closeSync(fd);
  set.close();
  witness.close();
  await fdsBackTo(process.pid, baseline);
});
