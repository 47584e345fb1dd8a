/** Tests for the N-API addon, with real sockets in a temporary directory. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { bindDgram, bindListen, clockRealtime, DGRAM_FDS_TRUNCATED, DGRAM_NAME_TRUNCATED, DgramReceiver, dupFd, fdInfo, sendFds, socketpair } from '../src/native.js';
import {
  assertConnected,
  assertSysError,
  closeAll,
  countFds,
  dir,
  NATIVE_URL,
  receiver,
  runChild,
  fdsBackTo,
  released,
  sockPath,
  until,
  type Datagram,
} from './native-support.js';

/** What fdInfo says the fd is, without the identity of the open file. */
function what(fd: number): { kind: string; readable: boolean; writable: boolean } {
  const { kind, readable, writable } = fdInfo(fd);
  return { kind, readable, writable };
}

test('socketpair: connected stream sockets', () => {
  const [a, b] = socketpair();
  try {
    assertConnected(a, b, 'hello');
    assertConnected(b, a, 'back');
    for (const fd of [a, b]) assert.deepEqual(what(fd), { kind: 'socket-stream', readable: true, writable: true });
  } finally {
    closeAll([a, b]);
  }
});

test('sendFds + DgramReceiver: round trip of a stream end', async () => {
  const rx = receiver();
  const [keep, give] = socketpair();
  try {
    sendFds(rx.path, Buffer.from('svc.out'), [give]);
    fs.closeSync(give);
    await until('datagram', () => rx.got.length === 1);
    const d = rx.got[0]!;
    assert.equal(d.name.toString(), 'svc.out');
    assert.equal(d.flags, 0);
    assert.equal(d.fds.length, 1);
    assert.equal(fdInfo(d.fds[0]!).kind, 'socket-stream');
    assertConnected(keep, d.fds[0]!, 'a log line\n');
    closeAll(d.fds);
  } finally {
    fs.closeSync(keep);
    rx.close();
  }
});

test('several fds arrive in order; no fds arrives as []', async () => {
  const rx = receiver();
  const pairs = [socketpair(), socketpair(), socketpair()];
  try {
    sendFds(rx.path, Buffer.from('three'), pairs.map(([, b]) => b));
    sendFds(rx.path, Buffer.from('none'), []);
    sendFds(rx.path, Buffer.alloc(0), []);
    await until('datagrams', () => rx.got.length === 3);
    const [three, none, empty] = rx.got as [Datagram, Datagram, Datagram];
    assert.equal(three.name.toString(), 'three');
    assert.equal(three.fds.length, 3);
    pairs.forEach(([a], i) => assertConnected(a, three.fds[i]!, `pair ${i}`));
    closeAll(three.fds);
    assert.deepEqual(none, { name: Buffer.from('none'), fds: [], flags: 0 });
    assert.deepEqual(empty, { name: Buffer.alloc(0), fds: [], flags: 0 });
  } finally {
    closeAll(pairs.flat());
    rx.close();
  }
});

test('a name longer than maxName is truncated and flagged', async () => {
  const rx = receiver(4);
  try {
    sendFds(rx.path, Buffer.from('abcdefgh'), []);
    sendFds(rx.path, Buffer.from('abcd'), []);
    await until('datagrams', () => rx.got.length === 2);
    assert.equal(rx.got[0]!.name.toString(), 'abcd');
    assert.equal(rx.got[0]!.flags & DGRAM_NAME_TRUNCATED, DGRAM_NAME_TRUNCATED);
    assert.equal(rx.got[0]!.flags & DGRAM_FDS_TRUNCATED, 0);
    assert.equal(rx.got[1]!.name.toString(), 'abcd');
    assert.equal(rx.got[1]!.flags, 0);
  } finally {
    rx.close();
  }
});

