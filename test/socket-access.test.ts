/** Who may use the sockets: the owner only by default; a group when asked. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, NOBODY, asNobody, dump, run, startDaemon, tmpdir } from './helpers.js';

test('both sockets are owner-only by default, and others cannot read the ring or hand over a stream', async (t) => {
  const dir = tmpdir(t);
  fs.chmodSync(dir, 0o755); // the directory is not what stops them
  const daemon = await startDaemon(t, dir);
  for (const p of [daemon.logSocket, daemon.querySocket]) assert.equal(fs.statSync(p).mode & 0o777, 0o600, p);
  const nobody = await asNobody(t);
  if (typeof nobody === 'string') return t.skip(nobody);
  const denied = await run(...nobody.command('logread', ['-socket', daemon.querySocket]));
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /^logread: cannot connect to .*query\.sock: permission denied/);
  const launched = await run(...nobody.command('logwrite', ['-socket', daemon.logSocket, '-n', 'intruder', 'echo', 'forged']));
  assert.equal(launched.code, 0, 'the command still runs');
  assert.equal(launched.stdout, 'forged\n', 'and its output still goes to stdout');
  assert.match(launched.stderr, /cannot hand output to memlogd .*EACCES/);
  assert.ok(!(await dump(daemon.querySocket)).some((e) => e.source.startsWith('intruder')));
});

test('-socket-mode and -socket-group open the sockets to a group', async (t) => {
  const dir = tmpdir(t);
  fs.chmodSync(dir, 0o755);
  const daemon = await startDaemon(t, dir, ['-socket-mode', '0660', '-socket-group', String(NOBODY)]);
  for (const p of [daemon.logSocket, daemon.querySocket]) {
    const st = fs.statSync(p);
    assert.equal(st.mode & 0o777, 0o660, p);
    assert.equal(st.gid, NOBODY, p);
  }
  const nobody = await asNobody(t);
  if (typeof nobody === 'string') return t.skip(nobody);
  // As a member of the group (gid 65534), reading is allowed.
  const allowed = await run(...nobody.command('logread', ['-socket', daemon.querySocket], [NOBODY]));
  assert.equal(allowed.code, 0, allowed.stderr);
  assert.match(allowed.stdout, /;memlogd;memlogd started/);
});

test('a bad -socket-mode or unknown -socket-group is a one-line error', async (t) => {
  const dir = tmpdir(t);
  const args = (extra: string[]): string[] => [BIN('memlogd'), '-socket-log', path.join(dir, 'l'), '-socket-query', path.join(dir, 'q'), ...extra];
  const mode = await run(process.execPath, args(['-socket-mode', '999']));
  assert.equal(mode.code, 1);
  assert.match(mode.stderr, /^memlogd: -socket-mode must be octal permission bits/);
  const group = await run(process.execPath, args(['-socket-group', 'no-such-group-here']));
  assert.equal(group.code, 1);
  assert.match(group.stderr, /^memlogd: no group named "no-such-group-here"\n$/);
  assert.ok(!fs.existsSync(path.join(dir, 'l')), 'nothing left behind');
});
