/**
 * Garbage on both sockets, a set amount of it (not an amount of time, which would feed a slow machine less);
 * then the daemon still answers a dump correctly, with no fd left behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import { sendFds, socketpair } from '../src/native.js';
import { dump, fdCount, fdsBackTo, messagesOf, openStream, startDaemon, tmpdir, waitFor } from './helpers.js';

/** MEMLOG_GARBAGE_SCALE=10 feeds ten times as much. */
const SCALE = Number(process.env.MEMLOG_GARBAGE_SCALE ?? 1);
const DATAGRAMS = Math.round(20_000 * SCALE);
const QUERIES = Math.round(1_200 * SCALE);

function randomBytes(max: number): Buffer {
  return crypto.randomBytes(Math.floor(Math.random() * max));
}

test(`fed ${DATAGRAMS} datagrams and ${QUERIES} query connections of garbage, the daemon still answers a dump correctly`, { timeout: 600_000 * SCALE }, async (t) => {
  const dir = tmpdir(t);
  const daemon = await startDaemon(t, dir, ['-mode-timeout-ms', '200', '-max-lines', '20000']);
  const baseline = fdCount(daemon.pid);
  let datagrams = 0;
  let queries = 0;
  const alive = (): boolean => daemon.proc.exitCode === null && daemon.proc.signalCode === null;
  const logGarbage = async (): Promise<void> => {
    while (datagrams < DATAGRAMS && alive()) {
      const kind = Math.floor(Math.random() * 5);
      const fds: number[] = [];
      const mine: number[] = [];
      if (kind === 1) fds.push(fs.openSync('/dev/null', 'r'));
      if (kind === 2) fds.push(fs.openSync(dir, 'r'));
      if (kind === 3 || kind === 4) {
        for (let i = 0; i < 1 + Math.floor(Math.random() * 3); i++) {
          const [a, b] = socketpair();
          fds.push(b);
          mine.push(a);
        }
      }
      try {
        sendFds(daemon.logSocket, randomBytes(kind === 4 ? 5000 : 600), fds);
        datagrams++;
      } catch {
        // a full queue (EAGAIN): try again
      }
      for (const fd of fds) fs.closeSync(fd);
      for (const fd of mine) {
        try {
          fs.writeSync(fd, randomBytes(3000));
        } catch {
          // memlogd refused or closed it
        }
        fs.closeSync(fd);
      }
      await new Promise((r) => setImmediate(r));
    }
  };
  const queryGarbage = async (): Promise<void> => {
    while (queries < QUERIES && alive()) {
      await new Promise<void>((resolve) => {
        const s = net.connect(daemon.querySocket, () => {
          queries++;
          const bytes = randomBytes(Math.random() < 0.5 ? 3 : 6000);
          if (bytes.length > 0) s.write(bytes);
          setTimeout(() => s.destroy(), Math.random() * 50);
        });
        s.on('data', () => {});
        s.on('error', () => {});
        s.on('close', () => resolve());
      });
    }
  };
  await Promise.all([logGarbage(), queryGarbage(), queryGarbage()]);
  // Still alive, still correct.
  assert.equal(daemon.proc.exitCode, null, 'memlogd is running');
  const fd = await openStream(daemon.logSocket, 'after-the-garbage');
  fs.writeSync(fd, 'a clean line\nand another\n');
  fs.closeSync(fd);
  const entries = await waitFor('the clean lines', async () => {
    const e = await dump(daemon.querySocket);
    return messagesOf(e, 'after-the-garbage').length === 2 && e;
  });
  assert.deepEqual(messagesOf(entries, 'after-the-garbage'), ['a clean line', 'and another']);
  await fdsBackTo(daemon.pid, baseline);
  assert.ok(datagrams === DATAGRAMS && queries >= QUERIES, `${datagrams} datagrams, ${queries} query connections`);
});
