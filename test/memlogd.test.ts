import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { connectQuery, LineReader, parseEntry } from '../src/clients/query-client.js';
import { Memlogd } from '../src/daemon/memlogd.js';
import { MAX_QUEUED_PER_READER } from '../src/outputs/query-server.js';
import { parseRfc3339 } from '../src/entry/rfc3339.js';
import { bindDgram, sendFds, socketpair } from '../src/native.js';
import { MemlogdChild } from '../src/init/memlogd-child.js';
import { BIN, ROOT, run, dump, follow, pidsHoldingSocket, messagesOf, openStream, startDaemon, tmpdir, waitFor } from './helpers.js';

const RFC3339_NANO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;

test('the first entry is "memlogd started", from source memlogd', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t));
  const entries = await dump(daemon.querySocket);
  assert.deepEqual(entries[0], { time: entries[0].time, source: 'memlogd', msg: 'memlogd started', seq: 0 });
  assert.match(entries[0].time, RFC3339_NANO);
});

test('every line of a stream becomes an entry, stamped and tagged, with the final fragment too', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t));
  const before = Date.now();
  const fd = await openStream(daemon.logSocket, 'svc');
  fs.writeSync(fd, 'first line\nsecond line\n\nno newline at the end');
  fs.closeSync(fd);
  const entries = await waitFor('four entries', async () => {
    const e = (await dump(daemon.querySocket)).filter((x) => x.source === 'svc');
    return e.length === 4 && e;
  });
  assert.deepEqual(
    entries.map((e) => e.msg),
    ['first line', 'second line', '', 'no newline at the end'],
  );
  for (const e of entries) {
    assert.match(e.time, RFC3339_NANO);
    const ms = Date.parse(e.time);
    assert.ok(ms >= before - 1000 && ms <= Date.now() + 1000, `${e.time} is now`);
  }
  // Sub-millisecond precision: receipt times carry at least microseconds (a zero fraction may be trimmed, so look at several).
  assert.ok(entries.some((e) => (parseRfc3339(e.time)?.nsec ?? 0) % 1_000_000 !== 0));
});

test('lines longer than -max-line-len keep their first bytes; the line is not split', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t), ['-max-line-len', '16']);
  const fd = await openStream(daemon.logSocket, 'long');
  fs.writeSync(fd, `${'a'.repeat(16)}${'b'.repeat(100)}\nshort\n${'c'.repeat(16)}\n`);
  fs.closeSync(fd);
  const msgs = await waitFor('three entries', async () => {
    const m = messagesOf(await dump(daemon.querySocket), 'long');
    return m.length === 3 && m;
  });
  assert.deepEqual(msgs, ['a'.repeat(16), 'short', 'c'.repeat(16)]);
});

test('bytes that are not UTF-8 arrive as U+FFFD; escapes and unicode survive', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t));
  const fd = await openStream(daemon.logSocket, 'bytes');
  fs.writeSync(fd, Buffer.concat([Buffer.from('bad '), Buffer.from([0xff]), Buffer.from(' byte "q" \\ \t é 😀\n')]));
  fs.closeSync(fd);
  const msgs = await waitFor('the entry', async () => {
    const m = messagesOf(await dump(daemon.querySocket), 'bytes');
    return m.length === 1 && m;
  });
  assert.equal(msgs[0], 'bad \ufffd byte "q" \\ \t é 😀');
});

test('the ring keeps the newest -max-lines entries', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t), ['-max-lines', '10']);
  const fd = await openStream(daemon.logSocket, 'many');
  fs.writeSync(fd, Array.from({ length: 100 }, (_, i) => `line ${i}\n`).join(''));
  fs.closeSync(fd);
  const entries = await waitFor('line 99', async () => {
    const e = await dump(daemon.querySocket);
    return e.some((x) => x.msg === 'line 99') && e;
  });
  assert.equal(entries.length, 10);
  assert.deepEqual(messagesOf(entries, 'many'), Array.from({ length: 10 }, (_, i) => `line ${90 + i}`));
});

