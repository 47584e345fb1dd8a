/**
 * Properties of the persister's fast path (src/persist/wire-line.ts fastEntry):
 * whenever it takes a line, it must give exactly the file line the slow path
 * (JSON.parse, then persister.ts fileLine) gives. See test/prop-support.ts for
 * reproducing a failure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fastEntry } from '../src/persist/wire-line.js';
import { fileLine } from '../src/persist/persister.js';
import { anyString, runs } from './prop-support.js';

interface WireEntry {
  time: string;
  source: string;
  msg: string;
  seq: number;
}

/** RFC 3339 in UTC with 0 to 9 digits of fraction, years 0001 to 9999. */
const time: fc.Arbitrary<string> = fc
  .tuple(fc.integer({ min: -62_135_596_800, max: 253_402_300_799 }), fc.stringMatching(/^[0-9]{0,9}$/))
  .map(([sec, frac]) => new Date(sec * 1000).toISOString().slice(0, 19) + (frac ? `.${frac}` : '') + 'Z');

/** Sources and messages: mostly plain text (the fast path's case), or anything at all. */
const field = (max: number): fc.Arbitrary<string> => fc.oneof(fc.stringMatching(/^[ -!#-[\]-~]{0,30}$/), fc.string({ maxLength: max, unit: 'grapheme' }), anyString(max));

const entry: fc.Arbitrary<WireEntry> = fc.record({
  time,
  source: field(20),
  msg: field(60),
  seq: fc.oneof(fc.nat(1_000_000), fc.maxSafeNat(), fc.maxSafeInteger()),
});

/** The line as our daemon (and JSON.stringify) writes it: keys in the daemon's order. */
const wire = (e: WireEntry): Buffer => Buffer.from(JSON.stringify({ time: e.time, source: e.source, msg: e.msg, seq: e.seq }));

/** The slow path, as Persister.onLine takes it. */
function slowLine(line: Buffer): { entry: WireEntry; fileLine: Buffer } {
  const e = JSON.parse(line.toString('utf8')) as WireEntry;
  return { entry: e, fileLine: Buffer.from(fileLine(e.time, e.source, e.msg)) };
}

test('wire lines: for any entry the fast path gives nothing, or the line the slow path gives', () => {
  let taken = 0;
  fc.assert(
    fc.property(entry, (e) => {
      const line = wire(e);
      const fast = fastEntry(line);
      if (!fast) return;
      taken++;
      const slow = slowLine(line);
      assert.deepEqual(fast.fileLine, slow.fileLine);
      assert.equal(fast.source, e.source);
      assert.equal(fast.seq, e.seq);
    }),
    runs(5000),
  );
  assert.ok(taken > 0, 'the fast path took some of the lines');
});

type Mutation =
  | { op: 'set'; at: number; byte: number }
  | { op: 'insert'; at: number; bytes: number[] }
  | { op: 'delete'; at: number; len: number }
  /** Into one of the values, where the fast path has most to get right. */
  | { op: 'value'; field: number; offset: number; replace: boolean; bytes: number[] };

const VALUE_KEYS = ['"time":"', '"source":"', '"msg":"', '"seq":'].map((k) => Buffer.from(k));

/** Bytes that matter to the fast path or to JSON: quotes, escapes, digits, structure, controls, non-ASCII. */
const interesting = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) },
  { weight: 2, arbitrary: fc.constantFrom(0x22, 0x5c, 0x30, 0x31, 0x39, 0x2d, 0x2e, 0x2b, 0x3a, 0x2c, 0x7b, 0x7d, 0x20, 0x09, 0x0d, 0x00, 0x1f, 0x5a, 0x75, 0x7f, 0xc3, 0xa9, 0xef, 0xbf, 0xff) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
);

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 1, arbitrary: fc.record({ op: fc.constant('set' as const), at: fc.nat(), byte: interesting }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('insert' as const),
      at: fc.nat(),
      bytes: fc.oneof(fc.array(interesting, { minLength: 1, maxLength: 3 }), fc.constantFrom([0xc3, 0xa9], [0xe2, 0x9c, 0x93], [0x5c, 0x6e], [0x5c, 0x22], [0x2e, 0x35])),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 4 }) }) },
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('value' as const),
      field: fc.nat(3),
      offset: fc.nat(30),
      replace: fc.boolean(),
      bytes: fc.oneof(fc.array(interesting, { minLength: 1, maxLength: 2 }), fc.constantFrom([0xc3, 0xa9], [0x5c, 0x6e], [0x22], [0x2e, 0x35], [0x30], [0x39, 0x39])),
    }),
  },
);

function mutate(line: Buffer, mutations: Mutation[]): Buffer {
  let b = line;
  for (const m of mutations) {
    if (m.op === 'value') {
      const key = VALUE_KEYS[m.field];
      const k = b.indexOf(key);
      if (k < 0) continue;
      const at = Math.min(b.length, k + key.length + m.offset);
      b = Buffer.concat([b.subarray(0, at), Buffer.from(m.bytes), b.subarray(Math.min(b.length, at + (m.replace ? m.bytes.length : 0)))]);
      continue;
    }
    const at = m.at % (b.length + 1);
    if (m.op === 'set') {
      if (at < b.length) {
        b = Buffer.from(b);
        b[at] = m.byte;
      }
    } else if (m.op === 'insert') {
      b = Buffer.concat([b.subarray(0, at), Buffer.from(m.bytes), b.subarray(at)]);
    } else {
      b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.len)]);
    }
  }
  return b;
}

/** Lines the fast path takes as they are: plain source and message. */
const plainEntry: fc.Arbitrary<WireEntry> = fc.record({
  time,
  source: fc.stringMatching(/^[ -!#-[\]-~]{0,12}$/),
  msg: fc.stringMatching(/^[ -!#-[\]-~]{0,20}$/),
  seq: fc.oneof(fc.nat(1000), fc.maxSafeNat()),
});

test('wire lines: whenever the fast path takes a mutated line, it is valid JSON and agrees with the slow path', () => {
  let taken = 0;
  fc.assert(
    fc.property(plainEntry, fc.array(mutation, { minLength: 1, maxLength: 3 }), (e, mutations) => {
      const line = mutate(wire(e), mutations);
      const fast = fastEntry(line);
      if (!fast) return;
      taken++;
      let slow: { entry: WireEntry; fileLine: Buffer };
      try {
        slow = slowLine(line);
      } catch {
        assert.fail(`the fast path took a line that is not JSON: ${line.toString('latin1')}`);
      }
      assert.deepEqual(Object.keys(slow.entry), ['time', 'source', 'msg', 'seq'], line.toString('latin1'));
      assert.deepEqual(fast.fileLine, slow.fileLine, line.toString('latin1'));
      assert.equal(fast.source, slow.entry.source);
      assert.equal(fast.seq, slow.entry.seq);
    }),
    runs(10_000),
  );
  assert.ok(taken > 0, 'some mutated lines were taken');
});