test('fdInfo: dir, file, fifo, chr, dgram socket', () => {
  const opened: number[] = [];
  try {
    const d = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    opened.push(d);
    assert.deepEqual(what(d), { kind: 'dir', readable: true, writable: false });

    const f = fs.openSync(path.join(dir, 'file.txt'), 'w');
    opened.push(f);
    assert.deepEqual(what(f), { kind: 'file', readable: false, writable: true });

    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const q = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    opened.push(q);
    assert.deepEqual(what(q), { kind: 'fifo', readable: true, writable: false });

    const n = fs.openSync('/dev/null', 'r+');
    opened.push(n);
    assert.deepEqual(what(n), { kind: 'chr', readable: true, writable: true });

    const s = bindDgram(sockPath());
    opened.push(s);
    assert.deepEqual(what(s), { kind: 'socket-dgram', readable: true, writable: true });
  } finally {
    closeAll(opened);
  }
  assertSysError(() => fdInfo(opened[0]!), 'EBADF', 'fstat');
});

test('fdInfo: dev and ino name the open file: two fds of one pipe agree, another pipe differs', async () => {
  const opened: number[] = [];
  const fifo = (name: string): [number, number] => {
    const p = path.join(dir, name);
    execFileSync('mkfifo', [p]);
    const r = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const w = fs.openSync(p, fs.constants.O_WRONLY);
    opened.push(r, w);
    return [r, w];
  };
  const rx = receiver();
  try {
    const id = (fd: number): string => {
      const { dev, ino } = fdInfo(fd);
      assert.ok(Number.isInteger(dev) && Number.isInteger(ino) && ino > 0, `dev ${dev} ino ${ino}`);
      return `${dev}:${ino}`;
    };
    const [r1, w1] = fifo('one.fifo');
    const [r2] = fifo('two.fifo');
    assert.equal(id(r1), id(w1));
    assert.notEqual(id(r1), id(r2));
    // The same stream handed over twice (as after a memlogd restart) arrives as two fds of one file.
    const [a, b] = socketpair();
    opened.push(a, b);
    sendFds(rx.path, Buffer.from('first'), [b]);
    sendFds(rx.path, Buffer.from('again'), [b]);
    await until('both datagrams', () => rx.got.length === 2);
    const [first, again] = rx.got.map((d) => d.fds[0]!);
    opened.push(first!, again!);
    assert.notEqual(first, again);
    assert.equal(id(first!), id(b));
    assert.equal(id(again!), id(b));
    assert.notEqual(id(a), id(b)); // the two ends of a socketpair are two sockets
  } finally {
    closeAll(opened);
    rx.close();
  }
});

test('no fd leak over 200 datagrams of 3 fds each, nor after close()', async () => {
  // Warm up lazily opened descriptors before taking the baseline.
  {
    const rx = receiver();
    const [a, b] = socketpair();
    sendFds(rx.path, Buffer.from('warm'), [a, b]);
    closeAll([a, b]);
    await until('warm-up', () => rx.got.length === 1);
    closeAll(rx.got[0]!.fds);
    rx.close();
    await released(rx.path);
  }
  const baseline = countFds();
  const rx = receiver();
  let sent = 0;
  while (sent < 200) {
    // Small batches: the kernel queue (net.unix.max_dgram_qlen) is short and
    // the receiver runs on this same thread.
    for (let i = 0; i < 5; i++, sent++) {
      const [a, b] = socketpair();
      const n = fs.openSync('/dev/null', 'r');
      sendFds(rx.path, Buffer.from(`m${sent}`), [a, b, n]);
      closeAll([a, b, n]);
    }
    await until('batch', () => rx.got.length === sent);
  }
  assert.ok(countFds() > baseline); // the receiver's socket
  for (const [i, d] of rx.got.entries()) {
    assert.equal(d.name.toString(), `m${i}`);
    assert.equal(d.fds.length, 3);
    closeAll(d.fds);
  }
  rx.close();
  rx.close(); // idempotent
  await fdsBackTo(baseline);
});

