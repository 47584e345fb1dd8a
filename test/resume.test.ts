/** The resumable stream: sequence numbers, mode 3, loss markers, and compatibility both ways. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { connectQuery, connectResume, LineReader } from '../src/clients/query-client.js';
import { Memlogd } from '../src/daemon/memlogd.js';
import { BIN, dump, fakeUpstream, messagesOf, openStream, run, startDaemon, tmpdir, waitFor } from './helpers.js';

interface Line {
  time?: string;
  source?: string;
  msg?: string;
  seq?: number;
  lost?: { from: number; to: number; count: number; sources: Record<string, number>; unknown: number };
  memlogd?: { daemon: string; first: number; next: number; start: number };
}

/** Reads every line of a stream until the daemon closes it or `until` says stop. */
function readLines(socket: net.Socket, until: (lines: Line[]) => boolean = () => false, rest?: Buffer): Promise<Line[]> {
  const lines: Line[] = [];
  const reader = new LineReader();
  return new Promise((resolve) => {
    const take = (chunk: Buffer): void => {
      reader.push(chunk, (l) => lines.push(JSON.parse(l.toString()) as Line));
      if (until(lines)) {
        socket.destroy();
        resolve(lines);
      }
    };
    if (rest && rest.length > 0) take(rest);
    socket.on('data', take);
    socket.on('end', () => resolve(lines));
    socket.resume();
  });
}

async function writeLines(logSocket: string, name: string, lines: string[]): Promise<void> {
  const fd = await openStream(logSocket, name);
  fs.writeSync(fd, lines.map((l) => l + '\n').join(''));
  fs.closeSync(fd);
}

test('every entry carries a sequence number, one more than the entry before', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t));
  await writeLines(daemon.logSocket, 's', ['a', 'b', 'c']);
  await waitFor('the lines', async () => messagesOf(await dump(daemon.querySocket), 's').length === 3);
  const lines = await readLines(await connectQuery(daemon.querySocket, 0));
  assert.deepEqual(lines.map((l) => l.seq), [0, 1, 2, 3]);
  assert.deepEqual(lines.map((l) => l.msg), ['memlogd started', 'a', 'b', 'c']);
});

test('mode 3 answers with a hello, then resumes after the sequence number asked for', async (t) => {
  const dir = tmpdir(t);
  const daemon = await startDaemon(t, dir);
  await writeLines(daemon.logSocket, 's', ['one', 'two', 'three']);
  await waitFor('the lines', async () => messagesOf(await dump(daemon.querySocket), 's').length === 3);
  // A client that knew no daemon gets what there is.
  const fresh = await connectResume(daemon.querySocket, {});
  assert.ok(fresh.hello);
  assert.equal(fresh.hello.first, 0);
  assert.equal(fresh.hello.start, 0);
  const all = await readLines(fresh.socket, (l) => l.length === 4, fresh.rest);
  assert.deepEqual(all.map((l) => l.msg), ['memlogd started', 'one', 'two', 'three']);
  // Resuming after seq 2 ("two") gives "three" and then what comes next: nothing twice, nothing missed.
  const again = await connectResume(daemon.querySocket, { daemon: fresh.hello.daemon, after: 2 });
  assert.equal(again.hello?.start, 3);
  const more = readLines(again.socket, (l) => l.length === 2, again.rest);
  await writeLines(daemon.logSocket, 's', ['four']);
  assert.deepEqual((await more).map((l) => [l.seq, l.msg]), [[3, 'three'], [4, 'four']]);
});

test('resuming from entries that left the ring gets a marker naming how many, which, and whose', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t), ['-max-lines', '10']);
  const hello = (await connectResume(daemon.querySocket, {})).hello;
  assert.ok(hello);
  await writeLines(daemon.logSocket, 'x', Array.from({ length: 20 }, (_, i) => `x${i}`));
  await writeLines(daemon.logSocket, 'y', Array.from({ length: 5 }, (_, i) => `y${i}`));
  await waitFor('y4', async () => messagesOf(await dump(daemon.querySocket), 'y').includes('y4'));
  // Seqs: 0 memlogd started, 1-20 x0..x19, 21-25 y0..y4. The ring holds the last 10: 16..25.
  const c = await connectResume(daemon.querySocket, { daemon: hello.daemon, after: 3 });
  const lines = await readLines(c.socket, (l) => l.some((e) => e.msg === 'y4'), c.rest);
  const [marker, ...rest] = lines;
  assert.equal(marker.source, 'memlogd');
  assert.deepEqual(marker.lost, { from: 4, to: 15, count: 12, sources: { x: 12 }, unknown: 0 });
  assert.match(marker.msg ?? '', /lost 12 entries \(seq 4 to 15\).*x 12/);
  assert.equal(marker.seq, undefined, 'a marker is not an entry of the ring');
  assert.deepEqual(rest.map((l) => l.seq), [16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
});

