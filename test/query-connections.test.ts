/**
 * Query connections the daemon has finished with are closed on its side at
 * once, whatever the client does with its own side; a client that hangs up
 * is noticed at once; every open connection counts against -max-clients.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { queryStatus } from '../src/clients/query-client.js';
import { LineReader, parseEntry } from '../src/clients/query-client.js';
import { dump, fdCount, fdsBackTo, openStream, startDaemon, tmpdir, waitFor } from './helpers.js';

/** A client that never closes its side by itself (half-open allowed), for as long as the test holds it. */
function holdOpen(t: { after(fn: () => void): void }, path: string, request: Buffer): Promise<{ socket: net.Socket; got: Buffer[]; ended: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ path, allowHalfOpen: true });
    t.after(() => socket.destroy());
    const got: Buffer[] = [];
    const ended = new Promise<void>((r, fail) => {
      socket.once('end', () => r());
      socket.once('error', fail);
    });
    ended.catch(() => {}); // reported where it is awaited
    socket.on('data', (d: Buffer) => got.push(d));
    socket.once('error', reject);
    socket.once('connect', () => {
      if (request.length > 0) socket.write(request);
      resolve({ socket, got, ended });
    });
  });
}

test('a finished dump, a status answer, a refusal and a bad request close the connection, though the clients keep their side open', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t), ['-max-clients', '400']);
  const fd = await openStream(daemon.logSocket, 'svc');
  fs.writeSync(fd, Array.from({ length: 100 }, (_, i) => `line ${i}\n`).join(''));
  await waitFor('the lines in the ring', async () => (await dump(daemon.querySocket)).filter((e) => e.source === 'svc').length === 100);
  const baseline = fdCount(daemon.pid);
  const requests = [
    ...Array.from({ length: 200 }, () => Buffer.from([0])), // dumps
    ...Array.from({ length: 20 }, () => Buffer.from([4])), // status
    ...Array.from({ length: 20 }, () => Buffer.from([0x09])), // an unknown mode
    ...Array.from({ length: 20 }, () => Buffer.from('\x03not json\n')), // a bad resume request
  ];
  const clients = await Promise.all(requests.map((r) => holdOpen(t, daemon.querySocket, r)));
  await Promise.all(clients.map((c) => c.ended));
  // Each got its whole answer...
  const text = (c: { got: Buffer[] }): string => Buffer.concat(c.got).toString('utf8');
  for (const c of clients.slice(0, 200)) assert.equal(text(c).split('\n').filter((l) => l.includes('"source":"svc"')).length, 100);
  for (const c of clients.slice(200, 220)) assert.match(text(c), /^\{"memlogd":\{"daemon":/);
  for (const c of clients.slice(220, 240)) assert.match(text(c), /"msg":"error: unknown query mode byte 0x09/);
  for (const c of clients.slice(240)) assert.match(text(c), /"msg":"error: resume request is not JSON"/);
  // ...and the daemon holds none of them, though all 260 are still open on the client's side.
  assert.ok(clients.every((c) => !c.socket.destroyed));
  await fdsBackTo(daemon.pid, baseline);
  assert.equal((await queryStatus(daemon.querySocket)).queryClients, 1);
});

test('clients refused for -max-clients get the refusal and are closed at once, and every open connection counts', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t), ['-max-clients', '5', '-mode-timeout-ms', '3600000']);
  const baseline = fdCount(daemon.pid);
  // Connections that have not asked anything yet count as much as readers do.
  const idle = await Promise.all([0, 1, 2, 3].map(() => holdOpen(t, daemon.querySocket, Buffer.alloc(0))));
  await waitFor('the idle connections counted', async () => (await queryStatus(daemon.querySocket)).queryClients === 5);
  const follower = await holdOpen(t, daemon.querySocket, Buffer.from([1]));
  const fd = await openStream(daemon.logSocket, 'svc');
  fs.writeSync(fd, 'for the follower\n');
  await waitFor('the follower reading', () => Buffer.concat(follower.got).includes('for the follower'));
  const withFive = fdCount(daemon.pid);
  // The limit is reached: 50 more are refused, each is told why, and none of them stays open in the daemon.
  const refused = await Promise.all(Array.from({ length: 50 }, () => holdOpen(t, daemon.querySocket, Buffer.from([0]))));
  await Promise.all(refused.map((c) => c.ended));
  for (const c of refused) assert.match(Buffer.concat(c.got).toString(), /^\{"time":"[^"]+","source":"memlogd","msg":"error: too many query clients \(5 are connected; -max-clients\)"/);
  await fdsBackTo(daemon.pid, withFive);
  for (const c of [...idle, follower]) c.socket.destroy();
  fs.closeSync(fd);
  await fdsBackTo(daemon.pid, baseline);
});

test('a client that hangs up before its mode byte, and a follower that hangs up with nothing to read, are closed at once', async (t) => {
  // An hour to send the mode byte: only noticing the hang-up can close these.
  const daemon = await startDaemon(t, tmpdir(t), ['-mode-timeout-ms', '3600000']);
  const baseline = fdCount(daemon.pid);
  const silent = await Promise.all(Array.from({ length: 30 }, () => holdOpen(t, daemon.querySocket, Buffer.alloc(0))));
  const followers = await Promise.all(Array.from({ length: 30 }, () => holdOpen(t, daemon.querySocket, Buffer.from([1]))));
  await waitFor('all connections open in the daemon', async () => (await queryStatus(daemon.querySocket)).queryClients === 61);
  // Nothing is written to the ring from now on: no write can reveal the hang-ups.
  for (const c of [...silent, ...followers]) c.socket.destroy();
  await fdsBackTo(daemon.pid, baseline);
  assert.equal((await queryStatus(daemon.querySocket)).queryClients, 1);
});

test('a client that sends its mode byte and shuts its side still gets the whole dump', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t));
  const fd = await openStream(daemon.logSocket, 'svc');
  fs.writeSync(fd, Array.from({ length: 5000 }, (_, i) => `line ${i}\n`).join(''));
  await waitFor('the lines in the ring', async () => (await dump(daemon.querySocket)).filter((e) => e.source === 'svc').length === 5000);
  const client = await holdOpen(t, daemon.querySocket, Buffer.alloc(0));
  client.socket.end(Buffer.from([0])); // as `printf '\0' | nc -U -N` does
  await client.ended;
  const msgs: string[] = [];
  new LineReader().push(Buffer.concat(client.got), (line) => {
    const e = parseEntry(line);
    if (e?.source === 'svc') msgs.push(e.msg);
  });
  assert.deepEqual(msgs, Array.from({ length: 5000 }, (_, i) => `line ${i}`));
});
