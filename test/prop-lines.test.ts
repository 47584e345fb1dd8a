/**
 * Properties of what the daemon does with a writer's bytes: cutting them into
 * lines (LineSplitter into the Ring), and encoding entries as JSON lines
 * (escapeJsonBytes, EntryEncoder, encodeOwnEntry). See test/prop-support.ts
 * for reproducing a failure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LineSplitter } from '../src/inputs/line-splitter.js';
import { Ring } from '../src/ring/ring.js';
import { SourceTable } from '../src/ring/sources.js';
import { MAX_ESCAPE_GROWTH, escapeJsonBuffer, escapeJsonBytes } from '../src/entry/json-escape.js';
import { EntryEncoder, encodeOwnEntry } from '../src/outputs/entry-encoder.js';
import { formatRfc3339Nano, parseRfc3339 } from '../src/entry/rfc3339.js';
import { sourceName } from '../src/inputs/source-name.js';
import { MAX_NAME_BYTES } from '../src/protocol/wire.js';
import { anyString, chunking, chunksOf, goDecode, isUtf8, lineStream, printable, runs, utf8ishBytes } from './prop-support.js';

// ---------------------------------------------------------------------------
// 1. Line splitting

interface Split {
  lines: Buffer[];
  /** The time (here: the read's number) each entry was stamped with. */
  stamps: number[];
  counted: number;
  truncated: number;
}

/** Feeds the reads to a LineSplitter over a ring big enough to drop nothing; read i is stamped i + 1, the end chunks + 1. */
function splitReads(reads: Buffer[], maxLineLen: number): Split {
  const total = reads.reduce((n, r) => n + r.length, 0);
  const ring = new Ring({ maxLines: total + 2, maxBytes: total + 2, maxLineLen }, new SourceTable());
  const splitter = new LineSplitter(ring, ring.sources.acquire('s').id, maxLineLen);
  reads.forEach((r, i) => splitter.push(r, i + 1, 0));
  splitter.end(reads.length + 1, 0);
  assert.equal(ring.first, 0, 'the ring dropped nothing');
  const lines: Buffer[] = [];
  const stamps: number[] = [];
  for (let seq = ring.first; seq < ring.next; seq++) {
    lines.push(ring.message(seq));
    stamps.push(ring.sec(seq));
  }
  return { lines, stamps, counted: splitter.lines, truncated: splitter.truncated };
}

/**
 * The reference: split on '\n', a CR just before it dropped, each line cut to maxLineLen bytes, a final
 * fragment without '\n' is an entry if not empty. An entry is stamped with the
 * read holding the byte that completes it: its newline, or for a line longer
 * than maxLineLen the first byte past the limit; a last fragment, the end.
 */
function splitModel(reads: Buffer[], maxLineLen: number): Split {
  const stream = Buffer.concat(reads);
  const readOf: number[] = [];
  reads.forEach((r, i) => {
    for (let k = 0; k < r.length; k++) readOf.push(i + 1);
  });
  const lines: Buffer[] = [];
  const stamps: number[] = [];
  let truncated = 0;
  let start = 0;
  for (;;) {
    const nl = stream.indexOf(10, start);
    // A CR right before the newline is not part of the line (as Go's ReadLine).
    const end = nl < 0 ? stream.length : nl > start && stream[nl - 1] === 13 ? nl - 1 : nl;
    if (nl < 0 && end === start) break;
    const long = end - start > maxLineLen;
    lines.push(Buffer.from(stream.subarray(start, long ? start + maxLineLen : end)));
    stamps.push(long ? readOf[start + maxLineLen] : nl < 0 ? reads.length + 1 : readOf[nl]);
    if (long) truncated++;
    if (nl < 0) break;
    start = nl + 1;
  }
  return { lines, stamps, counted: lines.length, truncated };
}

test('line splitting: any stream, any reads, any max-line-len gives the lines of the reference split', () => {
  fc.assert(
    fc.property(lineStream(), chunking, fc.integer({ min: 1, max: 64 }), (stream, how, maxLineLen) => {
      const reads = chunksOf(stream, how);
      const expected = splitModel(reads, maxLineLen);
      const chunked = splitReads(reads, maxLineLen);
      assert.deepEqual(chunked, expected);
      // And the same lines as the whole stream read at once.
      assert.deepEqual(splitReads([stream], maxLineLen).lines, chunked.lines);
    }),
    runs(3000),
  );
});

test('line splitting: long runs without a newline, cut into many reads, cost one entry of max-line-len', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 64 }),
      fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 8 }),
      chunking,
      (maxLineLen, runLengths, how) => {
        // Runs of 'x' separated by single newlines.
        const stream = Buffer.from(runLengths.map((n) => 'x'.repeat(n)).join('\n'));
        const reads = chunksOf(stream, how);
        assert.deepEqual(splitReads(reads, maxLineLen), splitModel(reads, maxLineLen));
      },
    ),
    runs(1500),
  );
});

