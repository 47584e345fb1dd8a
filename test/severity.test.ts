/** Severity, facility and meta per entry: stored in the ring, on the wire, filtered by logread -p, never grepped. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { NONE, Ring } from '../src/ring/ring.js';
import { SourceTable } from '../src/ring/sources.js';
import { EntryEncoder } from '../src/outputs/entry-encoder.js';
import { priorityPrefix } from '../src/inputs/priority-prefix.js';
import { sendFdsAsync } from '../src/native.js';
import type { WireEntry } from '../src/clients/query-client.js';
import { BIN, dump, messagesOf, openStream, run, startDaemon, tmpdir, waitFor } from './helpers.js';

type Entry = WireEntry & Record<string, unknown>;

test('entries with meta and without share a small arena: every message, meta and severity intact, bytes counted', () => {
  const ring = new Ring({ maxLines: 40, maxBytes: 300, maxLineLen: 20 }, new SourceTable());
  const id = ring.sources.acquire('s').id;
  const encoder = new EntryEncoder(ring, 20);
  const all: { msg: string; meta: string; severity: number }[] = [];
  for (let i = 0; i < 2000; i++) {
    const msg = i % 5 === 0 ? '' : `m${i}`.padEnd((i * 7) % 19, 'x');
    const meta = i % 3 === 0 ? '' : `,"k":${i}`;
    const severity = i % 3 === 0 ? NONE : i % 8;
    const b = Buffer.from(msg);
    if (meta === '' && severity === NONE) ring.append(id, 1, i, b, 0, b.length);
    else ring.appendWith(id, 1, i, b, 0, b.length, severity, NONE, Buffer.from(meta));
    all.push({ msg, meta, severity });
    assert.ok(ring.bytes <= 300);
    let expectBytes = 0;
    for (let seq = ring.first; seq < ring.next; seq++) {
      const want = all[seq];
      assert.equal(ring.message(seq).toString(), want.msg);
      assert.equal(ring.severity(seq), want.severity);
      assert.equal(ring.metaLength(seq), want.meta.length);
      expectBytes += want.msg.length + want.meta.length;
    }
    assert.equal(ring.bytes, expectBytes, 'meta bytes count as held bytes');
  }
  const lines = encoder.encode(ring.first, ring.next).buf.toString().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  for (const [k, line] of lines.entries()) {
    const want = all[ring.first + k];
    assert.equal(line.msg, want.msg);
    assert.equal(line.severity, want.severity === NONE ? undefined : want.severity);
    assert.equal(line.k, want.meta === '' ? undefined : ring.first + k);
  }
});

test('priority prefixes: <N> 0-7 a level, <NN>/<NNN> a PRI up to 191, nothing else', () => {
  const p = (s: string): number => priorityPrefix(Buffer.from(s), 0, Buffer.byteLength(s));
  assert.equal(p('<3>x'), 3 * 256 + 3);
  assert.equal(p('<0>'), 3 * 256);
  assert.equal(p('<14>x'), 4 * 256 + 14);
  assert.equal(p('<191>x'), 5 * 256 + 191);
  for (const bad of ['<8>x', '<192>x', '<07>x', '<1234>x', '<>x', '<3x', '3>x', '<', '<-1>x', ' <3>x']) assert.equal(p(bad), -1, bad);
});

test('-stream-priority-prefix: <N> read and stripped, the severity on the wire and for logread -p; off by default', async (t) => {
  for (const on of [true, false]) {
    const dir = tmpdir(t);
    const daemon = await startDaemon(t, dir, on ? ['-stream-priority-prefix'] : []);
    const fd = await openStream(daemon.logSocket, 'svc');
    fs.writeSync(fd, '<3>disk failed\n<14>user info\n<6>just info\n<9>not a level\nplain\n');
    fs.closeSync(fd);
    const entries = (await waitFor('five lines', async () => {
      const got = await dump(daemon.querySocket);
      return messagesOf(got, 'svc').length === 5 ? got : undefined;
    })) as Entry[];
    const svc = entries.filter((e) => e.source === 'svc');
    if (!on) {
      assert.deepEqual(svc.map((e) => e.msg), ['<3>disk failed', '<14>user info', '<6>just info', '<9>not a level', 'plain']);
      assert.ok(svc.every((e) => e.severity === undefined));
      continue;
    }
    assert.deepEqual(svc.map((e) => [e.msg, e.severity, e.facility]), [
      ['disk failed', 3, undefined],
      ['user info', 6, 1],
      ['just info', 6, undefined],
      ['<9>not a level', undefined, undefined],
      ['plain', undefined, undefined],
    ]);
    const r = await run(process.execPath, [BIN('logread'), '-socket', daemon.querySocket, '-source', 'svc', '-p', 'err', '-o', 'cat']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'disk failed\n');
  }
});

test('syslog meta is on the wire but never matched by a grep; status counts meta bytes as held', async (t) => {
  const dir = tmpdir(t);
  const devLog = path.join(dir, 'dev-log');
  const daemon = await startDaemon(t, dir, ['-socket-syslog', devLog]);
  await sendFdsAsync(devLog, Buffer.from('<11>1 2026-12-02T21:00:00Z hostZQX app - IDZQX [zq@1 k="ZQXsd"] the message'), []);
  await sendFdsAsync(devLog, Buffer.from('<14>other: ZQX in the text'), []);
  const entries = (await waitFor('two syslog entries', async () => {
    const got = await dump(daemon.querySocket);
    return got.length >= 3 ? got : undefined;
  })) as Entry[];
  const e = entries.find((x) => x.source === 'app') as Entry;
  assert.equal(e.msg, 'the message');
  assert.equal(e.hostname, 'hostZQX');
  assert.equal(e.msgid, 'IDZQX');
  assert.equal(e.severity, 3);
  assert.equal(e.facility, 1);
  for (const args of [['-grep', 'ZQX'], ['-grep', 'zqx', '-i'], ['-grep', 'Z.X']]) {
    const r = await run(process.execPath, [BIN('logread'), '-socket', daemon.querySocket, ...args, '-o', 'cat']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'ZQX in the text\n', `logread ${args.join(' ')}`);
  }
  const s = JSON.parse((await run(process.execPath, [BIN('memlog'), 'status', '-socket', daemon.querySocket])).stdout) as { ringSources: { source: string; bytes: number }[] };
  const app = s.ringSources.find((x) => x.source === 'app');
  assert.ok(app && app.bytes > 'the message'.length + 40, `app holds ${app?.bytes} bytes, its meta included`);
});
