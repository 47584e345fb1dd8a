/**
 * The compressed ring: filled blocks of text compressed, the newest raw,
 * decompressed on demand; the same entries, order and bounds as the raw ring.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import fc from 'fast-check';
import { Ring, NONE } from '../src/ring/ring.js';
import { SourceTable } from '../src/ring/sources.js';
import { EntryEncoder } from '../src/outputs/entry-encoder.js';
import { socketpair, sendFds } from '../src/native.js';
import { runs } from './prop-support.js';
import { BIN, dump, follow, run, startDaemon, tmpdir, waitFor } from './helpers.js';

const CORPUS = process.env.MEMLOG_CORPUS ?? path.resolve('/work/shared/corpus');

interface Appended {
  msg: Buffer;
  meta: Buffer | undefined;
  severity: number;
  source: number;
}

const entryArb = fc.record({
  msg: fc.oneof(fc.uint8Array({ maxLength: 48 }).map((a) => Buffer.from(a)), fc.constantFrom('', 'the same words again and again').map((s) => Buffer.from(s))),
  meta: fc.option(fc.constantFrom(',"transport":"syslog"', ',"pid":42'), { nil: undefined }),
  severity: fc.oneof(fc.constant(NONE), fc.integer({ min: 0, max: 7 })),
  source: fc.nat(2),
});

function append(ring: Ring, ids: number[], e: { msg: Buffer; meta: string | undefined; severity: number; source: number }, sec: number): Appended {
  const meta = e.meta === undefined ? undefined : Buffer.from(e.meta);
  if (meta === undefined && e.severity === NONE) ring.append(ids[e.source], sec, 0, e.msg, 0, e.msg.length);
  else ring.appendWith(ids[e.source], sec, 0, e.msg, 0, e.msg.length, e.severity, NONE, meta);
  return { msg: e.msg, meta, severity: e.severity, source: ids[e.source] };
}

/** What the ring holds for seq: its message, and its meta read from before the message in the same buffer. */
function heldEntry(ring: Ring, seq: number): Appended {
  const metaLen = ring.metaLength(seq);
  const off = ring.offset(seq);
  const meta = metaLen > 0 ? Buffer.from(ring.bufferOf(seq).subarray(off - metaLen, off)) : undefined;
  return { msg: ring.message(seq), meta, severity: ring.severity(seq), source: ring.sourceId(seq) };
}

test('a compressed ring holds exactly the newest entries of what was appended, whole, within its bounds', () => {
  fc.assert(
    fc.property(
      fc.array(entryArb, { minLength: 1, maxLength: 400 }),
      fc.integer({ min: 1, max: 300 }),
      fc.integer({ min: 100, max: 6000 }),
      fc.integer({ min: 1, max: 400 }),
      (entries, maxLines, maxBytes, blockBytes) => {
        const maxLineLen = 48;
        const ring = new Ring({ maxLines, maxBytes, maxLineLen, compress: true, blockBytes }, new SourceTable());
        assert.equal(ring.compressed, true);
        const ids = [0, 1, 2].map((i) => ring.sources.acquire(`s${i}`).id);
        const all: Appended[] = [];
        entries.forEach((e, i) => {
          all.push(append(ring, ids, e, i));
          assert.equal(ring.next, all.length);
          assert.ok(ring.count >= 1 && ring.count <= maxLines, `${ring.count} entries held`);
          // The budget: sealed blocks plus the open one, never more than -max-bytes and one entry.
          assert.ok(ring.stored <= maxBytes + maxLineLen + 64, `${ring.stored} bytes stored for ${maxBytes}`);
        });
        // Read backwards and forwards, so that blocks are decompressed out of order too.
        for (let seq = ring.next - 1; seq >= ring.first; seq--) assert.deepEqual(heldEntry(ring, seq), all[seq]);
        for (let seq = ring.first; seq < ring.next; seq++) assert.deepEqual(heldEntry(ring, seq), all[seq]);
        for (let seq = ring.first; seq < ring.next; seq++) assert.equal(ring.sec(seq), seq);
      },
    ),
    runs(400),
  );
});