test('a raw ring (-compress-ring=false) keeps within -max-bytes of message text', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t), ['-max-lines', '100000', '-max-bytes', '10000', '-compress-ring=false']);
  const fd = await openStream(daemon.logSocket, 'bytes');
  const line = (i: number): string => `${String(i).padStart(5, '0')} ${'x'.repeat(94)}`; // 100 bytes
  fs.writeSync(fd, Array.from({ length: 1000 }, (_, i) => line(i) + '\n').join(''));
  fs.closeSync(fd);
  const msgs = await waitFor('the last line', async () => {
    const m = messagesOf(await dump(daemon.querySocket), 'bytes');
    return m.at(-1) === line(999) && m;
  });
  const held = msgs.reduce((n, m) => n + m.length, 0);
  assert.ok(held <= 10000 && held >= 9000, `holds ${held} bytes`);
  assert.deepEqual(msgs, Array.from({ length: msgs.length }, (_, i) => line(1000 - msgs.length + i)));
});

test('mode 1 follows only new entries; mode 0 dumps and closes', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t));
  const fd = await openStream(daemon.logSocket, 'm');
  fs.writeSync(fd, 'before\n');
  await waitFor('before', async () => messagesOf(await dump(daemon.querySocket), 'm').length === 1);
  const follower = await follow(daemon.querySocket, 1);
  // The daemon starts following when it reads the mode byte, which may be a moment after connect.
  await waitFor('a new line to reach the follower', () => {
    fs.writeSync(fd, 'after\n');
    return follower.entries.length > 0;
  });
  assert.ok(follower.entries.every((e) => e.msg === 'after'), 'a follower gets no entry from before it started');
  follower.close();
  fs.closeSync(fd);
});

test('mode 2 neither misses nor repeats an entry between the dump and the follow', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t), ['-max-lines', '200000', '-max-bytes', '50000000']);
  const fd = await openStream(daemon.logSocket, 'seq');
  let n = 0;
  const writeSome = (k: number): void => {
    let s = '';
    for (let i = 0; i < k; i++) s += `n=${n++}\n`;
    fs.writeSync(fd, s);
  };
  writeSome(5000);
  // Connect while lines keep coming, so the dump and the follow overlap.
  const writer = setInterval(() => writeSome(200), 1);
  const followers = [];
  for (let i = 0; i < 5; i++) {
    followers.push(await follow(daemon.querySocket, 2));
    await new Promise((r) => setTimeout(r, 15));
  }
  clearInterval(writer);
  writeSome(1);
  const total = n;
  for (const f of followers) {
    await waitFor('every line', () => f.entries.filter((e) => e.source === 'seq').length >= total);
    const got = messagesOf(f.entries, 'seq');
    assert.deepEqual(got, Array.from({ length: total }, (_, i) => `n=${i}`));
    f.close();
  }
  fs.closeSync(fd);
});

test('followers that do not read hold up neither ingestion nor other readers', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t), ['-max-lines', '300000', '-max-bytes', '64000000']);
  // Clients that ask to follow (or to dump) and then never read.
  const stalled = await Promise.all([1, 2, 0].map((mode) => connectQuery(daemon.querySocket, mode)));
  stalled.forEach((s) => s.pause());
  const active = await follow(daemon.querySocket, 1);
  // A separate writer process: if a stalled reader held up ingestion, its pipe would fill and it would never finish.
  const writer = await run(process.execPath, [path.join(ROOT, 'dist/test/flood-writer.js'), daemon.logSocket, 'flood', '200000', '100'], { timeoutMs: 60_000 });
  assert.equal(writer.code, 0, writer.stderr);
  await waitFor('the active follower to get every line', () => active.entries.filter((e) => e.source === 'flood').length === 200_000, 30_000);
  assert.equal(messagesOf(await dump(daemon.querySocket), 'flood').length, 200_000);
  stalled.forEach((s) => s.destroy());
  active.close();
});