test('errors look like Node system errors', () => {
  const missing = path.join(dir, 'missing.sock');
  const e1 = assertSysError(() => sendFds(missing, Buffer.from('x'), []), 'ENOENT', 'sendmsg');
  assert.equal(e1.message, `sendmsg ${missing}: No such file or directory`);
  assert.equal(e1.path, missing);

  const p = sockPath();
  const fd = bindDgram(p);
  try {
    const e2 = assertSysError(() => bindDgram(p), 'EADDRINUSE', 'bind');
    assert.equal(e2.message, `bind ${p}: Address already in use`);
    assertSysError(() => bindListen(p, 8), 'EADDRINUSE', 'bind');
  } finally {
    fs.closeSync(fd);
  }

  const long = path.join(dir, 'x'.repeat(200));
  assertSysError(() => bindDgram(long), 'ENAMETOOLONG', 'bind');
  assertSysError(() => bindListen(long, 1), 'ENAMETOOLONG', 'bind');
  assertSysError(() => sendFds(long, Buffer.from('x'), []), 'ENAMETOOLONG', 'sendmsg');
  assertSysError(() => bindDgram(''), 'ENOENT', 'bind');
  // Nothing can be bound at the path returned by an over-long bind.
  assert.equal(fs.existsSync(long), false);
});

test('bad arguments throw TypeError / RangeError', () => {
  // The casts deliberately break the declared types to reach the C checks.
  const loose = { bindDgram, bindListen, sendFds, fdInfo, clockRealtime } as unknown as Record<string, (...a: unknown[]) => unknown>;
  assert.throws(() => loose.bindDgram!(42), TypeError);
  assert.throws(() => loose.bindDgram!(path.join(dir, 'a\0b')), TypeError);
  assert.throws(() => loose.bindListen!(sockPath(), '8'), TypeError);
  assert.throws(() => loose.sendFds!(sockPath(), 'name', []), TypeError);
  assert.throws(() => loose.sendFds!(sockPath(), Buffer.from('x'), 3), TypeError);
  assert.throws(() => loose.sendFds!(sockPath(), Buffer.from('x'), ['3']), TypeError);
  assert.throws(() => loose.sendFds!(sockPath(), Buffer.from('x'), [-1]), RangeError);
  assert.throws(() => loose.sendFds!(sockPath(), Buffer.from('x'), [1.5]), RangeError);
  assert.throws(() => loose.sendFds!(sockPath(), Buffer.from('x'), new Array<number>(254).fill(0)), RangeError);
  assert.throws(() => loose.fdInfo!(-1), RangeError);
  assert.throws(() => loose.fdInfo!('0'), TypeError);
  assert.throws(() => loose.clockRealtime!(new Float32Array(2)), TypeError);
  assert.throws(() => loose.clockRealtime!(new Float64Array(1)), TypeError);

  const fd = bindDgram(sockPath());
  try {
    const noop = (): void => {};
    assert.throws(() => new DgramReceiver(fd, 0, noop), RangeError);
    assert.throws(() => new DgramReceiver(fd, 65537, noop), RangeError);
    assert.throws(() => new DgramReceiver(fd, 16, noop, { maxFds: 254 }), RangeError);
    assert.throws(() => new DgramReceiver(fd, 16, 'f' as unknown as () => void), TypeError);
    // Not a datagram socket: refused, and the fd stays the caller's.
    const [a, b] = socketpair();
    assertSysError(() => new DgramReceiver(a, 16, noop), 'EPROTOTYPE');
    closeAll([a, b]);
    const f = fs.openSync('/dev/null', 'r');
    assertSysError(() => new DgramReceiver(f, 16, noop), 'ENOTSOCK');
    fs.closeSync(f);
    assert.equal(fdInfo(fd).kind, 'socket-dgram');
  } finally {
    fs.closeSync(fd);
  }
});

test('MSG_CTRUNC: truncated fds are all closed and reported', async () => {
  const baseline = countFds();
  const rx = receiver(64, 2);
  const pairs = Array.from({ length: 5 }, () => socketpair());
  sendFds(rx.path, Buffer.from('ten'), pairs.flat());
  closeAll(pairs.flat());
  // A datagram that fits still gets through afterwards.
  const [a, b] = socketpair();
  sendFds(rx.path, Buffer.from('two'), [a, b]);
  closeAll([a, b]);
  await until('datagrams', () => rx.got.length === 2);
  const [ten, two] = rx.got as [Datagram, Datagram];
  assert.equal(ten.name.toString(), 'ten');
  assert.equal(ten.flags & DGRAM_FDS_TRUNCATED, DGRAM_FDS_TRUNCATED);
  assert.deepEqual(ten.fds, []);
  assert.equal(two.flags, 0);
  assert.equal(two.fds.length, 2);
  closeAll(two.fds);
  rx.close();
  await fdsBackTo(baseline);
});

