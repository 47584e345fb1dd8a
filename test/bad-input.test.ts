/**
 * Bad input on both sockets gets a clear answer, everyone else keeps being
 * served, and the daemon's open fds return to where they were after each.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { bindDgram, sendFds, socketpair } from '../src/native.js';
import { connectQuery, LineReader, parseEntry } from '../src/clients/query-client.js';
import { rss } from '../bench/proc-stats.js';
import { BIN, dump, fdCount, fdsBackTo, messagesOf, openStream, run, startDaemon, tmpdir, waitFor, type DaemonProcess } from './helpers.js';

async function ownEntry(daemon: DaemonProcess, pattern: RegExp): Promise<string> {
  return waitFor(`a memlogd entry matching ${pattern}`, async () => messagesOf(await dump(daemon.querySocket), 'memlogd').find((m) => pattern.test(m)));
}

async function stillServes(daemon: DaemonProcess): Promise<void> {
  const fd = await openStream(daemon.logSocket, 'canary');
  const word = `alive-${Math.random()}`;
  fs.writeSync(fd, `${word}\n`);
  fs.closeSync(fd);
  await waitFor('the canary line', async () => messagesOf(await dump(daemon.querySocket), 'canary').includes(word));
}

test('bad input on the log socket', async (t) => {
  const dir = tmpdir(t);
  const daemon = await startDaemon(t, dir, ['-max-lines', '100000', '-max-bytes', '100000000']);
  await stillServes(daemon);
  const baseline = fdCount(daemon.pid);

  await t.test('a datagram with no fd is ignored with an entry saying so', async () => {
    sendFds(daemon.logSocket, Buffer.from('nofd'), []);
    await ownEntry(daemon, /"nofd".*carried no fd/);
    await stillServes(daemon);
    await fdsBackTo(daemon.pid, baseline);
  });

  await t.test('several fds in one datagram are each read under the name', async () => {
    const pairs = [socketpair(), socketpair(), socketpair()];
    sendFds(daemon.logSocket, Buffer.from('multi'), pairs.map((p) => p[1]));
    pairs.forEach(([mine, theirs], i) => {
      fs.closeSync(theirs);
      fs.writeSync(mine, `from fd ${i}\n`);
      fs.closeSync(mine);
    });
    await waitFor('three lines', async () => messagesOf(await dump(daemon.querySocket), 'multi').length === 3);
    assert.deepEqual(messagesOf(await dump(daemon.querySocket), 'multi').sort(), ['from fd 0', 'from fd 1', 'from fd 2']);
    await fdsBackTo(daemon.pid, baseline);
  });

  await t.test('a directory, a write-only file and a datagram socket are refused and closed', async () => {
    const dirFd = fs.openSync(dir, 'r');
    const wFd = fs.openSync(path.join(dir, 'write-only'), 'w');
    const dgram = bindDgram(path.join(dir, 'other.sock'));
    sendFds(daemon.logSocket, Buffer.from('weird'), [dirFd, wFd, dgram]);
    [dirFd, wFd, dgram].forEach((fd) => fs.closeSync(fd));
    await ownEntry(daemon, /refused an fd for "weird": it is a directory/);
    await ownEntry(daemon, /refused an fd for "weird": it is a file open for writing only/);
    await ownEntry(daemon, /refused an fd for "weird": it is a datagram socket/);
    await stillServes(daemon);
    await fdsBackTo(daemon.pid, baseline);
  });

  await t.test('a regular file is read to its end', async () => {
    const file = path.join(dir, 'a-file');
    fs.writeFileSync(file, 'file line 1\nfile line 2\n');
    const fd = fs.openSync(file, 'r');
    sendFds(daemon.logSocket, Buffer.from('file'), [fd]);
    fs.closeSync(fd);
    await waitFor('both lines', async () => messagesOf(await dump(daemon.querySocket), 'file').length === 2);
    await fdsBackTo(daemon.pid, baseline);
  });

  await t.test('odd names: empty, 4 KiB, with ; newline / .. and invalid UTF-8', async () => {
    const names: [Buffer, string][] = [
      [Buffer.alloc(0), 'unnamed'],
      [Buffer.alloc(4096, 0x6e), 'n'.repeat(512)],
      [Buffer.from('semi;colon'), 'semi;colon'],
      [Buffer.from('new\nline'), 'new\ufffdline'],
      [Buffer.from('../../etc/passwd'), '../../etc/passwd'],
      [Buffer.from([0x62, 0xff, 0x64]), 'b\ufffdd'],
    ];
    for (const [raw, shown] of names) {
      const fd = await openStream(daemon.logSocket, raw);
      fs.writeSync(fd, `line for ${shown.slice(0, 20)}\n`);
      fs.closeSync(fd);
      await waitFor(`an entry from ${JSON.stringify(shown.slice(0, 20))}`, async () => messagesOf(await dump(daemon.querySocket), shown).length === 1);
    }
    await ownEntry(daemon, /empty name/);
    await ownEntry(daemon, /cut to 512/);
    await ownEntry(daemon, /control characters replaced/);
    await ownEntry(daemon, /invalid UTF-8 replaced/);
    // logread writes the ; in a source as \; so the text stays parseable.
    const text = await run(process.execPath, [BIN('logread'), '-socket', daemon.querySocket]);
    assert.match(text.stdout, /;semi\\;colon;line for semi;colon\n/);
    assert.doesNotMatch(text.stdout, /new\nline/);
    await fdsBackTo(daemon.pid, baseline);
  });

  await t.test('a writer that sends 64 MiB (and then 192 more) without a newline: memory stays bounded', async () => {
    const before = rss(daemon.pid);
    const fd = await openStream(daemon.logSocket, 'nonewline');
    const block = Buffer.alloc(1 << 20, 0x7a);
    // 256 MiB in all: read buffers are garbage collected in batches, so RSS moves by tens of MB
    // either way; what must not happen is growth in proportion to the line.
    for (let i = 0; i < 256; i++) fs.writeSync(fd, block);
    fs.writeSync(fd, '\nnext line\n');
    fs.closeSync(fd);
    const msgs = await waitFor('both entries', async () => {
      const m = messagesOf(await dump(daemon.querySocket), 'nonewline');
      return m.length === 2 && m;
    }, 30_000);
    assert.deepEqual(msgs, ['z'.repeat(1024), 'next line']);
    const grown = rss(daemon.pid) - before;
    assert.ok(grown < 64 * 1024 * 1024, `RSS grew by ${grown} bytes after a 256 MiB line`);
    await fdsBackTo(daemon.pid, baseline);
  });

  await t.test('a thousand writers at once', async () => {
    const fds: number[] = [];
    for (let i = 0; i < 1000; i++) fds.push(await openStream(daemon.logSocket, `w${i % 10}`));
    fds.forEach((fd, i) => fs.writeSync(fd, `writer ${i}\n`));
    fds.forEach((fd) => fs.closeSync(fd));
    await waitFor('all 1000 lines', async () => {
      const entries = await dump(daemon.querySocket);
      return entries.filter((e) => /^w\d$/.test(e.source)).length === 1000;
    }, 30_000);
    await fdsBackTo(daemon.pid, baseline);
  });
});

test('bad input on the query socket', async (t) => {
  const dir = tmpdir(t);
  const daemon = await startDaemon(t, dir, ['-max-lines', '100000']);
  const fd = await openStream(daemon.logSocket, 'bulk');
  const line = 'q'.repeat(99) + '\n';
  fs.writeSync(fd, line.repeat(5000));
  await waitFor('the bulk', async () => messagesOf(await dump(daemon.querySocket), 'bulk').length === 5000);
  const baseline = fdCount(daemon.pid);

  await t.test('a client that sends nothing holds up no one, and is closed after its time', async () => {
    // Another daemon, with a short time for the mode byte, so the test need not wait 10 s.
    const quick = await startDaemon(t, tmpdir(t), ['-mode-timeout-ms', '500']);
    const quickBaseline = fdCount(quick.pid);
    const silent = net.connect(quick.querySocket);
    await new Promise((r) => silent.once('connect', r));
    const closed = new Promise((r) => silent.once('close', r));
    silent.on('error', () => {});
    const entries = await dump(quick.querySocket);
    assert.equal(entries[0].msg, 'memlogd started');
    await closed;
    await ownEntry(quick, /sent no complete request/);
    await fdsBackTo(quick.pid, quickBaseline);
  });

  await t.test('an unknown mode byte is answered and the connection closed', async () => {
    const socket = await connectQuery(daemon.querySocket, 0x37);
    const lines = new LineReader();
    const answer: string[] = [];
    socket.on('data', (c: Buffer) => lines.push(c, (l) => answer.push(parseEntry(l)?.msg ?? `not an entry: ${l}`)));
    await new Promise((r) => socket.once('end', r));
    socket.destroy();
    assert.equal(answer.length, 1);
    assert.match(answer[0], /unknown query mode byte 0x37/);
    await fdsBackTo(daemon.pid, baseline);
  });

  await t.test('clients that vanish mid-dump', async () => {
    for (let i = 0; i < 50; i++) {
      const socket = await connectQuery(daemon.querySocket, i % 2 === 0 ? 0 : 2);
      await new Promise((r) => socket.once('data', r));
      socket.destroy();
    }
    assert.equal(messagesOf(await dump(daemon.querySocket), 'bulk').length, 5000);
    await fdsBackTo(daemon.pid, baseline);
  });

  await t.test('hundreds of clients at once all get the whole ring', async () => {
    const dumps = await Promise.all(Array.from({ length: 300 }, () => dump(daemon.querySocket)));
    for (const entries of dumps) assert.equal(messagesOf(entries, 'bulk').length, 5000);
    await fdsBackTo(daemon.pid, baseline);
  });

  fs.closeSync(fd);
});
