/** logread and the launcher, as a user runs them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { BIN, ROOT, dump, messagesOf, openStream, run, startDaemon, tmpdir, waitFor } from './helpers.js';

test('logread prints time;source;msg with ; in the source as \\;', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t));
  const r = await run(process.execPath, [BIN('logwrite'), '-socket', daemon.logSocket, '-n', 'a;b', 'sh', '-c', 'echo "x;y" >&2']);
  assert.equal(r.code, 0, r.stderr);
  await waitFor('the line', async () => messagesOf(await dump(daemon.querySocket), 'a;b').length === 1);
  const out = await run(process.execPath, [BIN('logread'), '-socket', daemon.querySocket]);
  assert.equal(out.code, 0);
  const lines = out.stdout.trimEnd().split('\n');
  assert.match(lines[0], /^\d{4}-\d\d-\d\dT[\d:.]+Z;memlogd;memlogd started$/);
  assert.match(lines.at(-1) as string, /^\d{4}-\d\d-\d\dT[\d:.]+Z;a\\;b;x;y$/);
});

test('logread -f follows and -F dumps then follows', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t));
  await run(process.execPath, [BIN('logwrite'), '-socket', daemon.logSocket, '-n', 'early', 'echo', 'before']);
  await waitFor('early', async () => messagesOf(await dump(daemon.querySocket), 'early.out').length === 1);
  const readers = ['-f', '-F'].map((flag) => {
    const p = spawn(process.execPath, [BIN('logread'), '-socket', daemon.querySocket, flag]);
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    t.after(() => p.kill());
    return { flag, out: () => out };
  });
  // Both follow once they print a line written after they connected: write one until each has.
  const probe = await openStream(daemon.logSocket, 'probe');
  let probes = 0;
  await waitFor('both logread to follow', () => {
    fs.writeSync(probe, `probe ${++probes}\n`);
    return readers.every((r) => r.out().includes(';probe;probe '));
  });
  fs.closeSync(probe);
  await run(process.execPath, [BIN('logwrite'), '-socket', daemon.logSocket, '-n', 'late', 'echo', 'after']);
  for (const r of readers) await waitFor(`logread ${r.flag} to print the new line`, () => r.out().includes(';late.out;after'));
  const [f, F] = readers;
  assert.ok(!f.out().includes('early.out;before'), 'logread -f shows only new entries');
  assert.ok(F.out().includes(';early.out;before'), 'logread -F shows the ring first');
  assert.ok(F.out().indexOf('early.out;before') < F.out().indexOf('late.out;after'));
});

test('logread names the socket in a one-line error when it cannot connect', async (t) => {
  const dir = tmpdir(t);
  const missing = path.join(dir, 'nothing.sock');
  const r = await run(process.execPath, [BIN('logread'), '-socket', missing]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, `logread: cannot connect to ${missing}: no such socket (is memlogd running?)\n`);
  // A socket file nobody listens on: refused.
  const stale = path.join(dir, 'stale.sock');
  const { bindListen } = await import('../src/native.js');
  fs.closeSync(bindListen(stale, 1));
  const refused = await run(process.execPath, [BIN('logread'), '-socket', stale]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, new RegExp(`^logread: cannot connect to ${stale}: connection refused.*\\n$`));
});

test('a daemon that closes a query connection before the request is sent: an error for the caller, not a crash', async (t) => {
  // What memlogd does when it is out of fds (it accepts and closes at once). The client is held up until the
  // connection is already closed, so that it sends its request into a closed connection every time.
  const dir = tmpdir(t);
  const sock = path.join(dir, 'closing.sock');
  const closed = path.join(dir, 'closed');
  const server = net.createServer((socket) => {
    socket.destroy();
    fs.writeFileSync(closed, '');
  });
  await new Promise<void>((resolve) => server.listen(sock, resolve));
  t.after(() => server.close());
  const script = `
    import fs from 'node:fs';
    import { connectQuery } from ${JSON.stringify(path.join(ROOT, 'dist/src/clients/query-client.js'))};
    const pending = connectQuery(${JSON.stringify(sock)}, 0);
    for (const deadline = Date.now() + 30000; !fs.existsSync(${JSON.stringify(closed)}) && Date.now() < deadline; );
    pending.then(
      (socket) => {
        socket.on('error', (err) => console.log('error ' + err.code));
        socket.on('close', () => console.log('closed'));
        socket.resume();
      },
      (err) => console.log('rejected: ' + err.message),
    );
  `;
  const r = await run(process.execPath, ['--input-type=module', '-e', script]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `rejected: cannot connect to ${sock}: the daemon closed the connection at once (out of file descriptors?)\n`);
});

test('the launcher hands stdout as NAME.out and stderr as NAME, and tees both', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t));
  const r = await run(process.execPath, [BIN('logwrite'), '-socket', daemon.logSocket, '-n', 'svc', 'sh', '-c', 'echo out1; echo err1 >&2; echo out2; printf "tail"']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, 'out1\nout2\ntail');
  assert.equal(r.stderr, 'err1\n');
  await waitFor('all lines', async () => messagesOf(await dump(daemon.querySocket), 'svc.out').length === 3);
  const entries = await dump(daemon.querySocket);
  assert.deepEqual(messagesOf(entries, 'svc.out'), ['out1', 'out2', 'tail']);
  assert.deepEqual(messagesOf(entries, 'svc'), ['err1']);
});

test('the launcher names streams after the command when -n is not given', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t));
  await run(process.execPath, [BIN('logwrite'), '-socket', daemon.logSocket, 'echo', 'hi']);
  await waitFor('echo.out', async () => messagesOf(await dump(daemon.querySocket), 'echo.out').includes('hi'));
});

test("the launcher exits with the command's status, 128+signal when it is killed", async (t) => {
  const daemon = await startDaemon(t, tmpdir(t));
  const failing = await run(process.execPath, [BIN('logwrite'), '-socket', daemon.logSocket, 'sh', '-c', 'exit 7']);
  assert.equal(failing.code, 7);
  const killed = await run(process.execPath, [BIN('logwrite'), '-socket', daemon.logSocket, 'sh', '-c', 'kill -KILL $$']);
  assert.equal(killed.code, 128 + 9);
  const missing = await run(process.execPath, [BIN('logwrite'), '-socket', daemon.logSocket, '/no/such/command']);
  assert.equal(missing.code, 127);
  assert.match(missing.stderr, /cannot run "\/no\/such\/command"/);
});

test('the launcher forwards SIGTERM and SIGINT to the command', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t));
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const p = spawn(process.execPath, [BIN('logwrite'), '-socket', daemon.logSocket, '-n', 'trap', 'sh', '-c', `trap 'echo got ${signal}; exit 3' ${signal.slice(3)}; echo ready; while :; do sleep 0.05; done`]);
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor('ready', () => out.includes('ready'));
    p.kill(signal);
    const code = await new Promise((r) => p.once('exit', r));
    assert.equal(code, 3, `${signal}: ${out}`);
    assert.match(out, new RegExp(`got ${signal}`));
  }
  await waitFor('the trap lines in memlogd', async () => messagesOf(await dump(daemon.querySocket), 'trap.out').filter((m) => m.startsWith('got')).length === 2);
});

test('without memlogd the launcher warns once, still runs the command and keeps its status', async (t) => {
  const dir = tmpdir(t);
  const r = await run(process.execPath, [BIN('logwrite'), '-socket', path.join(dir, 'absent.sock'), 'sh', '-c', 'echo still here; echo oops >&2; exit 5']);
  assert.equal(r.code, 5);
  assert.equal(r.stdout, 'still here\n');
  const warnings = r.stderr.split('\n').filter((l) => l.startsWith('logwrite:'));
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /absent\.sock/);
  assert.match(r.stderr, /oops/);
});

test('memlog covers the same jobs as subcommands', async (t) => {
  const dir = tmpdir(t);
  const logSocket = path.join(dir, 'l.sock');
  const querySocket = path.join(dir, 'q.sock');
  const daemon = spawn(process.execPath, [BIN('memlog'), 'daemon', '-socket-log', logSocket, '-socket-query', querySocket]);
  t.after(() => daemon.kill());
  await waitFor('memlog daemon to answer', async () => (await dump(querySocket))[0]?.msg === 'memlogd started');
  const ran = await run(process.execPath, [BIN('memlog'), 'run', '-socket', logSocket, '-n', 'sub', 'echo', 'via memlog']);
  assert.equal(ran.code, 0);
  await waitFor('the line via memlog read', async () => (await run(process.execPath, [BIN('memlog'), 'read', '-socket', querySocket])).stdout.includes(';sub.out;via memlog'));
  const help = await run(process.execPath, [BIN('memlog'), 'help']);
  assert.match(help.stdout, /daemon/);
  assert.match(help.stdout, /read/);
  assert.match(help.stdout, /run/);
  const bad = await run(process.execPath, [BIN('memlogd'), '-no-such-flag']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /flag provided but not defined: -no-such-flag/);
});

test('a second daemon on live sockets refuses to start; a stale socket is replaced', async (t) => {
  const dir = tmpdir(t);
  const daemon = await startDaemon(t, dir);
  const second = await run(process.execPath, [BIN('memlogd'), '-socket-log', daemon.logSocket, '-socket-query', path.join(dir, 'other-q.sock')]);
  assert.equal(second.code, 1);
  assert.match(second.stderr, /log\.sock is in use by another running daemon/);
  daemon.proc.kill('SIGKILL');
  await new Promise((r) => daemon.proc.once('exit', r));
  assert.ok(fs.existsSync(daemon.querySocket), 'a killed daemon leaves its socket files');
  const again = await startDaemon(t, dir);
  assert.equal((await dump(again.querySocket))[0].msg, 'memlogd started');
});

test('the launcher outlives memlogd: the command sees no EPIPE, and its streams go to the next memlogd under the same names', async (t) => {
  const dir = tmpdir(t);
  const first = await startDaemon(t, dir);
  const p = spawn(process.execPath, [BIN('logwrite'), '-socket', first.logSocket, '-n', 'steady', 'sh', '-c', 'i=0; while [ $i -lt 150 ]; do i=$((i+1)); echo "tick $i" || exit 9; echo "tock $i" >&2 || exit 9; sleep 0.02; done']);
  let out = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr.resume();
  const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
  await waitFor('some ticks in memlogd', async () => messagesOf(await dump(first.querySocket), 'steady.out').length > 10);
  first.proc.kill('SIGKILL');
  await new Promise((r) => first.proc.once('exit', r));
  const second = await startDaemon(t, dir);
  assert.equal(await exited, 0, 'the command ran to its end: no EPIPE reached it');
  assert.match(out, /tick 150\n$/);
  const entries = await dump(second.querySocket);
  const ticks = messagesOf(entries, 'steady.out');
  const tocks = messagesOf(entries, 'steady');
  assert.ok(ticks.length > 10 && tocks.length > 10, `${ticks.length} ticks and ${tocks.length} tocks in the new memlogd`);
  assert.equal(ticks.at(-1), 'tick 150');
});