test('clockRealtime agrees with Date.now()', () => {
  const out = new Float64Array(2);
  for (let i = 0; i < 3; i++) {
    // Read between two readings of Date.now() (whole milliseconds): however long each takes, it falls between them.
    const before = Date.now();
    clockRealtime(out);
    const after = Date.now();
    const ms = out[0]! * 1000 + out[1]! / 1e6;
    assert.ok(ms >= before && ms < after + 1, `${ms} not within [${before}, ${after + 1})`);
    assert.ok(Number.isInteger(out[0]) && Number.isInteger(out[1]));
    assert.ok(out[1]! >= 0 && out[1]! < 1e9);
  }
  // Works on a view at an offset, too.
  const big = new Float64Array(4);
  clockRealtime(big.subarray(2));
  assert.equal(big[0], 0);
  assert.ok(big[2]! > 1e9);
});

test('close() from inside the callback stops delivery; queued fds are not leaked', async () => {
  const baseline = countFds();
  const p = sockPath();
  const got: string[] = [];
  const rx: DgramReceiver = new DgramReceiver(bindDgram(p), 64, (name, fds) => {
    got.push(name.toString());
    closeAll(fds);
    rx.close();
    rx.close();
  });
  for (let i = 0; i < 3; i++) {
    const [a, b] = socketpair();
    sendFds(p, Buffer.from(`d${i}`), [a, b]);
    closeAll([a, b]);
  }
  await until('first datagram', () => got.length === 1);
  // The unread datagrams (and their fds) go away with the socket; once it is closed, nothing more can come.
  await fdsBackTo(baseline);
  assert.deepEqual(got, ['d0']);
  fs.rmSync(p);
});

test('many receivers can be created and closed', async () => {
  const baseline = countFds();
  const rxs = Array.from({ length: 50 }, () => receiver(32));
  for (const [i, rx] of rxs.entries()) sendFds(rx.path, Buffer.from(`r${i}`), []);
  await until('all', () => rxs.every((rx) => rx.got.length === 1));
  rxs.forEach((rx, i) => assert.equal(rx.got[0]!.name.toString(), `r${i}`));
  for (const rx of rxs) rx.close();
  await fdsBackTo(baseline);
});

test('bindListen works with net.Server.listen({fd})', async () => {
  const p = sockPath();
  const fd = bindListen(p, 16);
  assert.deepEqual(what(fd), { kind: 'socket-stream', readable: true, writable: true });
  const server = net.createServer((conn) => conn.end('hi from server'));
  await new Promise<void>((resolve) => server.listen({ fd }, resolve));
  try {
    const reply = await new Promise<string>((resolve, reject) => {
      const c = net.connect(p);
      let data = '';
      c.on('data', (chunk) => (data += chunk.toString()));
      c.on('end', () => resolve(data));
      c.on('error', reject);
    });
    assert.equal(reply, 'hi from server');
  } finally {
    await new Promise((resolve) => server.close(resolve));
    fs.rmSync(p, { force: true });
  }
});

test('an exception in the callback becomes an uncaught exception, and delivery goes on', () => {
  const res = runChild(`
    const p = process.env.SOCK;
    let seen = 0, caught = [];
    const r = new native.DgramReceiver(native.bindDgram(p), 64, (name) => {
      seen++;
      throw new Error('boom ' + name.toString());
    });
    process.on('uncaughtException', (e) => {
      caught.push(e.message);
      if (caught.length === 3) { r.close(); console.log(JSON.stringify({ seen, caught })); }
    });
    for (const n of ['a', 'b', 'c']) native.sendFds(p, Buffer.from(n), []);
  `);
  assert.equal(res.status, 0, res.stderr);
  assert.deepEqual(JSON.parse(res.stdout), { seen: 3, caught: ['boom a', 'boom b', 'boom c'] });

  const unhandled = runChild(`
    const p = process.env.SOCK;
    new native.DgramReceiver(native.bindDgram(p), 64, () => { throw new Error('unhandled boom'); });
    native.sendFds(p, Buffer.from('x'), []);
  `);
  assert.equal(unhandled.status, 1);
  assert.match(unhandled.stderr, /unhandled boom/);
});

