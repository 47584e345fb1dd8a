/**
 * Properties of the two places a sender's source name meets something that
 * trusts it: the persister's file names (src/persist/file-names.ts) and the
 * daemon's name check (src/inputs/source-name.ts). See test/prop-support.ts
 * for reproducing a failure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import fc from 'fast-check';
import { MAX_STEM_BYTES, fileStem, isFileStem, sourceOfStem } from '../src/persist/file-names.js';
import { sourceName } from '../src/inputs/source-name.js';
import { MAX_NAME_BYTES } from '../src/protocol/wire.js';
import { anyString, isWellFormed, printable, runs, utf8ishBytes } from './prop-support.js';

// ---------------------------------------------------------------------------
// 6. File names

const DIR = '/var/log/memlog';

/** What every stem must be, whatever the name. */
function checkStem(stem: string): void {
  assert.ok(stem.length > 0, 'not empty');
  assert.ok(!stem.includes('/') && !stem.includes('\0'), `no / or NUL: ${stem}`);
  assert.ok(!stem.startsWith('.'), `not hidden: ${stem}`);
  assert.ok(stem !== '.' && stem !== '..');
  assert.ok(Buffer.byteLength(stem) <= MAX_STEM_BYTES, `${Buffer.byteLength(stem)} bytes`);
  assert.match(stem, /^[A-Za-z0-9_.%~-]+$/, 'only the characters the rule uses');
  const file = path.join(DIR, `${stem}.log`);
  const rel = path.relative(DIR, file);
  assert.ok(!rel.startsWith('..') && !path.isAbsolute(rel) && !rel.includes(path.sep), `${file} is not directly in ${DIR}`);
  assert.equal(path.dirname(file), DIR);
  assert.ok(Buffer.byteLength(`${stem}.log.99.gz`) <= 255, 'room for rotated names');
}

const utf8Key = (s: string): string => Buffer.from(s, 'utf8').toString('hex');

/** Names that come out with a `~` and a hash. */
const isHashed = (stem: string): boolean => stem.includes('~');

/** Strings made of the pieces the rule treats specially, so that near-collisions are likely. */
const trickyName = fc
  .array(fc.constantFrom('%', '%25', '/', '%2F', '%2f', '.', '..', '~', 'A', '%41', 'a', '-', '_', '\0', ' ', 'é', '\ufffd', '\ud800', ''), { maxLength: 8 })
  .map((p) => p.join(''));

/** Long names: a shared prefix (plain or encoded) near the 180/200-byte cut, then a differing tail. */
const longName = fc
  .tuple(fc.constantFrom('a', '%', '.', 'é', '/', 'ab%'), fc.integer({ min: 50, max: 210 }), fc.oneof(trickyName, anyString(6)))
  .map(([unit, n, tail]) => unit.repeat(n) + tail);

const anyName = fc.oneof(anyString(30), trickyName, longName, fc.stringMatching(/^[A-Za-z0-9_.-]{0,210}$/));

test('file names: any name gives a stem that stays in the directory', () => {
  fc.assert(
    fc.property(anyName, (name) => {
      checkStem(fileStem(name));
    }),
    runs(5000),
  );
});

test('file names: distinct names (as UTF-8) never share a stem', () => {
  fc.assert(
    fc.property(fc.uniqueArray(anyName, { selector: utf8Key, minLength: 2, maxLength: 25 }), (names) => {
      const byStem = new Map<string, string>();
      for (const name of names) {
        const stem = fileStem(name);
        const other = byStem.get(stem);
        assert.ok(other === undefined, `${JSON.stringify(other)} and ${JSON.stringify(name)} share the stem ${stem}`);
        byStem.set(stem, name);
      }
    }),
    runs(2000),
  );
});