test('a follower that falls too far behind loses the oldest entries it had not read, and the loss is counted', async (t) => {
  const dir = tmpdir(t);
  // The ring holds more than one read's worth of lines (a 64 KiB read of `seq` output is about 9,000 lines).
  const daemon = await Memlogd.start({ socketLog: path.join(dir, 'l.sock'), socketQuery: path.join(dir, 'q.sock'), maxLines: 20_000 });
  t.after(() => daemon.close());
  const slow = await connectQuery(daemon.opts.socketQuery, 1);
  slow.pause();
  await waitFor('the follower to be registered', () => daemon.query.readers.size === 1);
  const r = await run(process.execPath, [BIN('logwrite'), '-socket', daemon.opts.socketLog, '-n', 'count', 'seq', '200000']);
  assert.equal(r.code, 0);
  await waitFor('all lines in the ring', () => daemon.ring.next >= 200_001);
  // Memory: the stalled follower holds at most its bounded queue in the daemon, not the flood.
  const [stalled] = daemon.query.readers;
  assert.ok(stalled.socket.writableLength <= MAX_QUEUED_PER_READER + 300 * 1024, `${stalled.socket.writableLength} bytes queued`);
  // And the inputs stopped holding for it once it made no progress.
  assert.equal(stalled.stalled, true);
  const got: number[] = [];
  const lines = new LineReader();
  slow.on('data', (c: Buffer) => lines.push(c, (l) => {
    const e = parseEntry(l);
    if (e?.source === 'count.out') got.push(Number(e.msg));
  }));
  slow.resume();
  await waitFor('the last line', () => got.at(-1) === 200_000);
  // What arrived: a run from the start (what the socket buffer held), one gap, then a run to the end.
  const gaps = got.slice(1).map((n, i) => n - got[i]).filter((d) => d !== 1);
  assert.equal(got[0], 1);
  assert.equal(gaps.length, 1, 'the loss is one contiguous stretch');
  const missing = 200_000 - got.length;
  assert.ok(missing > 100_000, `lost ${missing}`);
  const [reader] = daemon.query.readers;
  assert.equal(reader.lost, missing);
  assert.equal(daemon.query.lost, missing);
  slow.destroy();
});

test('-daemonize returns after both sockets exist, and the background daemon serves on them', async (t) => {
  const dir = tmpdir(t);
  const logSocket = path.join(dir, 'l.sock');
  const querySocket = path.join(dir, 'q.sock');
  const result = await run(process.execPath, [BIN('memlogd'), '-socket-log', logSocket, '-socket-query', querySocket, '-daemonize']);
  assert.equal(result.code, 0, result.stderr);
  assert.ok(fs.statSync(logSocket).isSocket());
  assert.ok(fs.statSync(querySocket).isSocket());
  // Nothing polled for readiness: the very first dump after return must answer.
  const entries = await dump(querySocket);
  assert.equal(entries[0].msg, 'memlogd started');
  const fd = await openStream(logSocket, 'bg');
  fs.writeSync(fd, 'hello background\n');
  fs.closeSync(fd);
  await waitFor('the line', async () => messagesOf(await dump(querySocket), 'bg')[0] === 'hello background');
  // Stop the background daemon: the process holding the query socket.
  for (const pid of pidsHoldingSocket(querySocket)) process.kill(pid, 'SIGTERM');
});

test('-daemonize returns after the syslog sockets exist too (world-writable, as /dev/log), and the background daemon reads them', async (t) => {
  const dir = tmpdir(t);
  const querySocket = path.join(dir, 'q.sock');
  const syslogSocket = path.join(dir, 'log');
  const syslogStream = path.join(dir, 'log-stream');
  const args = ['-socket-log', path.join(dir, 'l.sock'), '-socket-query', querySocket, '-socket-syslog', syslogSocket, '-syslog-stream', syslogStream];
  const result = await run(process.execPath, [BIN('memlogd'), ...args, '-daemonize']);
  t.after(() => {
    for (const pid of pidsHoldingSocket(querySocket)) process.kill(pid, 'SIGTERM');
  });
  assert.equal(result.code, 0, result.stderr);
  for (const p of [syslogSocket, syslogStream]) {
    const st = fs.statSync(p);
    assert.ok(st.isSocket(), p);
    assert.equal(st.mode & 0o777, 0o666, p);
  }
  // Nothing polled for readiness: logger run right after the return must reach memlogd, on either socket.
  const dgram = await run('logger', ['-u', syslogSocket, '-t', 'bg-dgram', 'by datagram']);
  assert.equal(dgram.code, 0, dgram.stderr);
  const stream = await run('logger', ['-T', '--octet-count', '-u', syslogStream, '-t', 'bg-stream', 'by stream']);
  assert.equal(stream.code, 0, stream.stderr);
  await waitFor('both messages', async () => {
    const entries = await dump(querySocket);
    return messagesOf(entries, 'bg-dgram')[0] === 'by datagram' && messagesOf(entries, 'bg-stream')[0] === 'by stream';
  });
});