test('a client that knew another daemon gets all of this one, from seq 0', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t));
  const c = await connectResume(daemon.querySocket, { daemon: 'an-older-daemon', after: 12345 });
  assert.equal(c.hello?.start, 0);
  assert.notEqual(c.hello?.daemon, 'an-older-daemon');
  const lines = await readLines(c.socket, (l) => l.length === 1, c.rest);
  assert.equal(lines[0].msg, 'memlogd started');
});

test('a bad resume request is answered with an error entry and closed', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t));
  for (const body of ['not json\n', '{"after":"x"}\n', '[1]\n', `{"daemon":"${'d'.repeat(100)}"}\n`]) {
    const socket = net.connect(daemon.querySocket);
    await new Promise((r) => socket.once('connect', r));
    socket.write(Buffer.concat([Buffer.from([3]), Buffer.from(body)]));
    const lines = await readLines(socket);
    assert.equal(lines.length, 1, body);
    assert.match(lines[0].msg ?? '', /^error: resume request/);
  }
  assert.equal((await dump(daemon.querySocket))[0].msg, 'memlogd started');
});

test('a follower that falls behind gets a marker in its stream, in every mode', async (t) => {
  const dir = tmpdir(t);
  const daemon = await Memlogd.start({ socketLog: path.join(dir, 'l.sock'), socketQuery: path.join(dir, 'q.sock'), maxLines: 20_000 });
  t.after(() => daemon.close());
  const followers = await Promise.all([1, 2].map((mode) => connectQuery(daemon.opts.socketQuery, mode)));
  followers.forEach((f) => f.pause());
  await waitFor('both followers', () => daemon.query.readers.size === 2);
  const r = await run(process.execPath, [BIN('logwrite'), '-socket', daemon.opts.socketLog, '-n', 'count', 'seq', '200000']);
  assert.equal(r.code, 0);
  await waitFor('all lines in the ring', () => daemon.ring.next >= 200_001);
  for (const f of followers) {
    const lines = await readLines(f, (l) => l.some((e) => e.msg === '200000'));
    const markers = lines.filter((l) => l.lost);
    assert.equal(markers.length, 1);
    const entries = lines.filter((l) => l.source === 'count.out');
    assert.equal(markers[0].lost?.count, 200_000 - entries.length);
    assert.deepEqual(markers[0].lost?.sources, { 'count.out': markers[0].lost?.count });
    // The marker stands exactly where the entries are missing.
    const at = lines.indexOf(markers[0]);
    assert.equal(lines[at + 1].seq, (markers[0].lost?.to ?? 0) + 1);
    assert.equal(lines[at - 1].seq, (markers[0].lost?.from ?? 0) - 1);
  }
});

test('an upstream client (plain mode 2) still reads the extended daemon', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t));
  await writeLines(daemon.logSocket, 'up', ['plain']);
  await waitFor('the line', async () => messagesOf(await dump(daemon.querySocket), 'up').length === 1);
  const socket = await connectQuery(daemon.querySocket, 2);
  const lines = await readLines(socket, (l) => l.length === 2);
  // What an upstream Go client decodes: time, source, msg; the extra seq field is ignored there.
  for (const l of lines) assert.deepEqual(Object.keys(l).slice(0, 3), ['time', 'source', 'msg']);
  assert.equal(lines[1].msg, 'plain');
});

test('our resuming client falls back to plain mode 2 against an upstream daemon', async (t) => {
  const dir = tmpdir(t);
  const sock = path.join(dir, 'upstream.sock');
  const server = fakeUpstream(sock, [{ time: '2019-02-22T16:04:23.123Z', source: 'docker', msg: 'hello' }]);
  t.after(() => server.close());
  const c = await connectResume(sock, { daemon: 'x', after: 5 }, 300);
  assert.equal(c.hello, undefined);
  const lines = await readLines(c.socket, (l) => l.length === 1, c.rest);
  assert.equal(lines[0].msg, 'hello');
});


test('a line without end from the other side is dropped, not buffered without bound', () => {
  const reader = new LineReader(1000);
  const got: string[] = [];
  reader.push(Buffer.from('first\n' + 'x'.repeat(600)), (l) => got.push(l.toString()));
  for (let i = 0; i < 100; i++) reader.push(Buffer.alloc(600, 0x78), (l) => got.push(l.toString()));
  assert.ok(reader.pending <= 1000, `${reader.pending} bytes held`);
  reader.push(Buffer.from('still the long one\nsecond\nthi'), (l) => got.push(l.toString()));
  reader.push(Buffer.from('rd\n'), (l) => got.push(l.toString()));
  assert.deepEqual(got, ['first', 'second', 'third']);
  assert.equal(reader.overlong, 1);
});

test('a resume answer that never ends its first line is refused, not buffered', async (t) => {
  const dir = tmpdir(t);
  const sock = path.join(dir, 'babbler.sock');
  const server = net.createServer((s) => {
    s.on('error', () => {});
    s.once('data', () => s.write(Buffer.alloc(200 * 1024, 0x78)));
  });
  server.listen(sock);
  t.after(() => server.close());
  await new Promise((r) => server.once('listening', r));
  await assert.rejects(connectResume(sock, {}, 5000), /answered the resume request with \d+ bytes and no newline/);
});
