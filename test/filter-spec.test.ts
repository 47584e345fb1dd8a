/** The pieces of a filter as logread's flags and query mode 5 carry them: globs, times, levels, patterns, the request. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { globToRegExp, SourceMatcher, splitSourceFlags, GlobError } from '../src/filter/glob.js';
import { parseTimeSpec, TimeSpecError } from '../src/filter/time-spec.js';
import { parseLevel } from '../src/filter/levels.js';
import { compilePattern, PatternError } from '../src/filter/pattern.js';
import { CompiledFilter } from '../src/filter/entry-filter.js';
import { encodeFilterRequest, parseFilterRequest, MODE_FILTER } from '../src/protocol/filter-request.js';
import { RequestError } from '../src/protocol/wire.js';

test('globs match whole source names; * and ? are the only special characters', () => {
  const m = (g: string, s: string): boolean => globToRegExp(g).test(s);
  assert.ok(m('onboot.*', 'onboot.001-dhcpcd'));
  assert.ok(!m('onboot.*', 'xonboot.001'));
  assert.ok(m('sshd?out', 'sshd.out'));
  assert.ok(!m('sshd.out', 'sshdXout'), 'a dot is literal');
  assert.ok(m('a[b]c(d)+', 'a[b]c(d)+'), 'regexp characters are literal');
  assert.ok(m('*', ''));
  assert.ok(m('*/x', 'a/b/x'), 'a slash is an ordinary character');
  assert.ok(m('ü*', 'ünïcode'));
  assert.throws(() => globToRegExp('a\0b'), GlobError);
  // Many stars cost no more than one: this must not backtrack exponentially.
  assert.ok(!m('*'.repeat(50) + 'b', 'a'.repeat(5000)));
});

test('-source globs: any of the including ones, none of the excluding ones', () => {
  const { include, exclude } = splitSourceFlags(['web*', 'db', '!*.out']);
  assert.deepEqual(include, ['web*', 'db']);
  assert.deepEqual(exclude, ['*.out']);
  const m = new SourceMatcher(include, exclude);
  assert.ok(m.matches('web1') && m.matches('db'));
  assert.ok(!m.matches('web1.out') && !m.matches('cache'));
  const only = new SourceMatcher([], ['memlogd']);
  assert.ok(only.matches('anything') && !only.matches('memlogd'));
  assert.ok(new SourceMatcher([], []).all);
});

test('times: RFC 3339, local dates, now, today, yesterday, relative', () => {
  const now = Date.UTC(2026, 11, 2, 21, 30, 15, 500);
  assert.deepEqual(parseTimeSpec('2026-12-02T21:00:00.123456789Z'), { sec: Date.UTC(2026, 11, 2, 21) / 1000, nsec: 123456789 });
  assert.deepEqual(parseTimeSpec('2026-12-02T23:00:00+02:00'), { sec: Date.UTC(2026, 11, 2, 21) / 1000, nsec: 0 });
  assert.deepEqual(parseTimeSpec('now', now), { sec: Math.floor(now / 1000), nsec: 500_000_000 });
  assert.deepEqual(parseTimeSpec('-90s', now), { sec: Math.floor(now / 1000) - 90, nsec: 500_000_000 });
  assert.equal(parseTimeSpec('-15m', now).sec, Math.floor(now / 1000) - 900);
  assert.equal(parseTimeSpec('-2h', now).sec, Math.floor(now / 1000) - 7200);
  assert.equal(parseTimeSpec('-3d', now).sec, Math.floor(now / 1000) - 3 * 86400);
  // Local forms: whatever the zone, they name local midnight / local wall time.
  const local = new Date(2026, 11, 2, 8, 5, 0).getTime() / 1000;
  assert.equal(parseTimeSpec('2026-12-02 08:05').sec, local);
  assert.equal(parseTimeSpec('2026-12-02T08:05:00').sec, local);
  assert.equal(parseTimeSpec('2026-12-02').sec, new Date(2026, 11, 2).getTime() / 1000);
  const today = new Date(now);
  today.setHours(0, 0, 0, 0);
  assert.equal(parseTimeSpec('today', now).sec, today.getTime() / 1000);
  assert.equal(parseTimeSpec('yesterday', now).sec, new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1).getTime() / 1000);
  for (const bad of ['tomorrowish', '2026-02-31', '2026-12-02 25:00', '-5y', '', '12:00']) {
    assert.throws(() => parseTimeSpec(bad, now), TimeSpecError, bad);
  }
});

