/**
 * The RFC 5424 encoding of forwarded entries (src/forward/rfc5424.ts): exact
 * messages for the cases that matter, octet-counting framing, and a property:
 * any entry gives a message a strict RFC 5424 parser (written here, from the
 * RFC's ABNF) accepts, and its fields come back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { ForwardEntry } from '../src/forward/entry.js';
import { formatOctetCounted, formatRfc5424, frameOctetCounted, isValidSenderSd, octetCounted } from '../src/forward/rfc5424.js';
import { anyString, runs } from './prop-support.js';

const OPTS = { hostname: 'host.example', facility: 1 };
// 2024-05-29T16:26:40Z
const SEC = 1717000000;

const entry = (e: Partial<ForwardEntry>): ForwardEntry => ({ time: '', sec: SEC, nsec: 123456789, source: 'sshd', msg: 'Accepted publickey', ...e });
const fmt = (e: Partial<ForwardEntry>, opts = OPTS): string => formatRfc5424(entry(e), opts).toString('utf8');

test('an ordinary entry', () => {
  assert.equal(
    fmt({ daemon: 'd-1', seq: 41, pid: 812 }),
    '<14>1 2024-05-29T16:26:40.123456Z host.example sshd 812 - [meta sequenceId="42"][memlog@32473 daemon="d-1" seq="41" ns="123456789"] Accepted publickey',
  );
});

test('no pid, no seq, no daemon: NILVALUEs, and our element still carries ns', () => {
  assert.equal(fmt({ nsec: 1000, source: 'kernel', msg: 'eth0: link up' }), '<14>1 2024-05-29T16:26:40.000001Z host.example kernel - - [memlog@32473 ns="000001000"] eth0: link up');
  // A seq without a daemon id (an upstream daemon's): no daemon param.
  assert.equal(fmt({ seq: 0, pid: 1 }), '<14>1 2024-05-29T16:26:40.123456Z host.example sshd 1 - [meta sequenceId="1"][memlog@32473 seq="0" ns="123456789"] Accepted publickey');
});

test('severity and facility from the entry, else info and the default facility', () => {
  assert.match(fmt({ severity: 3, facility: 4 }), /^<35>1 /);
  assert.match(fmt({ severity: 7, facility: 23 }), /^<191>1 /);
  assert.match(fmt({ severity: 0, facility: 0 }), /^<0>1 /);
  assert.match(fmt({ severity: 2 }), /^<10>1 /);
  assert.match(fmt({}, { hostname: 'h', facility: 16 }), /^<134>1 /);
  assert.match(fmt({ facility: 3 }, { hostname: 'h', facility: 16 }), /^<30>1 /);
});

test('a loss marker: warning, its counts in our element', () => {
  const lost = { count: 17, from: 100, to: 116, unknown: 0, sources: { sshd: 17 } };
  assert.equal(
    fmt({ source: 'memlogd', msg: '17 entries lost', daemon: 'd-1', seq: 117, severity: 6, lost }),
    '<12>1 2024-05-29T16:26:40.123456Z host.example memlogd - - [meta sequenceId="118"][memlog@32473 daemon="d-1" seq="117" ns="123456789" lost="17" from="100" to="116"] 17 entries lost',
  );
  assert.equal(
    fmt({ source: 'memlogd', msg: '', lost: { ...lost, from: -1, unknown: 3 } }),
    '<12>1 2024-05-29T16:26:40.123456Z host.example memlogd - - [memlog@32473 ns="123456789" lost="17" from="-1" to="116" unknown="3"]',
  );
});

test('names outside printable ASCII are sanitised, and the source then travels whole in our SD', () => {
  assert.equal(fmt({ source: 'my app', msg: 'x' }), '<14>1 2024-05-29T16:26:40.123456Z host.example my_app - - [memlog@32473 ns="123456789" source="my app"] x');
  // é is two bytes of UTF-8: two underscores.
  assert.equal(fmt({ source: 'démon', msg: 'x' }), '<14>1 2024-05-29T16:26:40.123456Z host.example d__mon - - [memlog@32473 ns="123456789" source="démon"] x');
  const long = 'a'.repeat(60) + 'b'.repeat(40);
  assert.equal(fmt({ source: long, msg: 'x' }), `<14>1 2024-05-29T16:26:40.123456Z host.example ${'a'.repeat(48)} - - [memlog@32473 ns="123456789" source="${long}"] x`);
  // Exactly 48 printable: kept as it is.
  assert.equal(fmt({ source: 'c'.repeat(48), msg: 'x' }), `<14>1 2024-05-29T16:26:40.123456Z host.example ${'c'.repeat(48)} - - [memlog@32473 ns="123456789"] x`);
  // Empty: the NILVALUE, which reads back as empty. A source that is "-" would read back as empty too: it travels.
  assert.equal(fmt({ source: '', msg: 'x' }), '<14>1 2024-05-29T16:26:40.123456Z host.example - - - [memlog@32473 ns="123456789"] x');
  assert.equal(fmt({ source: '-', msg: 'x' }), '<14>1 2024-05-29T16:26:40.123456Z host.example - - - [memlog@32473 ns="123456789" source="-"] x');
  // The hostname: sanitised, at most 255, `-` if empty.
  assert.match(fmt({ msg: 'x' }, { hostname: 'my host ü\t', facility: 1 }), /^<14>1 \S+ my_host____ sshd /);
  assert.match(fmt({ msg: 'x' }, { hostname: '', facility: 1 }), /^<14>1 \S+ - sshd /);
  assert.equal(fmt({ msg: 'x' }, { hostname: 'h'.repeat(300), facility: 1 }).split(' ')[2], 'h'.repeat(255));
  // MSGID: sanitised, at most 32.
  assert.match(fmt({ msgid: 'ID 47' }), /^<14>1 \S+ host\.example sshd - ID_47 \[/);
  assert.match(fmt({ msgid: 'm'.repeat(40) }), new RegExp(`^<14>1 \\S+ host\\.example sshd - ${'m'.repeat(32)} \\[`));
});

test('PARAM-VALUEs escape ", \\ and ]', () => {
  assert.equal(
    fmt({ source: 'x]"\\ y', daemon: 'a"b\\c]d', seq: 5, msg: 'm' }),
    '<14>1 2024-05-29T16:26:40.123456Z host.example x]"\\_y - - [meta sequenceId="6"][memlog@32473 daemon="a\\"b\\\\c\\]d" seq="5" ns="123456789" source="x\\]\\"\\\\ y"] m',
  );
});

test("the sender's own SD is kept when well-formed, dropped when not", () => {
  const good = '[exampleSDID@32473 iut="3" eventSource="App\\]l\\"i\\\\c" eventID="1011"][origin ip="192.0.2.1"][x@1]';
  assert.equal(fmt({ sd: good, msg: 'm' }), `<14>1 2024-05-29T16:26:40.123456Z host.example sshd - - [memlog@32473 ns="123456789"]${good} m`);
  assert.equal(fmt({ sd: '[x@1 v="ünï ✓"]', msg: '' }), '<14>1 2024-05-29T16:26:40.123456Z host.example sshd - - [memlog@32473 ns="123456789"][x@1 v="ünï ✓"]');
  const bad = [
    '',
    '-',
    '[',
    '[x@1',
    '[]',
    ' [x@1]',
    '[x@1] ',
    '[x@1 ]',
    '[x@1 a=b]',
    '[x@1 a="b]',
    '[x@1 a="b"c"]',
    '[x@1 a="]"]',
    '[x@1 a="b\\q"]',
    '[x@1 ="b"]',
    '[x@1 a ="b"]',
    '[x@1 a= "b"]',
    '[x@1  a="b"]',
    '[x@1 a="b"][x@1 c="d"]',
    '[x=1]',
    '[x"1]',
    '[é@1]',
    `[${'a'.repeat(33)}]`,
    `[x@1 ${'p'.repeat(33)}="v"]`,
    '[meta sequenceId="1"]',
    '[memlog@32473 seq="1"]',
    '[x@1 a="\ud800"]',
  ];
  for (const sd of bad) {
    assert.equal(isValidSenderSd(sd), false, sd);
    assert.equal(fmt({ sd, msg: 'm' }), '<14>1 2024-05-29T16:26:40.123456Z host.example sshd - - [memlog@32473 ns="123456789"] m', sd);
  }
  assert.equal(isValidSenderSd(`[${'a'.repeat(32)} ${'p'.repeat(32)}="" q="\\\\\\"\\]"]`), true);
});

test('an empty message ends after the SD; a message is UTF-8 without a BOM', () => {
  assert.equal(fmt({ msg: '' }), '<14>1 2024-05-29T16:26:40.123456Z host.example sshd - - [memlog@32473 ns="123456789"]');
  const buf = formatRfc5424(entry({ msg: 'héllo ✓ 😀' }), OPTS);
  const tail = Buffer.from('] héllo ✓ 😀', 'utf8');
  assert.deepEqual(buf.subarray(buf.length - tail.length), tail);
  // A lone surrogate cannot be UTF-8: U+FFFD.
  assert.ok(formatRfc5424(entry({ msg: 'a\ud800b' }), OPTS).toString('utf8').endsWith('] a\ufffdb'));
});

test('nanoseconds: six digits cut, not rounded, in the TIMESTAMP; all nine in ns', () => {
  assert.match(fmt({ nsec: 123456789 }), /^<14>1 2024-05-29T16:26:40\.123456Z .* ns="123456789"\]/);
  assert.match(fmt({ nsec: 999999999 }), /^<14>1 2024-05-29T16:26:40\.999999Z .* ns="999999999"\]/);
  assert.match(fmt({ nsec: 0 }), /^<14>1 2024-05-29T16:26:40\.000000Z .* ns="000000000"\]/);
  assert.match(fmt({ nsec: 999 }), /^<14>1 2024-05-29T16:26:40\.000000Z .* ns="000000999"\]/);
  // Entries of one second then the next (the cached prefix changes).
  assert.match(fmt({ sec: SEC + 1, nsec: 5000 }), /^<14>1 2024-05-29T16:26:41\.000005Z /);
  assert.match(fmt({ sec: 0, nsec: 0 }), /^<14>1 1970-01-01T00:00:00\.000000Z /);
  // A time four year digits cannot say: the NILVALUE (ns still travels).
  assert.match(fmt({ sec: 253402300800, nsec: 7 }), /^<14>1 - host\.example sshd - - \[memlog@32473 ns="000000007"\]/);
});

test('sequenceId wraps within 1..2147483647', () => {
  assert.match(fmt({ seq: 2147483646 }), /\[meta sequenceId="2147483647"\]/);
  assert.match(fmt({ seq: 2147483647 }), /\[meta sequenceId="1"\]\[memlog@32473 seq="2147483647" /);
  assert.match(fmt({ seq: Number.MAX_SAFE_INTEGER }), new RegExp(`\\[meta sequenceId="${(Number.MAX_SAFE_INTEGER % 2147483647) + 1}"\\]\\[memlog@32473 seq="${Number.MAX_SAFE_INTEGER}" `));
});

test('octet counting: LEN SP MESSAGE, a batch in one buffer, whatever the lengths', () => {
  assert.deepEqual(octetCounted(Buffer.from('<14>1 - - - - - -')), Buffer.from('17 <14>1 - - - - - -'));
  assert.deepEqual(frameOctetCounted([]), Buffer.alloc(0));
  // Lengths of 2, 3, 4 and 5 digits, in orders that make the length guess wrong both ways.
  const sizes = [0, 5, 1000, 0, 20000, 20000, 3, 200, 9000, 0];
  const entries = sizes.map((n, i) => entry({ msg: 'ü'.repeat(n), seq: i, pid: i * 1000 }));
  const one = entries.map((e) => formatRfc5424(e, OPTS));
  const framed = formatOctetCounted(entries, OPTS);
  assert.deepEqual(framed, frameOctetCounted(one));
  // Read back by the framing rule.
  let at = 0;
  const back: Buffer[] = [];
  while (at < framed.length) {
    const sp = framed.indexOf(0x20, at);
    const len = Number(framed.toString('latin1', at, sp));
    back.push(framed.subarray(sp + 1, sp + 1 + len));
    at = sp + 1 + len;
  }
  assert.deepEqual(back, one);
  assert.deepEqual(formatOctetCounted([], OPTS), Buffer.alloc(0));
  // The output is the caller's: a later batch does not change it.
  const first = formatOctetCounted([entry({ msg: 'first' })], OPTS);
  const copy = Buffer.from(first);
  formatOctetCounted([entry({ msg: 'second, and longer' })], OPTS);
  assert.deepEqual(first, copy);
});

// ---------------------------------------------------------------------------
// A strict RFC 5424 parser (section 6's ABNF), independent of the encoder.

interface Parsed {
  pri: number;
  version: number;
  timestamp: string | undefined;
  hostname: string | undefined;
  appName: string | undefined;
  procId: string | undefined;
  msgId: string | undefined;
  sd: { id: string; params: [string, string][] }[];
  /** The SD's text as it stood, and where it starts. */
  sdText: string;
  sdStart: number;
  msg: Buffer | undefined;
}

