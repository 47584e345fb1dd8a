/**
 * The forwarder's fast path (src/forward/wire-entry.ts) against its slow one
 * (JSON.parse, src/forward/entry.ts): whenever the fast path takes a line, it
 * reads the same entry; and the RFC 5424 message made from either is the same
 * bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseForwardEntry } from '../src/forward/entry.js';
import { fastForwardEntry } from '../src/forward/wire-entry.js';
import { formatRfc5424 } from '../src/forward/rfc5424.js';
import { anyString, runs } from './prop-support.js';

const time: fc.Arbitrary<string> = fc
  // Years 0001-0099 have their own case (Date.UTC reads them as 19xx): drawn often.
  .tuple(fc.oneof(fc.integer({ min: -62_135_596_800, max: 253_402_300_799 }), fc.integer({ min: -62_135_596_800, max: -59_011_459_201 })), fc.stringMatching(/^[0-9]{0,9}$/))
  .map(([sec, frac]) => new Date(sec * 1000).toISOString().slice(0, 19) + (frac ? `.${frac}` : '') + 'Z');

const field = (max: number): fc.Arbitrary<string> => fc.oneof(fc.stringMatching(/^[ -!#-[\]-~]{0,30}$/), fc.string({ maxLength: max, unit: 'grapheme' }), anyString(max));

const line: fc.Arbitrary<Buffer> = fc
  .record({
    time,
    source: field(20),
    msg: field(60),
    seq: fc.oneof(fc.nat(1_000_000), fc.maxSafeNat()),
    sender: fc.option(fc.tuple(fc.nat(4_000_000), fc.nat(70_000), fc.nat(70_000))),
  })
  .map((e) => {
    const o: Record<string, unknown> = { time: e.time, source: e.source, msg: e.msg, seq: e.seq };
    if (e.sender) [o.pid, o.uid, o.gid] = e.sender;
    return Buffer.from(JSON.stringify(o));
  });

test('the fast path reads every line it takes exactly as JSON.parse does, and the messages made are the same bytes', () => {
  let taken = 0;
  fc.assert(
    fc.property(line, fc.constantFrom('d-1', undefined), (l, daemon) => {
      const fast = fastForwardEntry(l, daemon);
      const slow = parseForwardEntry(l, daemon);
      if (!fast) return;
      taken++;
      assert.ok(slow);
      for (const k of ['time', 'sec', 'nsec', 'source', 'msg', 'seq', 'daemon', 'pid', 'uid', 'gid'] as const) assert.equal(fast[k], slow[k], k);
      const opts = { hostname: 'h', facility: 1 };
      assert.deepEqual(formatRfc5424(fast, opts), formatRfc5424(slow, opts));
    }),
    runs(2000),
  );
  assert.ok(taken > 100, `the fast path took ${taken} lines`);
});
