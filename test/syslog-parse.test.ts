/**
 * parseSyslog on the shared corpus (what local senders write, and odd input),
 * on bad input, and within a larger buffer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSyslog, type SyslogMessage } from '../src/inputs/syslog/parse.js';
import { SYSLOG_CORPUS } from './syslog-corpus.js';

function fieldsOf(bytes: Buffer, m: SyslogMessage) {
  return {
    facility: m.facility,
    severity: m.severity,
    hadPri: m.hadPri,
    format: m.format,
    timestamp: m.timestamp,
    hostname: m.hostname,
    tag: m.tag,
    pid: m.pid,
    msgid: m.msgid,
    sd: m.sd,
    msg: bytes.subarray(m.msgStart, m.msgEnd).toString('latin1'),
  };
}

for (const k of SYSLOG_CORPUS) {
  test(`parses ${k.name}`, () => {
    // Inside a larger buffer, as the daemon's receive buffer holds it: the range is all that counts.
    const framed = Buffer.concat([Buffer.from('<13>x: before'), k.bytes, Buffer.from('<13>y: after\n')]);
    const start = 13;
    const m = parseSyslog(framed, start, start + k.bytes.length);
    assert.ok(m.msgStart >= start && m.msgStart <= m.msgEnd && m.msgEnd <= start + k.bytes.length);
    assert.deepEqual(fieldsOf(framed, m), {
      facility: k.facility,
      severity: k.severity,
      hadPri: k.facility !== undefined,
      format: k.format,
      timestamp: k.timestamp,
      hostname: k.hostname,
      tag: k.tag,
      pid: k.pid,
      msgid: k.msgid,
      sd: k.sd,
      msg: k.msg.toString('latin1'),
    });
  });
}

test('64 KiB of garbage is one message, read in linear time', () => {
  let x = 12345;
  const garbage = Buffer.alloc(65536);
  for (let i = 0; i < garbage.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    garbage[i] = x >>> 24;
  }
  garbage[0] = 0x41;
  const m = parseSyslog(garbage, 0, garbage.length);
  assert.equal(m.hadPri, false);
  assert.ok(m.msgEnd - m.msgStart > 60_000, 'nearly all of it is the message');
});

test('pathological repetition stays linear: long digit runs, brackets, backslashes, hostname-like words', () => {
  const inputs = [
    '<' + '0'.repeat(100_000) + '13>x',
    '<13>1 - - - - - ' + '['.repeat(100_000),
    '<13>1 - - - - - [a ' + '\\'.repeat(100_001),
    '<13>1 - - - - - ' + '[a]'.repeat(30_000) + 'x',
    '<13>' + 'a '.repeat(50_000),
    '<13>' + 'a'.repeat(100_000) + ': x',
    '<13>p[' + '1'.repeat(100_000) + ']: x',
  ];
  for (const s of inputs) {
    const buf = Buffer.from(s);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 20; i++) parseSyslog(buf, 0, buf.length);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    // Not a timing assertion on the machine: a quadratic scan of 100 KB would take minutes, linear ones milliseconds.
    assert.ok(ms < 20_000, `${s.slice(0, 20)}...: ${ms} ms`);
  }
  const long = Buffer.from('<0013>x: y');
  assert.equal(parseSyslog(long, 0, long.length).severity, 5);
  const many = Buffer.from('<' + '0'.repeat(100_000) + '13>x: y');
  assert.equal(parseSyslog(many, 0, many.length).severity, 5, 'leading zeros, however many, as rsyslog');
});

test('a tag longer than 510 bytes is no tag; one of 510 is', () => {
  const at = (n: number) => {
    const buf = Buffer.from(`<13>${'t'.repeat(n)}[1]: m`);
    return parseSyslog(buf, 0, buf.length);
  };
  assert.equal(at(510).tag, 't'.repeat(510));
  assert.equal(at(510).pid, '1');
  assert.equal(at(511).tag, undefined);
  assert.equal(at(511).pid, undefined);
});

test('ranges outside the buffer are clamped, not thrown about', () => {
  const buf = Buffer.from('<13>prog: hi');
  for (const [s, e] of [[-5, 100], [5, 2], [NaN, NaN], [100, 200]]) {
    const m = parseSyslog(buf, s, e);
    assert.ok(m.msgStart >= 0 && m.msgStart <= m.msgEnd && m.msgEnd <= buf.length);
  }
});