test('levels: journalctl names and numbers', () => {
  assert.equal(parseLevel('emerg'), 0);
  assert.equal(parseLevel('err'), 3);
  assert.equal(parseLevel('warning'), 4);
  assert.equal(parseLevel('7'), 7);
  assert.equal(parseLevel('INFO'), 6);
  assert.equal(parseLevel('8'), undefined);
  assert.equal(parseLevel('loud'), undefined);
});

test('patterns: literals are searched as bytes, regexps are checked when given', () => {
  assert.deepEqual(compilePattern('timeout', false).literal, Buffer.from('timeout'));
  assert.equal(compilePattern('time.ut', false).literal, undefined);
  assert.deepEqual(compilePattern('TimeOut', true).asciiFoldedLiteral, Buffer.from('timeout'));
  assert.equal(compilePattern('TimeOut', true).literal, undefined);
  assert.ok(compilePattern('conn\\-reset', false).regexp.test('conn-reset'), 'escapes grep users type are taken');
  assert.throws(() => compilePattern('(unclosed', false), PatternError);
});

test('a filter tests parsed entries: window, sources, pattern, severity', () => {
  const f = new CompiledFilter({ sources: ['web*'], exclude: [], since: { sec: 100, nsec: 0 }, until: { sec: 200, nsec: 0 }, grep: 'fail', priority: 6 });
  const e = { sec: 150, nsec: 0, source: 'web1', msg: 'it failed' };
  assert.ok(f.matches(e));
  assert.ok(!f.matches({ ...e, sec: 99 }));
  assert.ok(!f.matches({ ...e, sec: 200, nsec: 1 }));
  assert.ok(f.matches({ ...e, sec: 200, nsec: 0 }), 'until is inclusive');
  assert.ok(!f.matches({ ...e, source: 'db' }));
  assert.ok(!f.matches({ ...e, msg: 'fine' }));
  assert.ok(!f.matches({ ...e, severity: 7 }));
  assert.ok(new CompiledFilter({ sources: [], exclude: [], priority: 3 }).matches({ ...e, severity: 2 }));
  assert.ok(!new CompiledFilter({ sources: [], exclude: [], priority: 3 }).matches(e), 'no severity counts as info');
});

test('the mode 5 request goes over the wire and back; malformed ones are refused with a reason', () => {
  const req = {
    mode: 2 as const,
    daemon: 'abc',
    after: 41,
    last: 50,
    filter: { sources: ['a*'], exclude: ['b'], since: { sec: 1700000000, nsec: 5 }, until: { sec: 1700000100, nsec: 0 }, grep: 'x+', ignoreCase: true, priority: 4 },
  };
  const bytes = encodeFilterRequest(req);
  assert.equal(bytes[0], MODE_FILTER);
  assert.equal(bytes[bytes.length - 1], 10);
  assert.deepEqual(parseFilterRequest(bytes.subarray(1, bytes.length - 1)), req);
  const bad: [string, RegExp][] = [
    ['not json', /not JSON/],
    ['[]', /not a JSON object/],
    ['{}', /"mode"/],
    ['{"mode":3}', /"mode"/],
    ['{"mode":0,"sources":["a\\u0000b"]}', /NUL/],
    ['{"mode":0,"sources":"a"}', /"sources"/],
    ['{"mode":0,"grep":"(a"}', /"grep"/],
    ['{"mode":0,"since":"yesterday"}', /"since"/],
    ['{"mode":0,"last":-1}', /"last"/],
    ['{"mode":0,"priority":8}', /"priority"/],
    ['{"mode":0,"ignoreCase":"yes"}', /"ignoreCase"/],
  ];
  for (const [line, why] of bad) assert.throws(() => parseFilterRequest(Buffer.from(line)), (err: Error) => err instanceof RequestError && why.test(err.message), line);
});
