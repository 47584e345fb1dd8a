/**
 * Properties of the kernel-log record parser and splitter (src/kmsg/record.ts):
 * records come from /dev/kmsg or from a captured file anyone could have
 * written, so any bytes must be safe, and records in the kernel's format must
 * parse back to what they say. See test/prop-support.ts for reproducing a failure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { KmsgSplitter, MAX_STREAM_RECORD, formatUpstream, parseKmsgRecord, type KmsgRecord } from '../src/kmsg/record.js';
import { formatRfc3339Nano } from '../src/entry/rfc3339.js';
import { anyString, chunking, chunksOf, lineStream, printable, runs, utf8ishBytes } from './prop-support.js';

/**
 * The kernel's escaping (printk's msg_add_ext_text): control bytes, bytes >= 0x7f
 * and backslash as \xNN, in lowercase hex (uppercase too here: the parser takes both).
 */
function kernelEscape(bytes: Uint8Array, upper = false): string {
  let out = '';
  for (const c of bytes) {
    if (c < 0x20 || c >= 0x7f || c === 0x5c) {
      const hex = c.toString(16).padStart(2, '0');
      out += `\\x${upper ? hex.toUpperCase() : hex}`;
    } else {
      out += String.fromCharCode(c);
    }
  }
  return out;
}

interface RecordModel {
  priority: number;
  seq: number;
  usec: number;
  flags: string;
  /** More header fields after the flags (newer kernels: `caller=T1`). */
  more: string[];
  message: Buffer;
  fields: [string, Buffer][];
  upperHex: boolean;
}

const bytesArb = fc.oneof(utf8ishBytes(15), fc.uint8Array({ maxLength: 30 }).map((a) => printable(Buffer.from(a))));

const recordModel: fc.Arbitrary<RecordModel> = fc.record({
  priority: fc.integer({ min: 0, max: 191 }),
  seq: fc.oneof(fc.nat(1000), fc.maxSafeNat()),
  usec: fc.oneof(fc.nat(10_000_000), fc.maxSafeNat()),
  flags: fc.constantFrom('-', 'c'),
  more: fc.array(fc.stringMatching(/^[A-Za-z0-9=_ -]{0,10}$/), { maxLength: 2 }),
  message: bytesArb,
  fields: fc.array(
    fc.tuple(
      // Any printable ASCII but `=` (it ends the key) and `\` (the kernel would escape it; keys are not unescaped).
      fc.oneof(fc.stringMatching(/^[ -<>-[\]-~]{1,12}$/), fc.constantFrom('SUBSYSTEM', 'DEVICE', '__proto__', 'constructor', 'toString', '0', '1')),
      bytesArb,
    ),
    { maxLength: 4 },
  ),
  upperHex: fc.boolean(),
});

function recordText(m: RecordModel): string {
  const header = [String(m.priority), String(m.seq), String(m.usec), m.flags, ...m.more].join(',');
  return `${header};${kernelEscape(m.message, m.upperHex)}\n` + m.fields.map(([k, v]) => ` ${k}=${kernelEscape(v, m.upperHex)}\n`).join('');
}

function expectedFields(m: RecordModel): Map<string, string> {
  return new Map(m.fields.map(([k, v]) => [k, v.toString('utf8')]));
}

function checkRecord(r: KmsgRecord | undefined, m: RecordModel): void {
  assert.ok(r, 'the record parses');
  assert.deepEqual(
    { priority: r.priority, facility: r.facility, level: r.level, seq: r.seq, usec: r.usecSinceBoot, flags: r.flags, message: r.message },
    { priority: m.priority, facility: m.priority >> 3, level: m.priority & 7, seq: m.seq, usec: m.usec, flags: m.flags, message: m.message.toString('utf8') },
  );
  assert.deepEqual(new Map(Object.entries(r.fields)), expectedFields(m));
}

test('kmsg: records in the kernel format parse back to what they say', () => {
  fc.assert(
    fc.property(recordModel, fc.boolean(), (m, asString) => {
      const text = recordText(m);
      checkRecord(parseKmsgRecord(asString ? text : Buffer.from(text)), m);
    }),
    runs(3000),
  );
});

function splitAll(reads: Buffer[]): { records: Buffer[]; malformed: number } {
  const records: Buffer[] = [];
  let malformed = 0;
  const splitter = new KmsgSplitter(
    (r) => records.push(Buffer.from(r)),
    () => malformed++,
  );
  for (const r of reads) splitter.push(r);
  splitter.end();
  assert.equal(splitter.pending, false);
  return { records, malformed };
}