test('unref() lets the process exit; ref() keeps it alive; the receiver survives GC while open', () => {
  const res = runChild(`
    const p = process.env.SOCK;
    const r = new native.DgramReceiver(native.bindDgram(p), 64, () => {});
    r.unref(); r.ref(); r.unref();
    setTimeout(() => {}, 50);
  `);
  assert.equal(res.status, 0, res.stderr);

  const kept = runChild(`
    const p = process.env.SOCK;
    const r = new native.DgramReceiver(native.bindDgram(p), 64, () => {});
    r.unref(); r.ref();
    setTimeout(() => { console.log('still alive'); r.close(); }, 200);
  `);
  assert.equal(kept.status, 0, kept.stderr);
  assert.equal(kept.stdout.trim(), 'still alive');

  // Unreferenced-but-open receivers keep receiving after gc(); closed ones are collected.
  const gc = runChild(
    `
    const p = process.env.SOCK;
    let got = 0;
    for (let i = 0; i < 100; i++) {
      const r = new native.DgramReceiver(native.bindDgram(p + i), 64, () => {});
      r.close();
    }
    for (let i = 0; i < 10; i++) new native.DgramReceiver(native.bindDgram(p + 'open' + i), 64, (name, fds) => {
      got++;
      if (got === 10) process.exit(0);
    });
    globalThis.gc();
    setTimeout(() => {
      globalThis.gc();
      for (let i = 0; i < 10; i++) native.sendFds(p + 'open' + i, Buffer.from('x'), []);
    }, 20);
    setTimeout(() => { console.error('not delivered: ' + got); process.exit(2); }, 5000).unref();
  `,
    ['--expose-gc'],
  );
  assert.equal(gc.status, 0, gc.stderr);
});

test('a receiver left open in a terminated Worker is torn down cleanly', async () => {
  const baseline = countFds();
  const p = sockPath();
  const worker = new Worker(
    `
    const { parentPort, workerData } = require('node:worker_threads');
    import(workerData.url).then((native) => {
      new native.DgramReceiver(native.bindDgram(workerData.path), 64, () => parentPort.postMessage('got'));
      parentPort.postMessage('ready');
    });
  `,
    { eval: true, workerData: { url: NATIVE_URL, path: p } },
  );
  const messages: string[] = [];
  worker.on('message', (m: string) => messages.push(m));
  await until('worker ready', () => messages.includes('ready'));
  sendFds(p, Buffer.from('x'), []);
  await until('worker received', () => messages.includes('got'));
  await worker.terminate();
  // Worker threads share the fd table: the receiver's socket must be gone.
  await fdsBackTo(baseline);
  fs.rmSync(p);
});

test('dupFd: a second fd for the same open file, close-on-exec; closing one leaves the other working', () => {
  const [a, b] = socketpair();
  const copy = dupFd(a);
  try {
    assert.notEqual(copy, a);
    assert.equal(`${fdInfo(copy).dev}:${fdInfo(copy).ino}`, `${fdInfo(a).dev}:${fdInfo(a).ino}`);
    const flags = parseInt(/^flags:\s+([0-7]+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${copy}`, 'utf8'))?.[1] ?? '0', 8);
    assert.ok((flags & 0o2000000) !== 0, 'O_CLOEXEC');
    fs.closeSync(copy);
    fs.writeSync(b, 'still there');
    const got = Buffer.alloc(32);
    const n = fs.readSync(a, got);
    assert.equal(got.subarray(0, n).toString(), 'still there');
  } finally {
    fs.closeSync(a);
    fs.closeSync(b);
  }
  assert.throws(() => dupFd(a), { code: 'EBADF' });
});