test('entries of a compressed ring encode exactly as those of a raw ring, across block boundaries', () => {
  fc.assert(
    fc.property(fc.array(entryArb, { minLength: 1, maxLength: 300 }), fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 5000 }), (entries, blockBytes, budget) => {
      const rings = [false, true].map((compress) => new Ring({ maxLines: 1000, maxBytes: 1 << 20, maxLineLen: 48, compress, blockBytes }, new SourceTable()));
      const out = rings.map((ring) => {
        const ids = [0, 1, 2].map((i) => ring.sources.acquire(`s${i}`).id);
        entries.forEach((e, i) => append(ring, ids, e, i >> 3));
        const encoder = new EntryEncoder(ring, 48, budget);
        const bufs: Buffer[] = [];
        for (let from = ring.first; from < ring.next; ) {
          const { buf, next } = encoder.encode(from, ring.next);
          bufs.push(buf);
          from = next;
        }
        return Buffer.concat(bufs).toString();
      });
      assert.equal(out[1], out[0]);
    }),
    runs(300),
  );
});

function corpusLines(): Buffer[] {
  const lines: Buffer[] = [];
  for (const f of fs.readdirSync(CORPUS).filter((n) => n.endsWith('.log')).sort()) {
    for (const l of fs.readFileSync(path.join(CORPUS, f), 'utf8').split('\n')) if (l.length > 0) lines.push(Buffer.from(l.slice(0, 1024)));
  }
  return lines;
}

test('real log text: a compressed ring of 1 MiB holds over 5 times the entries of a raw one', (t) => {
  if (!fs.existsSync(CORPUS)) {
    t.skip(`SKIPPED: no log corpus at ${CORPUS}`);
    return;
  }
  const lines = corpusLines();
  const held = [false, true].map((compress) => {
    const ring = new Ring({ maxLines: 10_000_000, maxBytes: 1 << 20, maxLineLen: 1024, compress }, new SourceTable());
    const ids = Array.from({ length: 30 }, (_, i) => ring.sources.acquire(`app${i}`).id);
    // Interleaved as on a busy system: each source in turn writes a few lines of its own log.
    for (let i = 0; i < 60_000; i++) ring.append(ids[i % 30], 1, 0, lines[(i * 7) % lines.length], 0, lines[(i * 7) % lines.length].length);
    assert.ok(ring.stored <= (1 << 20) + 64 * 1024, `${ring.stored} bytes stored`);
    return ring.count;
  });
  assert.ok(held[1] >= 5 * held[0], `raw ${held[0]} entries, compressed ${held[1]}`);
});

test('memlogd: the ring is compressed by default and says so; -compress-ring=false keeps it raw; a dump past many blocks is whole and in order', async (t) => {
  const lines = Array.from({ length: 6000 }, (_, i) => `line ${i} of a service that says much the same thing every time, with a number: ${(i * 7919) % 10007}`);
  for (const flags of [['-max-bytes', String(256 * 1024), '-max-lines', '100000'], ['-max-bytes', String(256 * 1024), '-max-lines', '100000', '-compress-ring=false']]) {
    const daemon = await startDaemon(t, tmpdir(t), flags);
    const [mine, theirs] = socketpair();
    sendFds(daemon.logSocket, Buffer.from('svc'), [theirs]);
    fs.closeSync(theirs);
    // A socket of ours, so that writes wait for memlogd to read rather than fail with EAGAIN.
    const writer = new net.Socket({ fd: mine, readable: false });
    await new Promise<void>((resolve, reject) => writer.end(lines.join('\n') + '\n', () => resolve()).once('error', reject));
    const compressed = !flags.includes('-compress-ring=false');
    const got = await waitFor('every line read', async () => {
      const m = (await dump(daemon.querySocket)).filter((e) => e.source === 'svc').map((e) => e.msg);
      return m.length > 0 && m[m.length - 1] === lines[lines.length - 1] && m;
    });
    // The newest lines, in order, none altered; the raw ring holds fewer (6000 lines are about 690 KB).
    assert.deepEqual(got, lines.slice(lines.length - got.length));
    if (compressed) assert.equal(got.length, lines.length, 'the compressed ring holds all 6000');
    else assert.ok(got.length < lines.length, `the raw ring holds ${got.length}`);
    const r = await run(process.execPath, [BIN('memlog'), 'status', '-socket', daemon.querySocket]);
    const status = JSON.parse(r.stdout) as { ring: { compressed: boolean; stored: number; bytes: number; maxBytes: number } };
    assert.equal(status.ring.compressed, compressed);
    assert.ok(status.ring.stored <= status.ring.maxBytes);
    if (compressed) assert.ok(status.ring.bytes > 2 * status.ring.stored, `${status.ring.bytes} bytes of text in ${status.ring.stored}`);
  }
});

test('memlogd refuses a -ring-block-bytes of 0 in one line', async () => {
  const r = await run(process.execPath, [BIN('memlogd'), '-ring-block-bytes', '0', '-socket-log', '/nonexistent/x', '-socket-query', '/nonexistent/y']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /^memlogd: -ring-block-bytes must be a whole number from 1 to 16777216, not 0\n/);
});

