/** Who may use the sockets: the owner only by default; a group when asked. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, dump, run, startDaemon, tmpdir } from './helpers.js';

const NOBODY = 65534;

/** Runs a command as uid/gid 65534 (nobody), when this test runs as root with setpriv at hand. */
function asNobody(cmd: string[]): string[] | undefined {
  if (process.getuid?.() !== 0 || !fs.existsSync('/usr/bin/setpriv')) return undefined;
  return ['/usr/bin/setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', ...cmd];
}

test('both sockets are owner-only by default, and others cannot read the ring or hand over a stream', async (t) => {
  const dir = tmpdir(t);
  fs.chmodSync(dir, 0o755); // the directory is not what stops them
  const daemon = await startDaemon(t, dir);
  for (const p of [daemon.logSocket, daemon.querySocket]) assert.equal(fs.statSync(p).mode & 0o777, 0o600, p);
  const logread = asNobody([process.execPath, BIN('logread'), '-socket', daemon.querySocket]);
  if (!logread) return t.skip('needs root and setpriv to try as another user');
  const denied = await run(logread[0], logread.slice(1));
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /cannot connect to .*query\.sock: permission denied/);
  const launch = asNobody([process.execPath, BIN('logwrite'), '-socket', daemon.logSocket, '-n', 'intruder', 'echo', 'forged']);
  const launched = await run((launch as string[])[0], (launch as string[]).slice(1));
  assert.equal(launched.code, 0, 'the command still runs');
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
  const logread = asNobody([process.execPath, BIN('logread'), '-socket', daemon.querySocket]);
  if (!logread) return t.skip('needs root and setpriv to try as another user');
  // As a member of the group (gid 65534), reading is allowed.
  const allowed = await run(logread[0], logread.slice(1).map((a) => (a === '--clear-groups' ? `--groups=${NOBODY}` : a)));
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