test('a pipe and a FIFO are read like a socketpair', async (t) => {
  const dir = tmpdir(t);
  const daemon = await startDaemon(t, dir);
  // A pipe(2): the shell makes one, and a sender hands its read end (its stdin) to memlogd.
  const sender = path.join(dir, 'send-stdin.mjs');
  fs.writeFileSync(
    sender,
    `import { sendFds } from ${JSON.stringify(path.join(ROOT, 'dist/src/native.js'))};\nsendFds(process.argv[2], Buffer.from(process.argv[3]), [0]);\n`,
  );
  const piped = await run('sh', ['-c', `{ sleep 0.3; printf 'through a pipe\\nsecond\\n'; } | "${process.execPath}" "${sender}" "${daemon.logSocket}" piped`]);
  assert.equal(piped.code, 0, piped.stderr);
  // A FIFO, as LinuxKit's init uses for services: memlogd gets the read end, the service opens the write end.
  const fifo = path.join(dir, 'svc.fifo');
  await run('mkfifo', [fifo]);
  const readEnd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  sendFds(daemon.logSocket, Buffer.from('fifo'), [readEnd]);
  fs.closeSync(readEnd);
  const writeEnd = fs.openSync(fifo, 'w');
  fs.writeSync(writeEnd, 'through a fifo\n');
  fs.closeSync(writeEnd);
  await waitFor('both streams', async () => {
    const entries = await dump(daemon.querySocket);
    return messagesOf(entries, 'piped').length === 2 && messagesOf(entries, 'fifo').length === 1;
  });
  const entries = await dump(daemon.querySocket);
  assert.deepEqual(messagesOf(entries, 'piped'), ['through a pipe', 'second']);
  assert.deepEqual(messagesOf(entries, 'fifo'), ['through a fifo']);
});

test('when its log socket fails for good, memlogd says so (an entry and stderr) and exits non-zero, for its supervisor to start another', async (t) => {
  const dir = tmpdir(t);
  const logSocket = path.join(dir, 'log.sock');
  const querySocket = path.join(dir, 'query.sock');
  // The failure, for real: on SIGUSR2 the daemon's fd 3 (its log socket) is closed and reused for
  // /dev/null, while fd 4 keeps the socket itself alive; the next datagram wakes the daemon, and
  // its recvmsg on fd 3 fails with ENOTSOCK.
  const sabotage = path.join(dir, 'sabotage.mjs');
  fs.writeFileSync(
    sabotage,
    `import fs from 'node:fs';
process.on('SIGUSR2', () => {
  fs.closeSync(3);
  const extra = [];
  for (let fd = fs.openSync('/dev/null', 'r'); fd !== 3; fd = fs.openSync('/dev/null', 'r')) extra.push(fd);
  for (const fd of extra) fs.closeSync(fd);
  process.stderr.write('sabotaged\\n');
});
`,
  );
  const logFd = bindDgram(logSocket);
  const proc = spawn(process.execPath, ['--import', pathToFileURL(sabotage).href, BIN('memlogd'), '-fd-log=3', '-socket-query', querySocket], {
    stdio: ['ignore', 'ignore', 'pipe', logFd, logFd],
  });
  fs.closeSync(logFd);
  t.after(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill();
  });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  await waitFor('memlogd to answer', async () => (await dump(querySocket))[0]?.msg === 'memlogd started');
  const follower = await follow(querySocket, 2);
  await waitFor('the follower', () => follower.entries.length > 0);

  proc.kill('SIGUSR2');
  await waitFor('the sabotage', () => stderr.includes('sabotaged'));
  sendFds(logSocket, Buffer.from('wake up'), []);
  await waitFor('memlogd to exit', () => proc.exitCode !== null);
  assert.equal(proc.exitCode, 1);
  const said = /the log socket failed \(recvmsg fd 3: Socket operation on non-socket\): no stream can be handed to this memlogd any more/;
  assert.match(stderr, new RegExp(`memlogd: ${said.source}; exiting\\n`));
  await waitFor('the entry saying so', () => messagesOf(follower.entries, 'memlogd').some((m) => said.test(m)));
  follower.close();
});

