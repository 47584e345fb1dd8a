/** Tests for DgramBatchReceiver: datagrams read many at a time, one call into JS per batch. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import {
  bindDgram,
  DGRAM_BATCH_FDS_CLOSED,
  DGRAM_BATCH_FIELDS,
  DGRAM_BATCH_FLAGS,
  DGRAM_BATCH_GID,
  DGRAM_BATCH_LENGTH,
  DGRAM_BATCH_OFFSET,
  DGRAM_BATCH_PID,
  DGRAM_BATCH_UID,
  DGRAM_NAME_TRUNCATED,
  DGRAM_SENDER_KNOWN,
  DgramBatchReceiver,
  sendFds,
  socketpair,
} from '../src/native.js';
import { closeAll, countFds, fdsBackTo, released, runChild, sockPath, until } from './native-support.js';

interface Got {
  batch: number;
  payload: string;
  flags: number;
  fdsClosed: number;
  sender: [number, number, number];
}

/** A batch receiver with `slots` slots of `slotLen` bytes on a new socket, collecting what it gets. */
function batchReceiver(slots: number, slotLen: number) {
  const p = sockPath();
  const buf = Buffer.alloc(slots * slotLen);
  const meta = new Uint32Array(slots * DGRAM_BATCH_FIELDS);
  const got: Got[] = [];
  const batches: number[] = [];
  const r = new DgramBatchReceiver(bindDgram(p), buf, meta, (count) => {
    batches.push(count);
    for (let i = 0; i < count; i++) {
      const m = i * DGRAM_BATCH_FIELDS;
      const start = meta[m + DGRAM_BATCH_OFFSET]!;
      got.push({
        batch: batches.length - 1,
        payload: buf.toString('utf8', start, start + meta[m + DGRAM_BATCH_LENGTH]!),
        flags: meta[m + DGRAM_BATCH_FLAGS]!,
        fdsClosed: meta[m + DGRAM_BATCH_FDS_CLOSED]!,
        sender: [meta[m + DGRAM_BATCH_PID]!, meta[m + DGRAM_BATCH_UID]!, meta[m + DGRAM_BATCH_GID]!],
      });
    }
  });
  return {
    path: p,
    got,
    batches,
    close(): void {
      r.close();
      fs.rmSync(p, { force: true });
    },
  };
}

test('DgramBatchReceiver: datagrams queued together come in one batch, each with its own bytes, in order', async () => {
  const rx = batchReceiver(4, 16);
  try {
    // Sent while this event loop is busy: all ten wait in the queue, then come as batches of 4, 4, 2.
    for (let i = 0; i < 10; i++) sendFds(rx.path, Buffer.from(i === 9 ? 'a message longer than its slot' : `m${i}`), []);
    await until('ten datagrams', () => rx.got.length === 10);
    assert.deepEqual(rx.batches, [4, 4, 2]);
    assert.deepEqual(
      rx.got.map((g) => g.payload),
      ['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'a message longer'],
    );
    assert.equal(rx.got[9]!.flags & DGRAM_NAME_TRUNCATED, DGRAM_NAME_TRUNCATED);
    assert.ok(rx.got.slice(0, 9).every((g) => (g.flags & DGRAM_NAME_TRUNCATED) === 0));
  } finally {
    rx.close();
  }
  await released(rx.path);
});

test('DgramBatchReceiver: each datagram of a batch has its own sender (two senders, interleaved)', async () => {
  const rx = batchReceiver(64, 256);
  const child = (): number => {
    // A second process sends one datagram saying its pid; this loop is blocked meanwhile, so all queue up.
    const r = runChild(`native.sendFds(${JSON.stringify(rx.path)}, Buffer.from(String(process.pid)), []);`);
    assert.equal(r.status, 0, r.stderr);
    return r.pid!;
  };
  try {
    const expected: number[] = [];
    for (let i = 0; i < 2; i++) {
      sendFds(rx.path, Buffer.from(String(process.pid)), []);
      expected.push(process.pid, child());
    }
    await until('four datagrams', () => rx.got.length === 4);
    assert.deepEqual(rx.batches, [4], 'queued together, read together');
    const ids: [number, number] = [process.getuid!(), process.getgid!()];
    assert.deepEqual(
      rx.got.map((g) => g.sender),
      expected.map((pid) => [pid, ...ids]),
    );
    assert.deepEqual(
      rx.got.map((g) => Number(g.payload)),
      expected,
    );
    assert.ok(rx.got.every((g) => g.flags & DGRAM_SENDER_KNOWN));
    assert.notEqual(expected[0], expected[1]);
  } finally {
    rx.close();
  }
  await released(rx.path);
});

test('DgramBatchReceiver: fds sent with the datagrams of a batch are all closed, and counted', async () => {
  const rx = batchReceiver(8, 64);
  try {
    const baseline = countFds();
    const [a, b] = socketpair();
    sendFds(rx.path, Buffer.from('one'), [a]);
    sendFds(rx.path, Buffer.from('none'), []);
    sendFds(rx.path, Buffer.from('three'), [a, b, a]);
    sendFds(rx.path, Buffer.from('many'), Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b)));
    closeAll([a, b]);
    await until('four datagrams', () => rx.got.length === 4);
    assert.deepEqual(
      rx.got.map((g) => [g.payload, g.fdsClosed]),
      [
        ['one', 1],
        ['none', 0],
        ['three', 3],
        ['many', 200],
      ],
    );
    // The receiver is still open: every fd that came in has been closed by the addon.
    await fdsBackTo(baseline);
  } finally {
    rx.close();
  }
  await released(rx.path);
});

test('DgramBatchReceiver: close() closes the socket; a bad argument leaves the fd the caller\'s', async () => {
  const before = countFds();
  const p = sockPath();
  const fd = bindDgram(p);
  assert.throws(() => new DgramBatchReceiver(fd, Buffer.alloc(64), new Uint32Array(3), () => {}), RangeError);
  assert.throws(() => new DgramBatchReceiver(fd, Buffer.alloc(64), new Int32Array(7) as unknown as Uint32Array, () => {}), TypeError);
  const r = new DgramBatchReceiver(fd, Buffer.alloc(64), new Uint32Array(DGRAM_BATCH_FIELDS), () => {});
  r.close();
  await released(p);
  fs.rmSync(p, { force: true });
  await fdsBackTo(before);
});
