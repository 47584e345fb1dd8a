/**
 * Properties of parseSyslog: it never throws and keeps within its range on
 * any bytes, and well-formed 3164 and 5424 messages it is given come back
 * field for field. See test/prop-support.ts for reproducing a failure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseSyslog } from '../src/inputs/syslog/parse.js';
import { printable, runs, utf8ishBytes } from './prop-support.js';

/** Bytes that look like syslog in places: a PRI or not, header-ish words, any tail. */
const syslogish: fc.Arbitrary<Buffer> = fc
  .array(
    fc.oneof(
      fc.constantFrom('<', '>', '<13>', '<0>', '<191>', '<192>', '1 ', '- ', '[', ']', '\\', '"', '=', ':', ' ', 'Dec  2 21:50:01 ', '2023-12-02T21:50:01Z ', 'host ', 'tag', '[12]', '\0', '\n', '\ufeff').map((s) => Buffer.from(s)),
      utf8ishBytes(4),
    ),
    { maxLength: 20 },
  )
  .map((parts) => printable(Buffer.concat(parts)));

test('never throws; the message range lies within the range given', () => {
  fc.assert(
    fc.property(fc.oneof(syslogish, utf8ishBytes(40)), fc.nat(8), fc.nat(8), (body, pre, post) => {
      const buf = Buffer.concat([Buffer.alloc(pre, 0x3c), body, Buffer.alloc(post, 0x3e)]);
      const m = parseSyslog(buf, pre, pre + body.length);
      assert.ok(pre <= m.msgStart && m.msgStart <= m.msgEnd && m.msgEnd <= pre + body.length);
      assert.equal(m.hadPri, m.facility !== undefined);
      if (m.hadPri) assert.ok(m.facility! <= 23 && m.severity! <= 7);
      // Only trailing newlines and NULs are ever cut from the end.
      for (let i = m.msgEnd; i < pre + body.length; i++) assert.ok(buf[i] === 0x0a || buf[i] === 0 || m.msgStart === m.msgEnd);
    }),
    runs(2000),
  );
});

const word = (chars: string, min: number, max: number) => fc.string({ unit: fc.constantFrom(...chars.split('')), minLength: min, maxLength: max });
const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const tagArb = word(ALNUM + '._-/', 1, 40);
const hostArb = word(ALNUM + '.-_', 1, 30);
const pidArb = fc.option(fc.integer({ min: 1, max: 4194304 }).map(String), { nil: undefined });
const msgArb = fc.oneof(fc.string({ maxLength: 60 }), utf8ishBytes(8).map((b) => b.toString('latin1')))
  .map((s) => Buffer.from(s, 'latin1'))
  // A message's own trailing NUL or newline is cut as the sender's terminator; and a leading space would be the separator's.
  .filter((b) => b.length === 0 || (b[b.length - 1] !== 0 && b[b.length - 1] !== 0x0a && b[0] !== 0x20));
const priArb = fc.integer({ min: 0, max: 191 });
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const bsdTime = fc
  .tuple(fc.constantFrom(...MONTHS), fc.integer({ min: 1, max: 31 }), fc.integer({ min: 0, max: 86399 }))
  .map(([mon, day, s]) => {
    const two = (n: number) => String(n).padStart(2, '0');
    return `${mon} ${String(day).padStart(2, ' ')} ${two(Math.floor(s / 3600))}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}`;
  });

test('a well-formed 3164 message comes back field for field', () => {
  fc.assert(
    fc.property(priArb, fc.option(bsdTime, { nil: undefined }), fc.option(hostArb, { nil: undefined }), tagArb, pidArb, msgArb, fc.constantFrom('', '\n', '\0'), (pri, ts, host, tag, pid, msg, terminator) => {
      const head = `<${pri}>${ts ? ts + ' ' : ''}${host ? host + ' ' : ''}${tag}${pid ? `[${pid}]` : ''}: `;
      const buf = Buffer.concat([Buffer.from(head), msg, Buffer.from(terminator)]);
      const m = parseSyslog(buf, 0, buf.length);
      assert.deepEqual(
        [m.format, m.facility, m.severity, m.timestamp, m.hostname, m.tag, m.pid, buf.subarray(m.msgStart, m.msgEnd)],
        ['rfc3164', pri >> 3, pri & 7, ts, host, tag, pid, msg],
      );
    }),
    runs(1000),
  );
});

// A lone '-' is the NILVALUE, not a value.
const printAscii = (max: number) => word(ALNUM + '.-_:/@', 1, max).filter((w) => w !== '-');
const nil = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
const sdValue = fc.string({ unit: fc.constantFrom('a', ' ', ']', '"', '\\', '=', 'é'), maxLength: 10 }).map((v) => v.replace(/[\\\]"]/g, (ch) => '\\' + ch));
const sdElement = fc
  .tuple(word(ALNUM + '@.', 1, 32), fc.array(fc.tuple(word(ALNUM, 1, 32), sdValue), { maxLength: 3 }))
  .map(([id, params]) => `[${id}${params.map(([k, v]) => ` ${k}="${v}"`).join('')}]`);
const sdArb = nil(fc.array(sdElement, { minLength: 1, maxLength: 3 }).map((els) => els.join('')));
const rfc3339 = fc.date({ min: new Date(0), max: new Date(4e12) }).map((d) => d.toISOString());

test('a well-formed 5424 message comes back field for field', () => {
  fc.assert(
    fc.property(priArb, nil(rfc3339), nil(printAscii(255)), nil(printAscii(48)), nil(printAscii(128)), nil(printAscii(32)), sdArb, fc.boolean(), msgArb, (pri, ts, host, app, procid, msgid, sd, bom, msg) => {
      const field = (v: string | undefined) => v ?? '-';
      fc.pre(!(msg[0] === 0xef && msg[1] === 0xbb && msg[2] === 0xbf)); // a BOM starting the message is dropped, by design
      const head = `<${pri}>1 ${field(ts)} ${field(host)} ${field(app)} ${field(procid)} ${field(msgid)} ${field(sd)} `;
      const buf = Buffer.concat([Buffer.from(head), bom ? Buffer.from([0xef, 0xbb, 0xbf]) : Buffer.alloc(0), msg]);
      const m = parseSyslog(buf, 0, buf.length);
      assert.deepEqual(
        [m.format, m.facility, m.severity, m.timestamp, m.hostname, m.tag, m.pid, m.msgid, m.sd, buf.subarray(m.msgStart, m.msgEnd)],
        ['rfc5424', pri >> 3, pri & 7, ts, host, app, procid, msgid, sd, msg],
      );
    }),
    runs(1000),
  );
});