class ParseError extends Error {}

function parse5424(buf: Buffer): Parsed {
  let i = 0;
  const fail = (what: string): never => {
    throw new ParseError(`${what} at ${i}: ${JSON.stringify(buf.toString('latin1'))}`);
  };
  const byte = (b: number): void => {
    if (buf[i] !== b) fail(`expected ${String.fromCharCode(b)}`);
    i++;
  };
  const digits = (min: number, max: number): string => {
    const start = i;
    while (i < buf.length && buf[i] >= 0x30 && buf[i] <= 0x39 && i - start < max) i++;
    if (i - start < min) fail('expected digits');
    return buf.toString('latin1', start, i);
  };
  // A header field: NILVALUE or 1*max PRINTUSASCII.
  const field = (max: number): string | undefined => {
    const start = i;
    while (i < buf.length && buf[i] >= 33 && buf[i] <= 126) i++;
    if (i === start || i - start > max) fail(`field of ${i - start} chars`);
    const text = buf.toString('latin1', start, i);
    return text === '-' ? undefined : text;
  };
  byte(0x3c);
  const priText = digits(1, 3);
  if (priText.length > 1 && priText[0] === '0') fail('PRI with a leading zero');
  const pri = Number(priText);
  if (pri > 191) fail('PRI over 191');
  byte(0x3e);
  const versionText = digits(1, 3);
  if (versionText[0] === '0') fail('VERSION');
  byte(0x20);
  let timestamp: string | undefined;
  if (buf[i] === 0x2d) i++;
  else {
    const start = i;
    digits(4, 4), byte(0x2d), digits(2, 2), byte(0x2d), digits(2, 2), byte(0x54), digits(2, 2), byte(0x3a), digits(2, 2), byte(0x3a), digits(2, 2);
    if (buf[i] === 0x2e) {
      i++;
      digits(1, 6);
    }
    if (buf[i] === 0x5a) i++;
    else fail('expected Z (an offset is allowed by the RFC; the encoder writes UTC)');
    timestamp = buf.toString('latin1', start, i);
  }
  byte(0x20);
  const hostname = field(255);
  byte(0x20);
  const appName = field(48);
  byte(0x20);
  const procId = field(128);
  byte(0x20);
  const msgId = field(32);
  byte(0x20);
  const sd: Parsed['sd'] = [];
  const sdStart = i;
  const sdName = (): string => {
    const start = i;
    while (i < buf.length && buf[i] >= 33 && buf[i] <= 126 && buf[i] !== 0x3d && buf[i] !== 0x5d && buf[i] !== 0x22 && buf[i] !== 0x20) i++;
    if (i === start || i - start > 32) fail('SD-NAME');
    return buf.toString('latin1', start, i);
  };
  if (buf[i] === 0x2d) i++;
  else {
    if (buf[i] !== 0x5b) fail('expected SD');
    while (buf[i] === 0x5b) {
      i++;
      const id = sdName();
      if (sd.some((e) => e.id === id)) fail(`SD-ID ${id} twice`);
      const params: [string, string][] = [];
      while (buf[i] === 0x20) {
        i++;
        const name = sdName();
        byte(0x3d);
        byte(0x22);
        const value: number[] = [];
        for (;;) {
          if (i >= buf.length) fail('PARAM-VALUE not closed');
          const b = buf[i];
          if (b === 0x22) break;
          if (b === 0x5d) fail('] not escaped');
          if (b === 0x5c) {
            const next = buf[i + 1];
            if (next !== 0x22 && next !== 0x5c && next !== 0x5d) fail('a backslash that escapes nothing');
            value.push(next);
            i += 2;
            continue;
          }
          value.push(b);
          i++;
        }
        i++;
        const bytes = Buffer.from(value);
        if (!Buffer.from(bytes.toString('utf8'), 'utf8').equals(bytes)) fail('PARAM-VALUE not UTF-8');
        params.push([name, bytes.toString('utf8')]);
      }
      byte(0x5d);
      sd.push({ id, params });
    }
  }
  const sdText = buf.toString('utf8', sdStart, i);
  let msg: Buffer | undefined;
  if (i < buf.length) {
    byte(0x20);
    msg = buf.subarray(i);
  }
  return { pri, version: Number(versionText), timestamp, hostname, appName, procId, msgId, sd, sdText, sdStart, msg };
}

