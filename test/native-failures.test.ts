/**
 * Failures the addon must report rather than swallow. Each is provoked for
 * real, in a child process: an fd number closed behind the addon's back and
 * reused for something else (what a bug elsewhere in the process would do).
 */
import assert from 'node:assert/strict';
import os from 'node:os';
import { test } from 'node:test';
import { SEGMENT_ERROR } from '../src/native.js';
import { runChild } from './native-support.js';

/**
 * Child-side code: a receiver on SOCK whose fd number, once `broken()` is
 * called, refers to /dev/null while the socket itself lives on (through a
 * copy passed to ourselves), so that a datagram sent to it wakes the
 * receiver and its recvmsg fails with ENOTSOCK.
 */
const BROKEN_RECEIVER = `
const p = process.env.SOCK;
const fd = native.bindDgram(p);
/** Reopens /dev/null until it gets fd number n. */
function reuse(n) {
  const extra = [];
  for (let i = 0; i < 10000; i++) {
    const f = fs.openSync('/dev/null', 'r');
    if (f === n) break;
    extra.push(f);
  }
  for (const f of extra) fs.closeSync(f);
}
let kept;
const keeper = new native.DgramReceiver(native.bindDgram(p + '.keeper'), 64, (name, fds) => {
  kept = fds[0];
  fs.closeSync(fd);
  reuse(fd);
  native.sendFds(p, Buffer.from('wake up'), []);
});
function broken() {
  native.sendFds(p + '.keeper', Buffer.from('keep'), [fd]);
}
function cleanUp() {
  fs.closeSync(kept);
  keeper.close();
}
`;

test('a receive error that cannot pass (the fd is no longer a socket) stops the receiver and is reported to onError; without onError it is an uncaught exception', () => {
  const told = runChild(`${BROKEN_RECEIVER}
    const errors = [];
    const r = new native.DgramReceiver(fd, 64, () => console.error('a datagram?'), {
      onError: (err) => {
        errors.push({ message: err.message, code: err.code, errno: err.errno, syscall: err.syscall });
        r.close();
        r.close();
        cleanUp();
        setImmediate(() => console.log(JSON.stringify(errors)));
      },
    });
    broken();
  `);
  assert.equal(told.status, 0, told.stderr);
  const errors = JSON.parse(told.stdout) as { message: string; code: string; errno: number; syscall: string }[];
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.code, 'ENOTSOCK');
  assert.equal(errors[0]!.errno, -os.constants.errno.ENOTSOCK);
  assert.equal(errors[0]!.syscall, 'recvmsg');
  assert.match(errors[0]!.message, /^recvmsg fd \d+: Socket operation on non-socket$/);

  const unheard = runChild(`${BROKEN_RECEIVER}
    new native.DgramReceiver(fd, 64, () => {});
    broken();
  `);
  assert.equal(unheard.status, 1, unheard.stderr);
  assert.match(unheard.stderr, /recvmsg fd \d+: Socket operation on non-socket/);
});

test('StreamSet: a stream whose poll cannot start again is reported as failed, and the fd number, now another\'s, is left alone', () => {
  const res = runChild(`
    import net from 'node:net';
    const buffer = new Uint8Array(4096), segments = new Int32Array(30);
    const seen = [];
    const set = new native.StreamSet(buffer, segments, (n) => {
      for (let i = 0; i < n; i++) seen.push([...segments.subarray(3 * i, 3 * i + 3)]);
      check();
    });
    const [a, b] = native.socketpair();
    set.add(a);
    set.pause();
    // Closed behind the set's back, and the number reused by a socket Node reads.
    fs.closeSync(a);
    const extra = [];
    let c, d;
    for (let i = 0; i < 10000; i++) {
      [c, d] = native.socketpair();
      if (c === a) break;
      extra.push(c, d);
    }
    for (const f of extra) fs.closeSync(f);
    let other = '';
    const sock = new net.Socket({ fd: c, readable: true, writable: true });
    sock.on('data', (chunk) => { other += chunk; check(); });
    set.resume();
    fs.writeSync(d, 'still read by its owner');
    function check() {
      if (seen.length === 0 || other !== 'still read by its owner') return;
      console.log(JSON.stringify(seen));
      set.close();
      sock.destroy();
      fs.closeSync(d);
      fs.closeSync(b);
    }
  `);
  assert.equal(res.status, 0, res.stderr);
  assert.deepEqual(JSON.parse(res.stdout), [[0, os.constants.errno.EEXIST, SEGMENT_ERROR]]);
});