test('filters on source, time and count (-source, -since, -n) open only the blocks that hold what they send; a full dump opens them all', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t), ['-max-lines', '100000']);
  const status = async (): Promise<{ blocksSealed: number; blocksDecompressed: number }> =>
    (JSON.parse((await run(process.execPath, [BIN('memlog'), 'status', '-socket', daemon.querySocket])).stdout) as { ring: { blocksSealed: number; blocksDecompressed: number } }).ring;
  const write = async (name: string, lines: string[]): Promise<void> => {
    const [mine, theirs] = socketpair();
    sendFds(daemon.logSocket, Buffer.from(name), [theirs]);
    fs.closeSync(theirs);
    const writer = new net.Socket({ fd: mine, readable: false });
    await new Promise<void>((resolve, reject) => writer.end(lines.join('\n') + '\n', () => resolve()).once('error', reject));
  };
  const noisy = Array.from({ length: 3000 }, (_, i) => `noisy line ${i}: nothing to see`);
  await write('noisy', noisy);
  await waitFor('the noisy lines', async () => (await dump(daemon.querySocket)).some((e) => e.msg === noisy[2999]));
  const rare = Array.from({ length: 5 }, (_, i) => `rare ${i}: the needle`);
  await write('rare', rare);
  await write('tail', ['the last line']);
  await waitFor('every line', async () => (await dump(daemon.querySocket)).some((e) => e.msg === 'the last line'));
  const sealed = (await status()).blocksSealed;
  assert.ok(sealed >= 30, `${sealed} blocks sealed`);
  const logread = async (...args: string[]): Promise<{ lines: string[]; opened: number }> => {
    const before = (await status()).blocksDecompressed;
    const r = await run(process.execPath, [BIN('logread'), '-socket', daemon.querySocket, '-o', 'cat', ...args]);
    assert.equal(r.code, 0, r.stderr);
    return { lines: r.stdout.split('\n').filter((l) => l.length > 0), opened: (await status()).blocksDecompressed - before };
  };
  const bySource = await logread('-source', 'rare', '-grep', 'needle');
  assert.deepEqual(bySource.lines, rare);
  assert.ok(bySource.opened <= 2, `-source rare -grep opened ${bySource.opened} blocks`);
  const last = await logread('-n', '3');
  assert.deepEqual(last.lines, [rare[3], rare[4], 'the last line']);
  assert.ok(last.opened <= 2, `-n 3 opened ${last.opened} blocks`);
  const rareTime = (await dump(daemon.querySocket)).find((e) => e.msg === rare[0])?.time as string;
  const since = await logread('-since', rareTime);
  assert.deepEqual(since.lines, [...rare, 'the last line']);
  assert.ok(since.opened <= 2, `-since opened ${since.opened} blocks`);
  const all = await logread();
  assert.ok(all.lines.length >= 3006);
  assert.ok(all.opened >= sealed - 4, `a full dump opened ${all.opened} of ${sealed} blocks`);
});

test('a follower reads the newest entries without opening a block: the block just sealed is kept raw for it', async (t) => {
  // The default block size: 90 KB of lines fill one block and start another, well within the four kept raw.
  const daemon = await startDaemon(t, tmpdir(t), ['-ring-block-bytes', '65536']);
  const follower = await follow(daemon.querySocket);
  t.after(() => follower.close());
  const lines = Array.from({ length: 2000 }, (_, i) => `line ${i} as a follower sees it, ${'x'.repeat(i % 23)}`);
  const [mine, theirs] = socketpair();
  sendFds(daemon.logSocket, Buffer.from('svc'), [theirs]);
  fs.closeSync(theirs);
  const writer = new net.Socket({ fd: mine, readable: false });
  await new Promise<void>((resolve, reject) => writer.end(lines.join('\n') + '\n', () => resolve()).once('error', reject));
  await waitFor('the follower to have every line', () => follower.entries.filter((e) => e.source === 'svc').length === lines.length);
  assert.deepEqual(follower.entries.filter((e) => e.source === 'svc').map((e) => e.msg), lines);
  const ring = (JSON.parse((await run(process.execPath, [BIN('memlog'), 'status', '-socket', daemon.querySocket])).stdout) as { ring: { blocksSealed: number; blocksDecompressed: number } }).ring;
  assert.ok(ring.blocksSealed >= 1, `${ring.blocksSealed} blocks sealed`);
  assert.equal(ring.blocksDecompressed, 0);
});