// ---------------------------------------------------------------------------
// The property.

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const word = (chars: string, min: number, max: number) => fc.string({ unit: fc.constantFrom(...chars.split('')), minLength: min, maxLength: max });
const nameArb = fc.oneof(word(ALNUM + '._-/', 0, 60), anyString(60));
const wellFormedSdValue = fc
  .string({ unit: fc.constantFrom('a', ' ', '"', '\\', ']', '=', 'é', '✓', '😀', '\n'), maxLength: 8 })
  .map((v) => v.replace(/["\\\]]/g, (c) => '\\' + c));
const sdNameArb = word(ALNUM + '@.-_:', 1, 32);
const wellFormedSd = fc
  .uniqueArray(fc.tuple(sdNameArb, fc.array(fc.tuple(sdNameArb, wellFormedSdValue), { maxLength: 3 })), { minLength: 1, maxLength: 3, selector: ([id]) => id })
  .filter((els) => els.every(([id]) => id !== 'meta' && id !== 'memlog@32473'))
  .map((els) => els.map(([id, params]) => `[${id}${params.map(([k, v]) => ` ${k}="${v}"`).join('')}]`).join(''));
const sdArb = fc.option(fc.oneof(wellFormedSd, anyString(30), fc.constantFrom('[meta a="1"]', '[x@1 a="]"]', '[x@1][x@1]')), { nil: undefined });

const count = fc.integer({ min: -1, max: Number.MAX_SAFE_INTEGER });
const entryArb: fc.Arbitrary<ForwardEntry> = fc
  .record(
    {
      sec: fc.integer({ min: -62167219200, max: 253402300799 }),
      nsec: fc.integer({ min: 0, max: 999999999 }),
      source: nameArb,
      msg: fc.oneof(anyString(80), fc.constant('')),
      daemon: anyString(20),
      seq: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      pid: fc.integer({ min: 0, max: 2 ** 32 }),
      severity: fc.integer({ min: 0, max: 7 }),
      facility: fc.integer({ min: 0, max: 23 }),
      msgid: nameArb,
      sd: sdArb,
      lost: fc.record({ from: count, to: count, count: fc.nat(), unknown: fc.nat(), sources: fc.constant({}) }),
    },
    { requiredKeys: ['sec', 'nsec', 'source', 'msg'] },
  )
  .map((e) => ({ time: '', ...e }));

/** What a receiver reads back from a name field: the UTF-8 bytes, each outside 33..126 as `_`, cut; nothing if empty or `-`. */
function sanitised(name: string, max: number): string | undefined {
  const bytes = [...Buffer.from(name, 'utf8')].slice(0, max).map((b) => (b >= 33 && b <= 126 ? b : 0x5f));
  const text = Buffer.from(bytes).toString('latin1');
  return text === '' || text === '-' ? undefined : text;
}

const wellFormed = (s: string): string => Buffer.from(s, 'utf8').toString('utf8');

test('property: any entry gives strict RFC 5424 whose fields come back', () => {
  fc.assert(
    fc.property(entryArb, fc.string({ maxLength: 20 }), fc.integer({ min: 0, max: 23 }), (e, hostname, facility) => {
      const opts = { hostname, facility };
      const buf = formatRfc5424(e, opts);
      const m = parse5424(buf);
      // Printable ASCII up to the SD (the SD's values are UTF-8).
      for (let k = 0; k < m.sdStart; k++) assert.ok(buf[k] >= 0x20 && buf[k] <= 0x7e, `byte ${k} of the header`);

      assert.equal(m.version, 1);
      assert.equal(m.pri >> 3, e.facility ?? facility);
      assert.equal(m.pri & 7, e.lost ? 4 : e.severity ?? 6);
      const usec = String(Math.floor(e.nsec / 1000)).padStart(6, '0');
      const iso = new Date(e.sec * 1000).toISOString();
      assert.equal(m.timestamp, `${iso.slice(0, 19)}.${usec}Z`);
      assert.equal(m.hostname, sanitised(hostname, 255));
      assert.equal(m.appName, sanitised(e.source, 48));
      assert.equal(m.procId, e.pid === undefined ? undefined : String(e.pid));
      assert.equal(m.msgId, e.msgid === undefined ? undefined : sanitised(e.msgid, 32));

      const meta = m.sd.find((el) => el.id === 'meta');
      assert.deepEqual(meta?.params, e.seq === undefined ? undefined : [['sequenceId', String((e.seq % 2147483647) + 1)]]);
      const ours = m.sd.find((el) => el.id === 'memlog@32473');
      assert.ok(ours);
      const p = new Map(ours.params);
      assert.equal(ours.params.length, p.size, 'no param twice');
      assert.equal(p.get('daemon'), e.daemon === undefined ? undefined : wellFormed(e.daemon));
      assert.equal(p.get('seq'), e.seq === undefined ? undefined : String(e.seq));
      assert.equal(p.get('ns'), String(e.nsec).padStart(9, '0'));
      // The source comes back: from our param, else from APP-NAME (the NILVALUE being empty).
      assert.equal(p.get('source') ?? m.appName ?? '', wellFormed(e.source));
      assert.equal(p.get('lost'), e.lost ? String(e.lost.count) : undefined);
      assert.equal(p.get('from'), e.lost ? String(e.lost.from) : undefined);
      assert.equal(p.get('to'), e.lost ? String(e.lost.to) : undefined);
      assert.equal(p.get('unknown'), e.lost && e.lost.unknown > 0 ? String(e.lost.unknown) : undefined);
      // meta first if there, then ours, then the sender's SD verbatim if it was kept.
      const senderText = m.sdText.slice(m.sdText.indexOf('[memlog@32473')).replace(/^\[memlog@32473(?:[^"\]]|"(?:[^"\\]|\\.)*")*\]/, '');
      assert.equal(m.sd[0].id, e.seq === undefined ? 'memlog@32473' : 'meta');
      assert.equal(senderText, e.sd !== undefined && isValidSenderSd(e.sd) ? e.sd : '');

      assert.deepEqual(m.msg, e.msg === '' ? undefined : Buffer.from(e.msg, 'utf8'));
    }),
    runs(1500),
  );
});

test('property: well-formed sender SD is always kept', () => {
  fc.assert(
    fc.property(wellFormedSd, (sd) => {
      assert.ok(isValidSenderSd(sd), sd);
      const m = parse5424(formatRfc5424(entry({ sd }), OPTS));
      assert.ok(m.sdText.endsWith(sd));
    }),
    runs(1000),
  );
});

test('property: a batch is its messages, each octet-counted', () => {
  fc.assert(
    fc.property(fc.array(entryArb, { maxLength: 30 }), (entries) => {
      assert.deepEqual(formatOctetCounted(entries, OPTS), frameOctetCounted(entries.map((e) => formatRfc5424(e, OPTS))));
    }),
    runs(300),
  );
});