test('line splitting into a small ring: what the ring holds is always the newest lines of the reference, within its bounds', () => {
  fc.assert(
    fc.property(
      lineStream(),
      chunking,
      fc.integer({ min: 1, max: 64 }),
      fc.integer({ min: 1, max: 20 }),
      fc.integer({ min: 0, max: 300 }),
      (stream, how, maxLineLen, maxLines, maxBytes) => {
        const reads = chunksOf(stream, how);
        const expected = splitModel(reads, maxLineLen).lines;
        const ring = new Ring({ maxLines, maxBytes, maxLineLen }, new SourceTable());
        const splitter = new LineSplitter(ring, ring.sources.acquire('s').id, maxLineLen);
        reads.forEach((r, i) => splitter.push(r, i + 1, 0));
        splitter.end(reads.length + 1, 0);
        assert.equal(ring.next, expected.length, 'every line got a sequence number');
        assert.ok(ring.count <= maxLines && ring.bytes <= Math.max(maxBytes, maxLineLen), `${ring.count} lines, ${ring.bytes} bytes`);
        const held: Buffer[] = [];
        for (let seq = ring.first; seq < ring.next; seq++) held.push(ring.message(seq));
        assert.deepEqual(held, expected.slice(ring.first));
        if (expected.length > 0) assert.ok(ring.count >= 1, 'the newest line is always held');
      },
    ),
    runs(2000),
  );
});

// ---------------------------------------------------------------------------
// 2. JSON encoding of bytes

test('the reference decoder agrees with TextDecoder on well-formed UTF-8 (a check of the test itself)', () => {
  fc.assert(
    fc.property(utf8ishBytes(), (bytes) => {
      if (isUtf8(bytes)) assert.equal(goDecode(bytes), bytes.toString('utf8'));
      else assert.ok(goDecode(bytes).includes('\ufffd'));
    }),
    runs(2000),
  );
});

test('JSON escaping: any bytes give a JSON string that decodes as Go would, at most 6 bytes per byte', () => {
  fc.assert(
    fc.property(fc.oneof(utf8ishBytes(), fc.uint8Array({ maxLength: 64 }).map((a) => printable(Buffer.from(a)))), (bytes) => {
      const body = escapeJsonBuffer(bytes);
      assert.ok(body.length <= MAX_ESCAPE_GROWTH * bytes.length, `${body.length} bytes out for ${bytes.length} in`);
      assert.ok(isUtf8(body), 'the output is UTF-8');
      const text = body.toString('utf8');
      assert.equal(JSON.parse(`"${text}"`), goDecode(bytes));
      // Nothing a line-oriented reader could split on.
      assert.ok(!body.includes(10) && !body.includes(13));
    }),
    runs(3000),
  );
});

test('JSON escaping: a range of a buffer is escaped on its own, into exactly the room promised, touching nothing else', () => {
  fc.assert(
    fc.property(utf8ishBytes(), fc.nat(), fc.nat(), fc.nat(20), (bytes, a, b, pos) => {
      const start = Math.min(a, b) % (bytes.length + 1);
      const end = Math.max(start, Math.max(a, b) % (bytes.length + 1));
      const room = pos + MAX_ESCAPE_GROWTH * (end - start);
      // A Uint8Array of exactly that size: writing past it would be lost silently, so compare the result too.
      const dst = new Uint8Array(room).fill(0xaa);
      const n = escapeJsonBytes(bytes, start, end, dst, pos);
      assert.ok(n >= pos && n <= room);
      assert.ok(dst.subarray(0, pos).every((x) => x === 0xaa), 'bytes before pos untouched');
      assert.ok(dst.subarray(n).every((x) => x === 0xaa), 'bytes after the result untouched');
      assert.deepEqual(Buffer.from(dst.subarray(pos, n)), escapeJsonBuffer(Buffer.from(bytes.subarray(start, end))));
    }),
    runs(2000),
  );
});

interface WireLine {
  time: string;
  source: string;
  msg: string;
  seq: number;
}

const TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{0,8}[1-9])?Z$/;

const ringEntry = fc.record({
  source: fc.nat(3),
  // Runs of entries share a time, as the lines of one read do.
  sameTime: fc.boolean(),
  sec: fc.integer({ min: 0, max: 0xffffffff }),
  nsec: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 999_999_999 }), fc.integer({ min: 0, max: 8 }).map((d) => 10 ** d)),
  // At most max-line-len (40) bytes: the splitter has cut it already.
  msg: fc.oneof(utf8ishBytes(12), fc.uint8Array({ maxLength: 40 }).map((a) => printable(Buffer.from(a)))).map((b) => printable(b.subarray(0, 40))),
});

