import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeJsonBuffer } from '../src/entry/json-escape.js';
import { formatRfc3339Nano, formatRfc3339Seconds, parseRfc3339 } from '../src/entry/rfc3339.js';

const asJsonString = (bytes: Buffer): string => JSON.parse(`"${escapeJsonBuffer(bytes).toString('utf8')}"`) as string;

test('message bytes encode to a JSON string that decodes to the same text', () => {
  const text = 'plain "quoted" back\\slash tab\there ctrl\u0001\u001f del\u007f é ✓ 😀';
  assert.equal(asJsonString(Buffer.from(text)), text);
});

test('bytes that are not UTF-8 become U+FFFD, one per bad byte, as in Go', () => {
  assert.equal(asJsonString(Buffer.from([0x61, 0xff, 0x62])), 'a\ufffdb');
  assert.equal(asJsonString(Buffer.from([0xc3])), '\ufffd'); // cut sequence
  assert.equal(asJsonString(Buffer.from([0xe2, 0x82])), '\ufffd\ufffd');
  assert.equal(asJsonString(Buffer.from([0xc0, 0xaf])), '\ufffd\ufffd'); // overlong
  assert.equal(asJsonString(Buffer.from([0xed, 0xa0, 0x80])), '\ufffd\ufffd\ufffd'); // surrogate
  assert.equal(asJsonString(Buffer.from([0xf4, 0x90, 0x80, 0x80])), '\ufffd\ufffd\ufffd\ufffd'); // > U+10FFFF
});

test('every single byte and every byte pair round-trips through JSON.parse', () => {
  for (let a = 0; a < 256; a++) {
    const one = asJsonString(Buffer.from([a]));
    assert.equal(one, a < 0x80 ? String.fromCharCode(a) : '\ufffd');
    for (let b = 0; b < 256; b += 7) {
      const parsed = asJsonString(Buffer.from([a, b]));
      assert.ok(parsed.length >= 1 && parsed.length <= 2);
    }
  }
});

test('times print as Go RFC3339Nano: UTC, trailing zeros of the fraction trimmed', () => {
  const sec = Date.UTC(2019, 1, 22, 16, 4, 23) / 1000;
  assert.equal(formatRfc3339Nano(sec, 123456789), '2019-02-22T16:04:23.123456789Z');
  assert.equal(formatRfc3339Nano(sec, 120000000), '2019-02-22T16:04:23.12Z');
  assert.equal(formatRfc3339Nano(sec, 1000), '2019-02-22T16:04:23.000001Z');
  assert.equal(formatRfc3339Nano(sec, 0), '2019-02-22T16:04:23Z');
  assert.equal(formatRfc3339Seconds(sec), '2019-02-22T16:04:23Z');
  assert.deepEqual(parseRfc3339('2019-02-22T16:04:23.000001Z'), { sec, nsec: 1000 });
});
