/** Who sent what: the kernel's word, kept with every stream, in every entry and in the status. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { connectQuery, LineReader } from '../src/clients/query-client.js';
import { BIN, NOBODY, asNobody, openStream, run, startDaemon, tmpdir, waitFor } from './helpers.js';

interface Line {
  source: string;
  msg: string;
  pid?: number;
  uid?: number;
  gid?: number;
}

async function rawDump(querySocket: string): Promise<Line[]> {
  const socket = await connectQuery(querySocket, 0);
  const lines = new LineReader();
  const out: Line[] = [];
  socket.on('data', (c: Buffer) => lines.push(c, (l) => out.push(JSON.parse(l.toString()) as Line)));
  await new Promise((r) => socket.once('end', r));
  return out;
}

test("entries carry the sender's pid, uid and gid as the kernel reports them", async (t) => {
  const daemon = await startDaemon(t, tmpdir(t));
  const fd = await openStream(daemon.logSocket, 'mine');
  fs.writeSync(fd, 'from the test process\n');
  fs.closeSync(fd);
  const entries = await waitFor('the line', async () => {
    const e = (await rawDump(daemon.querySocket)).filter((x) => x.source === 'mine');
    return e.length === 1 && e;
  });
  assert.equal(entries[0].pid, process.pid);
  assert.equal(entries[0].uid, process.getuid?.());
  assert.equal(entries[0].gid, process.getgid?.());
  // The daemon's own entries have no sender fields.
  const own = (await rawDump(daemon.querySocket)).find((x) => x.source === 'memlogd');
  assert.equal(own?.pid, undefined);
});

test('a sender cannot pass for another: the same name from another user is another source', async (t) => {
  const nobody = await asNobody(t);
  if (typeof nobody === 'string') return t.skip(nobody);
  const dir = tmpdir(t);
  fs.chmodSync(dir, 0o755);
  const daemon = await startDaemon(t, dir, ['-socket-mode', '0666']);
  const fd = await openStream(daemon.logSocket, 'svc');
  fs.writeSync(fd, 'the real one\n');
  fs.closeSync(fd);
  const r = await run(...nobody.command('logwrite', ['-socket', daemon.logSocket, '-n', 'svc', 'sh', '-c', 'echo forged >&2']));
  assert.equal(r.code, 0, r.stderr);
  const entries = await waitFor('both lines', async () => {
    const e = (await rawDump(daemon.querySocket)).filter((x) => x.source === 'svc');
    return e.length === 2 && e;
  });
  const real = entries.find((e) => e.msg === 'the real one');
  const forged = entries.find((e) => e.msg === 'forged');
  assert.equal(real?.uid, 0);
  assert.equal(forged?.uid, NOBODY);
  assert.equal(forged?.gid, NOBODY);
});

test('memlog status lists the streams with their senders, the ring and the clients', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t));
  const fd = await openStream(daemon.logSocket, 'open-stream');
  fs.writeSync(fd, 'one\ntwo\n');
  await waitFor('the lines', async () => (await rawDump(daemon.querySocket)).filter((x) => x.source === 'open-stream').length === 2);
  const r = await run(process.execPath, [BIN('memlog'), 'status', '-socket', daemon.querySocket]);
  assert.equal(r.code, 0, r.stderr);
  const status = JSON.parse(r.stdout) as {
    pid: number;
    ring: { entries: number; maxLines: number };
    streams: { source: string; pid: number; uid: number; gid: number; lines: number; bytes: number }[];
    queryClients: number;
  };
  assert.equal(status.pid, daemon.pid);
  assert.equal(status.ring.maxLines, 5000);
  assert.ok(status.ring.entries >= 3);
  const stream = status.streams.find((s) => s.source === 'open-stream');
  assert.deepEqual(stream, { source: 'open-stream', pid: process.pid, uid: process.getuid?.(), gid: process.getgid?.(), bytes: 8, lines: 2, truncated: 0 });
  assert.ok(status.queryClients >= 1);
  fs.closeSync(fd);
});