/** Source names as the daemon makes them: any string, or what sourceName makes of up to 512 bytes a sender chose. */
const daemonName = fc.oneof(
  anyString(30),
  fc
    .tuple(fc.oneof(utf8ishBytes(40), fc.uint8Array({ maxLength: 40 }).map((a) => printable(Buffer.from(a)))), fc.integer({ min: 1, max: 40 }))
    .map(([b, n]) => {
      const payload = Buffer.concat(Array.from({ length: n }, () => b)).subarray(0, MAX_NAME_BYTES);
      return sourceName(payload, false).name;
    }),
);

test('entry encoding: every entry of the ring is one line of valid JSON: time, source, msg, seq, in that order', () => {
  fc.assert(
    fc.property(
      fc.array(daemonName, { minLength: 4, maxLength: 4 }),
      fc.array(ringEntry, { minLength: 1, maxLength: 30 }),
      fc.integer({ min: 0, max: 50 }),
      fc.integer({ min: 1, max: 2000 }),
      fc.integer({ min: 1, max: 40 }),
      (names, entries, firstSeq, budget, maxLines) => {
        const maxLineLen = 40;
        const ring = new Ring({ maxLines, maxBytes: 400, maxLineLen }, new SourceTable());
        const ids = names.map((n) => ring.sources.acquire(n).id);
        const appended: { seq: number; source: number; sec: number; nsec: number; msg: Buffer }[] = [];
        // Entries that are evicted first (most of the time), so that sequence numbers do not start at 0.
        for (let i = 0; i < firstSeq; i++) {
          appended.push({ seq: ring.next, source: 0, sec: 1, nsec: 0, msg: Buffer.from('old') });
          ring.append(ids[0], 1, 0, Buffer.from('old'), 0, 3);
        }
        let sec = 0;
        let nsec = 0;
        for (const e of entries) {
          if (!e.sameTime || appended.length === 0) {
            sec = e.sec;
            nsec = e.nsec;
          }
          appended.push({ seq: ring.next, source: e.source, sec, nsec, msg: e.msg });
          ring.append(ids[e.source], sec, nsec, e.msg, 0, e.msg.length);
        }
        const encoder = new EntryEncoder(ring, maxLineLen, budget);
        const bufs: Buffer[] = [];
        const longestEntry = 200 + Math.max(...ids.map((id) => ring.sources.get(id).json.length)) + MAX_ESCAPE_GROWTH * maxLineLen;
        for (let from = ring.first; from < ring.next; ) {
          const { buf, next } = encoder.encode(from, ring.next);
          assert.ok(next > from, 'each encode makes progress');
          assert.ok(buf.length < budget + longestEntry, `${buf.length} bytes for a budget of ${budget}`);
          bufs.push(buf);
          from = next;
        }
        const all = Buffer.concat(bufs);
        assert.ok(isUtf8(all));
        const text = all.toString('utf8');
        assert.ok(text.endsWith('\n'));
        const lines = text.slice(0, -1).split('\n');
        const held = appended.slice(appended.length - ring.count);
        assert.equal(lines.length, held.length);
        lines.forEach((line, i) => {
          assert.ok(!line.includes('\r'));
          const e = held[i];
          const parsed = JSON.parse(line) as WireLine;
          assert.deepEqual(Object.keys(parsed), ['time', 'source', 'msg', 'seq']);
          assert.equal(parsed.seq, e.seq);
          assert.equal(parsed.source, goDecode(Buffer.from(names[e.source], 'utf8')));
          assert.equal(parsed.msg, goDecode(e.msg));
          assert.match(parsed.time, TIME_RE);
          assert.equal(parsed.time, formatRfc3339Nano(e.sec, e.nsec));
          assert.deepEqual(parseRfc3339(parsed.time), { sec: e.sec, nsec: e.nsec });
        });
      },
    ),
    runs(800),
  );
});

test("entry encoding: the daemon's own entries are one line of valid JSON with what was given", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.integer({ min: 0, max: 999_999_999 }),
      anyString(),
      anyString(80),
      fc.option(fc.record({ lost: fc.record({ from: fc.maxSafeNat(), to: fc.maxSafeNat(), sources: fc.dictionary(anyString(10), fc.nat()) }) }), { nil: undefined }),
      (sec, nsec, source, msg, extra) => {
        const line = encodeOwnEntry(sec, nsec, source, msg, extra);
        const text = line.toString('utf8');
        assert.ok(text.endsWith('\n') && text.indexOf('\n') === text.length - 1, 'one line');
        const parsed = JSON.parse(text) as WireLine & Record<string, unknown>;
        assert.deepEqual(Object.keys(parsed).slice(0, 3), ['time', 'source', 'msg']);
        assert.equal(parsed.time, formatRfc3339Nano(sec, nsec));
        assert.match(parsed.time, TIME_RE);
        // Lone surrogates cannot go through UTF-8: JSON.stringify escapes them, so they come back as they were.
        assert.equal(parsed.source, source);
        assert.equal(parsed.msg, msg);
        if (extra) assert.deepEqual(parsed.lost, JSON.parse(JSON.stringify(extra.lost)));
      },
    ),
    runs(2000),
  );
});
