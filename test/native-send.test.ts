/**
 * Sending fds to a receiver whose queue is full: sendFds fails at once,
 * sendFdsAsync waits for room without blocking the event loop. The receiver
 * is a bound socket nobody reads until the test says so.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { DgramReceiver, sendFdsAsync, socketpair } from '../src/native.js';
import {
  assertConnected,
  assertSystemError,
  closeAll,
  countFds,
  dir,
  fullSocket,
  NATIVE_URL,
  rejection,
  fdsBackTo,
  until,
  type Datagram,
} from './native-support.js';

test('sendFdsAsync: while the receiver\'s queue is full the event loop runs on, and the send completes once the receiver reads', async () => {
  const baseline = countFds();
  const { path: p, fd, filled } = fullSocket();
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const [keep, give] = socketpair();
  let settled = false;
  const outcome = sendFdsAsync(p, Buffer.from('late'), [give], { timeoutMs: 30_000 }).then(
    () => 'sent',
    (err: Error) => err.message,
  );
  void outcome.then(() => (settled = true));
  fs.closeSync(give); // the pending send holds its own copy
  try {
    await until('the timer to fire while the send waits', () => ticks >= 5);
    assert.equal(settled, false, 'the send waits for room');
    const got: Datagram[] = [];
    const rx = new DgramReceiver(fd, 64, (name, fds, flags) => got.push({ name, fds, flags }));
    assert.equal(await outcome, 'sent');
    await until('every datagram', () => got.length === filled + 1);
    const late = got[filled]!;
    assert.equal(late.name.toString(), 'late');
    assert.equal(late.fds.length, 1);
    assertConnected(keep, late.fds[0]!, 'through the fd sent late');
    for (const d of got) closeAll(d.fds);
    rx.close();
  } finally {
    clearInterval(timer);
    fs.closeSync(keep);
  }
  fs.rmSync(p);
  await fdsBackTo(baseline);
});

test('sendFdsAsync: EAGAIN at its deadline (at once with timeoutMs 0), ECONNREFUSED when the receiver goes away, ENOENT without one; no fd leaks', async () => {
  const baseline = countFds();
  const { path: p, fd } = fullSocket();
  const [keep, give] = socketpair();
  try {
    for (const timeoutMs of [50, 0]) {
      const err = assertSystemError(await rejection(sendFdsAsync(p, Buffer.from('late'), [give], { timeoutMs })), 'EAGAIN', 'sendmsg');
      assert.equal(err.path, p);
    }
    const pending = rejection(sendFdsAsync(p, Buffer.from('late'), [give], { timeoutMs: 30_000 }));
    fs.closeSync(fd); // the receiver goes away while the send waits
    assertSystemError(await pending, 'ECONNREFUSED', 'sendmsg');
    const missing = path.join(dir, 'missing.sock');
    const err = assertSystemError(await rejection(sendFdsAsync(missing, Buffer.from('x'), [give])), 'ENOENT', 'connect');
    assert.equal(err.message, `connect ${missing}: No such file or directory`);
    // Bad arguments reject too, before anything is created.
    const loose = sendFdsAsync as unknown as (...a: unknown[]) => Promise<void>;
    await assert.rejects(loose(p, 'name', []), TypeError);
    await assert.rejects(loose(p, Buffer.from('x'), [-1]), RangeError);
    await assert.rejects(loose(p, Buffer.from('x'), [], { timeoutMs: -1 }), RangeError);
  } finally {
    closeAll([keep, give]);
  }
  fs.rmSync(p);
  await fdsBackTo(baseline);
});

test('sendFdsAsync: a send still waiting when its Worker is terminated leaves no fd behind', async () => {
  const baseline = countFds();
  const { path: p, fd } = fullSocket();
  const worker = new Worker(
    `
    const { parentPort, workerData } = require('node:worker_threads');
    const fs = require('node:fs');
    import(workerData.url).then((native) => {
      const [a, b] = native.socketpair();
      native.sendFdsAsync(workerData.path, Buffer.from('from a worker'), [b], { timeoutMs: 600000 }).then(
        () => parentPort.postMessage('sent'),
        (err) => parentPort.postMessage(err.code),
      );
      fs.closeSync(a);
      fs.closeSync(b);
      parentPort.postMessage('waiting');
    });
  `,
    { eval: true, workerData: { url: NATIVE_URL, path: p } },
  );
  const messages: string[] = [];
  worker.on('message', (m: string) => messages.push(m));
  await until('the worker\'s send to wait', () => messages.includes('waiting'));
  await worker.terminate();
  assert.deepEqual(messages, ['waiting']);
  fs.closeSync(fd);
  fs.rmSync(p);
  // Worker threads share the fd table: the send's socket and its copy of the fd must be gone.
  await fdsBackTo(baseline);
});