test('file names: names that differ in one special piece, or after a long shared prefix, never share a stem', () => {
  fc.assert(
    fc.property(
      fc.oneof(fc.constant(''), anyString(6), fc.tuple(fc.constantFrom('a', '%', 'é', '.'), fc.integer({ min: 170, max: 205 })).map(([u, n]) => u.repeat(n))),
      fc.constantFrom('%', '%25', '/', '%2F', '.', '~', '~0', 'A', '%41', '', '\0', 'é', '%C3%A9', '-'),
      fc.constantFrom('%', '%25', '/', '%2F', '.', '~', '~0', 'A', '%41', '', '\0', 'é', '%C3%A9', '-'),
      fc.oneof(fc.constant(''), anyString(6)),
      (prefix, a, b, suffix) => {
        const x = prefix + a + suffix;
        const y = prefix + b + suffix;
        if (utf8Key(x) === utf8Key(y)) return;
        assert.notEqual(fileStem(x), fileStem(y), `${JSON.stringify(x)} and ${JSON.stringify(y)}`);
      },
    ),
    runs(3000),
  );
});

test('file names: a stem that is not hashed decodes back to its name', () => {
  fc.assert(
    fc.property(anyName, (name) => {
      const stem = fileStem(name);
      assert.ok(isFileStem(stem), `isFileStem(${stem})`);
      if (isHashed(stem)) {
        assert.equal(sourceOfStem(stem), undefined);
        return;
      }
      // A name with a lone surrogate is written as U+FFFD: that is the name that comes back.
      assert.equal(sourceOfStem(stem), isWellFormed(name) ? name : Buffer.from(name, 'utf8').toString('utf8'));
    }),
    runs(5000),
  );
});

test('file names: any string read back as a stem is either refused or the canonical stem of what it decodes to', () => {
  fc.assert(
    fc.property(fc.oneof(anyName, anyName.map(fileStem).map((s) => s.toLowerCase()), trickyName.map(fileStem)), (stem) => {
      const source = sourceOfStem(stem);
      if (source !== undefined) assert.equal(fileStem(source), stem);
      assert.equal(typeof isFileStem(stem), 'boolean');
    }),
    runs(3000),
  );
});

// ---------------------------------------------------------------------------
// 7. The daemon's source names

/** The names senders could send: any bytes, biased to UTF-8 and controls, up to the 512 bytes the daemon reads. */
const payload = fc
  .oneof(
    utf8ishBytes(40),
    fc.uint8Array({ maxLength: 40 }).map((a) => printable(Buffer.from(a))),
    fc.tuple(anyString(10), fc.integer({ min: 0, max: 200 })).map(([s, n]) => Buffer.from(s.repeat(n), 'utf8')),
  )
  .map((b) => printable(b.subarray(0, MAX_NAME_BYTES)));

const CONTROL = /[\u0000-\u001f\u007f]/;

function checkName(bytes: Buffer, truncated: boolean): void {
  const { name, problem } = sourceName(bytes, truncated);
  assert.ok(name.length > 0, 'not empty');
  assert.ok(!CONTROL.test(name), `no control characters in ${JSON.stringify(name)}`);
  assert.ok(isWellFormed(name), 'no lone surrogates');
  // Said whenever the name is not exactly the text that was sent.
  let sent: string | undefined;
  try {
    sent = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    sent = undefined;
  }
  if (name !== sent) assert.ok(problem, `no problem reported, but ${JSON.stringify(sent)} became ${JSON.stringify(name)}`);
  if (truncated) assert.ok(problem, 'a cut name is reported');
}

test('source names: any bytes give a non-empty name without control characters, and any change is reported', () => {
  fc.assert(
    fc.property(payload, fc.boolean(), (bytes, truncated) => {
      checkName(bytes, truncated);
    }),
    runs(5000),
  );
});

test('a leading byte order mark is part of the name, not dropped', () => {
  assert.equal(sourceName(Buffer.from([0xef, 0xbb, 0xbf]), false).name, '\ufeff');
  assert.equal(sourceName(Buffer.from('\ufeffabc'), false).name, '\ufeffabc');
});
