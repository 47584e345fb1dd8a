/** Limits: streams, query clients, and running out of file descriptors; everyone else keeps being served. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { connectQuery, LineReader, parseEntry } from '../src/clients/query-client.js';
import { BIN, dump, fdCount, fdsBackTo, messagesOf, openConnections, openStream, startDaemon, tmpdir, waitFor } from './helpers.js';

test('-max-streams: fds beyond the limit are refused with an entry; the others keep working', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t), ['-max-streams', '5']);
  const baseline = fdCount(daemon.pid);
  const fds: number[] = [];
  for (let i = 0; i < 8; i++) fds.push(await openStream(daemon.logSocket, `s${i}`));
  await waitFor('three refusals', async () => messagesOf(await dump(daemon.querySocket), 'memlogd').filter((m) => /5 streams are open already/.test(m)).length === 3);
  fds.forEach((fd, i) => {
    try {
      fs.writeSync(fd, `line ${i}\n`);
    } catch {
      // a refused stream: memlogd closed its end
    }
  });
  await waitFor('the five accepted lines', async () => {
    const entries = await dump(daemon.querySocket);
    return [0, 1, 2, 3, 4].every((i) => messagesOf(entries, `s${i}`).includes(`line ${i}`));
  });
  fds.forEach((fd) => fs.closeSync(fd));
  await fdsBackTo(daemon.pid, baseline);
  const again = await openStream(daemon.logSocket, 'later');
  fs.writeSync(again, 'room again\n');
  fs.closeSync(again);
  await waitFor('a stream after the others closed', async () => messagesOf(await dump(daemon.querySocket), 'later').includes('room again'));
});

test('-max-clients: one client too many is answered with an error and closed; the others are served', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t), ['-max-clients', '3']);
  // The readiness probes' connections close asynchronously: wait until the daemon has closed them all (it stops
  // counting a client in the same turn of its event loop as it closes the socket, before it accepts anyone else).
  await waitFor('the probes to close', () => openConnections(daemon.querySocket) === 0);
  const followers = await Promise.all([1, 1, 1].map((mode) => connectQuery(daemon.querySocket, mode)));
  // Connected after them, so accepted after them: the kernel queues connections in order, and they are accepted in that order.
  const extra = await connectQuery(daemon.querySocket, 0);
  const answer: string[] = [];
  const lines = new LineReader();
  extra.on('data', (c: Buffer) => lines.push(c, (l) => answer.push(parseEntry(l)?.msg ?? '')));
  await new Promise((r) => extra.once('end', r));
  extra.destroy();
  assert.deepEqual(answer, ['error: too many query clients (3 are connected; -max-clients)']);
  followers[0].destroy();
  await waitFor('a dump once one follower left', async () => {
    try {
      return (await dump(daemon.querySocket))[0]?.msg === 'memlogd started';
    } catch {
      return false;
    }
  });
  followers.slice(1).forEach((f) => f.destroy());
});

test('out of file descriptors: new fds are refused with an entry, existing streams and clients keep working', async (t) => {
  const dir = tmpdir(t);
  const logSocket = path.join(dir, 'log.sock');
  const querySocket = path.join(dir, 'query.sock');
  // A hard limit of 64 fds: Node cannot raise it, and uses about 20 of them itself.
  const proc = spawn('sh', ['-c', `ulimit -n 64 && exec "${process.execPath}" "${BIN('memlogd')}" -socket-log "${logSocket}" -socket-query "${querySocket}"`], { stdio: 'ignore' });
  t.after(() => {
    proc.kill();
  });
  await waitFor('memlogd', async () => {
    try {
      return (await dump(querySocket))[0]?.msg === 'memlogd started';
    } catch {
      return false;
    }
  });
  const first = await openStream(logSocket, 'first');
  fs.writeSync(first, 'before the flood\n');
  const flood: number[] = [];
  for (let i = 0; i < 80; i++) {
    try {
      flood.push(await openStream(logSocket, 'flood'));
    } catch {
      break; // memlogd took no datagram for the whole send timeout while refusing: enough
    }
  }
  fs.writeSync(first, 'during the flood\n');
  // Close the flood so that memlogd has fds again for its query clients.
  flood.forEach((fd) => fs.closeSync(fd));
  await waitFor('the refusals, and the first stream still flowing', async () => {
    const entries = await dump(querySocket);
    const own = messagesOf(entries, 'memlogd');
    return own.some((m) => /could not all be received .*out of file descriptors/.test(m)) && messagesOf(entries, 'first').includes('during the flood');
  });
  fs.writeSync(first, 'after the flood\n');
  fs.closeSync(first);
  await waitFor('the stream after the flood', async () => messagesOf(await dump(querySocket), 'first').includes('after the flood'));
  assert.equal(proc.exitCode, null, 'memlogd is still running');
});
