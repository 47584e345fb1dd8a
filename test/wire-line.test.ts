import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fastEntry, fastJsonEntry } from '../src/persist/wire-line.js';
import { jsonFileLine } from '../src/persist/file-format.js';
import { fileLine } from '../src/persist/persister.js';

const wire = (o: object): Buffer => Buffer.from(JSON.stringify(o));

test('the fast path gives exactly the line the slow path gives', () => {
  const cases = [
    { time: '2019-02-22T16:04:23.123456789Z', source: 'docker', msg: 'hello world', seq: 42 },
    { time: '2019-02-22T16:04:23Z', source: 'a.b-c', msg: '', seq: 0 },
    { time: '2026-11-28T23:00:16.1Z', source: 'svc.out', msg: 'é ✓ 😀 ; , : { } [ ]', seq: 9007199254740991 },
  ];
  for (const c of cases) {
    const fast = fastEntry(wire(c));
    assert.ok(fast, JSON.stringify(c));
    assert.equal(fast.fileLine.toString(), fileLine(c.time, c.source, c.msg));
    assert.equal(fast.source, c.source);
    assert.equal(fast.seq, c.seq);
  }
});

test('anything it is not sure of goes the slow way', () => {
  const slow = [
    wire({ time: '2019-02-22T16:04:23Z', source: 's', msg: 'has "quotes"', seq: 1 }), // escapes
    wire({ time: '2019-02-22T16:04:23Z', source: 'tab\there', msg: 'm', seq: 1 }),
    wire({ time: '2019-02-22T16:04:23+01:00', source: 's', msg: 'm', seq: 1 }), // not UTC Z
    wire({ time: '2019-02-22T16:04:23Z', source: 'memlogd', msg: 'lost', lost: { count: 1 } }), // a marker
    wire({ time: '2019-02-22T16:04:23Z', source: 's', msg: 'm' }), // upstream: no seq
    wire({ source: 's', time: '2019-02-22T16:04:23Z', msg: 'm', seq: 1 }), // another order
    Buffer.from('{"time":"2019-02-22T16:04:23Z","source":"s","msg":"m","seq":1} '),
    Buffer.from('{"time":"2019-02-22T16:04:23Z","source":"s","msg":"m","seq":}'),
    Buffer.from('not json at all'),
    Buffer.alloc(0),
  ];
  for (const line of slow) assert.equal(fastEntry(line), undefined, line.toString());
});

test('random cuts of real lines never throw and never give a wrong line', () => {
  const line = wire({ time: '2019-02-22T16:04:23.5Z', source: 'src', msg: 'message text', seq: 77 });
  for (let a = 0; a <= line.length; a++) {
    for (let b = a; b <= line.length; b += 3) {
      const cut = Buffer.concat([line.subarray(0, a), line.subarray(b)]);
      const fast = fastEntry(cut);
      if (fast) {
        const parsed = JSON.parse(cut.toString()) as { time: string; source: string; msg: string; seq: number };
        assert.equal(fast.fileLine.toString(), fileLine(parsed.time, parsed.source, parsed.msg));
      }
    }
  }
});

test('json format: the fast path splices the daemon id in and gives exactly the line the slow path gives', () => {
  const daemon = 'd-1234';
  const field = Buffer.from(`,"daemon":${JSON.stringify(daemon)}`);
  const cases = [
    { time: '2019-02-22T16:04:23.123456789Z', source: 'docker', msg: 'hello world', seq: 42 },
    { time: '2019-02-22T16:04:23Z', source: 'a.b-c', msg: '', seq: 0, pid: 12, uid: 0, gid: 7 },
    { time: '2026-11-28T23:00:16.1Z', source: 'svc.out', msg: 'é ✓ 😀 ; , : { } [ ]', seq: 9007199254740991 },
  ];
  for (const c of cases) {
    const fast = fastJsonEntry(wire(c), field);
    assert.ok(fast, JSON.stringify(c));
    assert.equal(fast.fileLine.toString(), jsonFileLine(c, daemon));
    assert.deepEqual(JSON.parse(fast.fileLine.toString()), { ...c, daemon });
    assert.equal(fast.seq, c.seq);
  }
  // Escapes go the slow way, which writes the same object.
  const escaped = { time: '2019-02-22T16:04:23Z', source: 's', msg: 'has "quotes"', seq: 1 };
  assert.equal(fastJsonEntry(wire(escaped), field), undefined);
  assert.deepEqual(JSON.parse(jsonFileLine(escaped, daemon)), { ...escaped, daemon });
});