test('kmsg: records back to back split into the same records in any chunking, and parse back', () => {
  fc.assert(
    fc.property(fc.array(recordModel, { maxLength: 8 }), chunking, (models, how) => {
      const texts = models.map(recordText);
      const stream = Buffer.from(texts.join(''));
      const { records, malformed } = splitAll(chunksOf(stream, how));
      assert.equal(malformed, 0);
      assert.deepEqual(
        records.map((r) => r.toString()),
        texts,
      );
      records.forEach((r, i) => checkRecord(parseKmsgRecord(r), models[i]));
    }),
    runs(2000),
  );
});

/** Streams that look enough like kmsg files to reach every branch: record lines, continuation lines, blank lines. */
const kmsgishStream = fc
  .array(
    fc.oneof(
      recordModel.map((m) => Buffer.from(recordText(m))),
      lineStream({ maxPieces: 6, also: [0x20, 0x2c, 0x3b, 0x3d, 0x5c] }),
      fc.constantFrom(' ', '\n', ' \n', '\n ', ' K=v\n', '1,2,3,-;', ';').map((s) => Buffer.from(s)),
    ),
    { maxLength: 10 },
  )
  .map((parts) => printable(Buffer.concat(parts)));

test('kmsg: any bytes split into the same records in any chunking', () => {
  fc.assert(
    fc.property(kmsgishStream, chunking, (stream, how) => {
      assert.deepEqual(splitAll(chunksOf(stream, how)), splitAll([stream]));
    }),
    runs(2000),
  );
});

/** A line near the bound, as a short description (so that a counterexample prints small). */
interface LongLine {
  continuation: boolean;
  /** Bytes after the head, relative to MAX_STREAM_RECORD. */
  extra: number;
  newline: boolean;
}

function longLine(l: LongLine): Buffer {
  return Buffer.concat([Buffer.from(l.continuation ? ' K=' : '6,1,1,-;'), Buffer.alloc(MAX_STREAM_RECORD + l.extra, 0x61), Buffer.from(l.newline ? '\n' : '')]);
}

test('kmsg: records and lines around the 64 KiB bound split the same in any chunking', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          recordModel.map((m) => recordText(m)),
          fc.record({ continuation: fc.boolean(), extra: fc.integer({ min: -40, max: 40 }), newline: fc.boolean() }),
        ),
        { minLength: 1, maxLength: 5 },
      ),
      fc.oneof(fc.record({ cuts: fc.array(fc.nat(), { maxLength: 8 }) }), fc.record({ size: fc.integer({ min: 4000, max: 70_000 }) })),
      (parts, how) => {
        const stream = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : longLine(p))));
        const whole = splitAll([stream]);
        // Records only: how many malformed pieces are reported may differ (a chunked over-long
        // orphan continuation line swallows the orphan continuation lines after it unreported).
        assert.deepEqual(splitAll(chunksOf(stream, how)).records, whole.records);
        for (const r of whole.records) assert.ok(r.length <= MAX_STREAM_RECORD, `a record of ${r.length} bytes`);
      },
    ),
    runs(150),
  );
});

test('kmsg: parsing any bytes never throws, and what parses is consistent', () => {
  fc.assert(
    fc.property(fc.oneof(kmsgishStream, fc.uint8Array({ maxLength: 80 }).map((a) => printable(Buffer.from(a))), anyString(60)), (input) => {
      const r = parseKmsgRecord(input);
      if (!r) return;
      assert.ok(Number.isSafeInteger(r.priority) && Number.isSafeInteger(r.seq) && Number.isSafeInteger(r.usecSinceBoot));
      assert.ok(r.priority >= 0 && r.seq >= 0 && r.usecSinceBoot >= 0);
      assert.equal(r.facility * 8 + r.level, r.priority);
      assert.ok(r.level >= 0 && r.level <= 7);
      assert.ok(r.flags.length > 0 && !r.flags.includes(',') && !r.flags.includes(';'));
      assert.equal(typeof r.message, 'string');
      assert.ok(!r.message.includes('\n') || input.includes('\\x0a') || input.includes('\\x0A'), 'a newline in the message comes from an escape');
      for (const [k, v] of Object.entries(r.fields)) assert.ok(typeof k === 'string' && k.length > 0 && typeof v === 'string');
    }),
    runs(3000),
  );
});

test('kmsg: formatUpstream prints (seq) - boot time plus usec, exactly', () => {
  fc.assert(
    fc.property(
      recordModel,
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.integer({ min: 0, max: 999_999_999 }),
      fc.oneof(fc.nat(10_000_000), fc.nat(2 ** 40), fc.maxSafeNat()),
      (m, bootSec, bootNsec, usec) => {
        const r = parseKmsgRecord(recordText({ ...m, usec }));
        assert.ok(r);
        const ns = BigInt(bootSec) * 1_000_000_000n + BigInt(bootNsec) + BigInt(usec) * 1000n;
        const time = formatRfc3339Nano(Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n));
        assert.equal(formatUpstream(r, bootSec, bootNsec), `(${m.seq}) - ${time}: ${m.message.toString('utf8')}`);
      },
    ),
    runs(2000),
  );
});