test('a line ending in CR LF loses its CR, as upstream; a CR elsewhere is kept', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t));
  const fd = await openStream(daemon.logSocket, 'crlf');
  fs.writeSync(fd, 'dos line\r\nbare\rinside\r\nsplit across writes\r');
  await waitFor('the first two lines', async () => messagesOf(await dump(daemon.querySocket), 'crlf').length === 2);
  fs.writeSync(fd, '\nends in a CR at EOF\r');
  fs.closeSync(fd);
  await waitFor('four lines', async () => messagesOf(await dump(daemon.querySocket), 'crlf').length === 4);
  assert.deepEqual(messagesOf(await dump(daemon.querySocket), 'crlf'), ['dos line', 'bare\rinside', 'split across writes', 'ends in a CR at EOF\r']);
  // logread prints no raw carriage return at the end of a line.
  const r = await run(process.execPath, [BIN('logread'), '-socket', daemon.querySocket]);
  assert.match(r.stdout, /;crlf;dos line\n/);
  assert.match(r.stdout, /;crlf;split across writes\n/);
});

test('one stream handed over twice is read once: status lists it once and every line arrives whole', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t));
  const [mine, theirs] = socketpair();
  try {
    // As after a memlogd restart: a datagram still queued for the old daemon, and the init handing the stream again.
    sendFds(daemon.logSocket, Buffer.from('twice'), [theirs]);
    sendFds(daemon.logSocket, Buffer.from('twice'), [theirs]);
  } finally {
    fs.closeSync(theirs);
  }
  await waitFor('the second hand-over refused', async () =>
    messagesOf(await dump(daemon.querySocket), 'memlogd').some((m) => m === 'closed an fd for "twice": memlogd reads that stream already (as "twice")'),
  );
  const line = 'x'.repeat(300);
  for (let i = 0; i < 20; i++) fs.writeSync(mine, Array.from({ length: 100 }, (_, k) => `${i * 100 + k} ${line}\n`).join(''));
  fs.closeSync(mine);
  const msgs = await waitFor('every line', async () => {
    const m = messagesOf(await dump(daemon.querySocket), 'twice');
    return m.length >= 2000 && m;
  });
  assert.deepEqual(msgs, Array.from({ length: 2000 }, (_, i) => `${i} ${line}`));
  const r = await run(process.execPath, [BIN('memlog'), 'status', '-socket', daemon.querySocket]);
  assert.equal((JSON.parse(r.stdout) as { duplicateStreams: number }).duplicateStreams, 1);
});

test("memlogd's readiness and drain checks cost it a status line, not a dump of its ring", async (t) => {
  const dir = tmpdir(t);
  const child = await MemlogdChild.start({ socketLog: path.join(dir, 'log.sock'), socketQuery: path.join(dir, 'query.sock'), maxLines: 100_000, maxBytes: 64 * 1024 * 1024 });
  t.after(() => child.stop(2000));
  const fd = await openStream(child.logSocket, 'filler');
  const line = 'y'.repeat(200);
  for (let i = 0; i < 50; i++) fs.writeSync(fd, `${line}\n`.repeat(1000));
  fs.closeSync(fd);
  await waitFor('50,000 entries in the ring', async () => ((await child.status())?.ring.entries ?? 0) > 50_000);
  // Bytes memlogd has written (to sockets and anything else), as the kernel counts them.
  const written = (): number => Number(/wchar: (\d+)/.exec(fs.readFileSync(`/proc/${child.proc.pid}/io`, 'utf8'))?.[1]);
  const before = written();
  for (let i = 0; i < 10; i++) assert.ok((await child.status())?.daemon);
  const cost = written() - before;
  // A dump of this ring is over 10 MB; ten status answers are a few kilobytes.
  assert.ok(cost < 100_000, `ten checks made memlogd write ${cost} bytes`);
});
