/**
 * memlog forward, end to end: a real memlogd, the real forwarder process,
 * and a TCP syslog receiver in the test (the peers rsyslog and syslog-ng have
 * their own files): every entry arrives with its fields; kill -9, receiver
 * restarts, memlogd restarts and long outages are resumed from the cursor.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { BIN, dump, openStream, run, startDaemon, tmpdir, waitFor } from './helpers.js';
import { SyslogReceiver } from './syslog-receiver.js';
import { killDuringFlow, missingAndTwice, numberedWriter, numbers, startForwarder } from './forward-helpers.js';

async function receiver(t: { after(fn: () => Promise<void>): void }): Promise<SyslogReceiver> {
  const r = new SyslogReceiver();
  await r.start();
  t.after(() => r.stop());
  return r;
}

test('every entry reaches a tcp receiver as RFC 5424, with source, pid, time, severity, daemon and seq', async (t) => {
  const dir = tmpdir(t);
  const d = await startDaemon(t, dir);
  const r = await receiver(t);
  const w = await numberedWriter(d.logSocket, 'svc');
  w.write(0, 1000);
  const f = startForwarder(t, d.querySocket, path.join(dir, 'state'), ['-to', `tcp://127.0.0.1:${r.port}`, '-facility', 'local3']);
  await waitFor('1000 svc messages', () => r.of('svc').length >= 1000);
  const got = r.of('svc');
  assert.deepEqual(numbers(got), [...Array(1000).keys()]);
  const first = got[0];
  assert.equal(first.hostname, 'testhost');
  assert.equal(first.procid, String(process.pid));
  assert.equal(first.severity, 6);
  assert.equal(first.facility, 19);
  assert.match(first.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  const mine = first.sd['memlog@32473'];
  assert.ok(mine.daemon && mine.daemon.length > 0, 'the daemon id travels');
  const seqs = got.map((m) => Number(m.sd['memlog@32473'].seq));
  for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1] + 1, 'consecutive seqs');
  assert.equal(Number(first.sd.meta.sequenceId), seqs[0] + 1);
  // memlogd's own entries go too.
  assert.ok(r.of('memlogd').some((m) => m.msg === 'memlogd started'));
  // The cursor is saved: the last acknowledged seq of this daemon.
  await waitFor('the cursor at the last seq', () => {
    const files = fs.readdirSync(path.join(dir, 'state'));
    if (files.length !== 1) return false;
    const c = JSON.parse(fs.readFileSync(path.join(dir, 'state', files[0]), 'utf8')) as { daemon: string; seq: number; url: string };
    return c.daemon === mine.daemon && c.seq >= seqs[seqs.length - 1] && c.url === `tcp://127.0.0.1:${r.port}`;
  });
  await f.stop();
  assert.equal(f.proc.exitCode, 0, f.stderr());
});

test('kill -9 of the forwarder three times while lines flow: every line arrives, in order after each resume', async (t) => {
  const dir = tmpdir(t);
  const d = await startDaemon(t, dir, ['-max-lines', '200000']);
  const r = await receiver(t);
  const w = await numberedWriter(d.logSocket, 'flow');
  const state = path.join(dir, 'state');
  const args = ['-to', `tcp://127.0.0.1:${r.port}`];
  const total = 40_000;
  const written = await killDuringFlow(t, { querySocket: d.querySocket, stateDir: state, args, writer: w, rounds: 3, perRound: 10_000, received: () => r.of('flow').length, progress: 0 });
  w.write(written, total);
  startForwarder(t, d.querySocket, state, args);
  await waitFor(`all ${total} lines`, () => missingAndTwice(numbers(r.of('flow')), total).missing.length === 0);
  const { twice } = missingAndTwice(numbers(r.of('flow')), total);
  // tcp acknowledges on write: at most what was written but not yet counted when each kill came (one batch each).
  assert.ok(twice <= 3 * 4096, `${twice} lines twice`);
});

test('a receiver that restarts: one message for the outage, backoff between tries, then every line after the cursor', async (t) => {
  const dir = tmpdir(t);
  const d = await startDaemon(t, dir);
  const r = await receiver(t);
  const w = await numberedWriter(d.logSocket, 'svc');
  const f = startForwarder(t, d.querySocket, path.join(dir, 'state'), ['-to', `tcp://127.0.0.1:${r.port}`]);
  w.write(0, 100);
  await waitFor('100 lines', () => r.of('svc').length >= 100);
  // The receiver goes, and in its place one that takes each connection and drops it at once:
  // the forwarder keeps trying, further and further apart. (Nothing is written meanwhile: over
  // tcp, what a receiver that drops the connection was sent counts as delivered.)
  await r.stop();
  const net = await import('node:net');
  const times: number[] = [];
  const dropper = net.createServer((s) => {
    times.push(Date.now());
    s.destroy();
  });
  await new Promise<void>((res) => dropper.listen(r.port, '127.0.0.1', () => res()));
  await waitFor('5 tries', () => times.length >= 5, 120_000).catch((err: Error) => {
    throw new Error(`${err.message} (${times.length} came)\nforwarder: ${f.stderr()}`);
  });
  await new Promise<void>((res) => dropper.close(() => res()));
  const gaps = times.slice(1).map((x, i) => x - times[i]);
  assert.ok(gaps[3] > gaps[0], `backoff grows: gaps ${gaps.join(', ')} ms`);
  assert.equal(f.stderr().match(/retrying/g)?.length, 1, `one message per outage:\n${f.stderr()}`);
  // Lines written while nothing listens wait in memlogd for the receiver.
  w.write(100, 200);
  await r.start();
  await waitFor('lines 100-199 after the restart', () => missingAndTwice(numbers(r.of('svc')), 200).missing.length === 0, 60_000);
  await waitFor('the recovery told', () => /delivering again/.test(f.stderr()));
});

test('memlogd restarts: the receiver gets a warning that says so, then the new daemon\'s entries', async (t) => {
  const dir = tmpdir(t);
  const d1 = await startDaemon(t, dir);
  const r = await receiver(t);
  const w1 = await numberedWriter(d1.logSocket, 'svc');
  const f = startForwarder(t, d1.querySocket, path.join(dir, 'state'), ['-to', `tcp://127.0.0.1:${r.port}`]);
  w1.write(0, 10);
  await waitFor('10 lines', () => r.of('svc').length >= 10);
  const old = r.of('svc')[0].sd['memlog@32473'].daemon;
  w1.close();
  await d1.stop();
  const d2 = await startDaemon(t, dir);
  const w2 = await numberedWriter(d2.logSocket, 'svc');
  w2.write(10, 20);
  await waitFor('lines 10-19', () => missingAndTwice(numbers(r.of('svc')), 20).missing.length === 0, 60_000);
  const marker = r.of('memlogd').find((m) => /memlogd restarted/.test(m.msg));
  assert.ok(marker, 'a restart marker');
  assert.equal(marker.severity, 4);
  assert.match(marker.msg, new RegExp(`daemon ${old} -> `));
  const fresh = r.of('svc').at(-1);
  assert.notEqual(fresh?.sd['memlog@32473'].daemon, old);
  assert.match(f.stderr(), /lost the connection; reconnecting/);
});

test('an outage longer than the ring: the receiver gets a marker with the count, then the lines the ring kept', async (t) => {
  const dir = tmpdir(t);
  const d = await startDaemon(t, dir, ['-max-lines', '100']);
  const r = await receiver(t);
  const w = await numberedWriter(d.logSocket, 'svc');
  const state = path.join(dir, 'state');
  const args = ['-to', `tcp://127.0.0.1:${r.port}`];
  const f = startForwarder(t, d.querySocket, state, args);
  w.write(0, 10);
  await waitFor('10 lines', () => r.of('svc').length >= 10);
  await f.stop();
  w.write(10, 500);
  startForwarder(t, d.querySocket, state, args);
  await waitFor('line 499', () => numbers(r.of('svc')).includes(499));
  const marker = r.of('memlogd').find((m) => m.sd['memlog@32473']?.lost !== undefined);
  assert.ok(marker, `a loss marker among ${JSON.stringify(r.of('memlogd').map((m) => m.msg))}`);
  assert.equal(marker.severity, 4);
  const lost = Number(marker.sd['memlog@32473'].lost);
  const got = numbers(r.of('svc'));
  // Every line is either received or counted as lost.
  assert.equal(new Set(got).size + lost >= 500, true, `${new Set(got).size} received + ${lost} lost`);
  assert.match(marker.msg, /svc/);
});

test('a destination that is down never holds another back; it gets everything once it is up', async (t) => {
  const dir = tmpdir(t);
  const d = await startDaemon(t, dir);
  const up = await receiver(t);
  const down = new SyslogReceiver();
  await down.start();
  await down.stop(); // its port, with nothing listening
  t.after(() => down.stop());
  const w = await numberedWriter(d.logSocket, 'svc');
  const f = startForwarder(t, d.querySocket, path.join(dir, 'state'), ['-to', `tcp://127.0.0.1:${up.port}`, '-to', `tcp://127.0.0.1:${down.port}`]);
  w.write(0, 3000);
  await waitFor('3000 lines at the live receiver', () => up.of('svc').length >= 3000);
  assert.match(f.stderr(), new RegExp(`tcp://127.0.0.1:${down.port}: cannot connect`));
  await down.start();
  await waitFor('3000 lines at the other once it is up', () => down.of('svc').length >= 3000, 60_000);
  assert.deepEqual(numbers(down.of('svc')), [...Array(3000).keys()]);
});

test('-source and -p select what is sent', async (t) => {
  const dir = tmpdir(t);
  const d = await startDaemon(t, dir, ['-stream-priority-prefix']);
  const r = await receiver(t);
  const a = await numberedWriter(d.logSocket, 'app.a');
  const b = await numberedWriter(d.logSocket, 'other');
  a.write(0, 5);
  b.write(0, 5);
  startForwarder(t, d.querySocket, path.join(dir, 'state'), ['-to', `tcp://127.0.0.1:${r.port}`, '-source', 'app.*']);
  a.write(5, 10);
  await waitFor('10 app.a lines', () => r.of('app.a').length >= 10);
  assert.equal(r.of('other').length, 0);
  assert.equal(r.of('memlogd').length, 0);

  const r2 = await receiver(t);
  const raw = await openStream(d.logSocket, 'levels');
  fs.writeSync(raw, '<3>first error\n<6>only info\n<7>debugging\n<4>a warning\n');
  startForwarder(t, d.querySocket, path.join(dir, 'state2'), ['-to', `tcp://127.0.0.1:${r2.port}`, '-p', 'warning']);
  await waitFor('the warning', () => r2.of('levels').some((m) => m.msg === 'a warning'));
  assert.deepEqual(
    r2.of('levels').map((m) => [m.msg, m.severity]),
    [
      ['first error', 3],
      ['a warning', 4],
    ],
  );
  fs.closeSync(raw);
});

test('bad command lines are told in one line, exit status 2', async () => {
  for (const [args, want] of [
    [[], /give at least one destination with -to URL/],
    [['-to', 'http://x:1'], /unknown scheme "http"/],
    [['-to', 'tcp://x'], /give a port/],
    [['-to', 'tcp://x:99999'], /port must be 1 to 65535|cannot read a host/],
    [['-to', 'tcp://x:1', '-facility', 'nope'], /invalid value "nope" for flag -facility/],
    [['-to', 'tcp://x:1', '-p', 'loud'], /invalid value "loud" for flag -p/],
    [['-to', 'tcp://x:1', '-tls-cert', 'c.pem'], /-tls-cert and -tls-key go together/],
  ] as const) {
    const res = await run(process.execPath, [BIN('memlog-forward'), ...args]);
    assert.equal(res.code, 2, `${args.join(' ')}: ${res.stderr}`);
    assert.match(res.stderr, want);
  }
});

test('memlog bundle holds the forwarder\'s cursors and says how far behind the ring each destination is', async (t) => {
  const dir = tmpdir(t);
  const d = await startDaemon(t, dir);
  const r = await receiver(t);
  const w = await numberedWriter(d.logSocket, 'svc');
  w.write(0, 50);
  const state = path.join(dir, 'state');
  const f = startForwarder(t, d.querySocket, state, ['-to', `tcp://127.0.0.1:${r.port}`]);
  await waitFor('50 lines', () => r.of('svc').length >= 50);
  await f.stop();
  w.write(50, 60); // 10 the forwarder has not sent
  await waitFor('60 lines in the ring', async () => (await dump(d.querySocket)).filter((e) => e.source === 'svc').length === 60);
  const out = path.join(dir, 'b.tar.gz');
  const res = await run(process.execPath, [BIN('memlog'), 'bundle', '-o', out, '-socket', d.querySocket, '-log-dir', path.join(dir, 'none'), '-kmsg', path.join(dir, 'none'), '-forward-state', state]);
  assert.equal(res.code, 0, res.stderr);
  const list = await run('tar', ['-xzf', out, '-C', dir]);
  assert.equal(list.code, 0, list.stderr);
  const top = fs.readdirSync(dir).find((n) => n.startsWith('memlog-bundle-')) as string;
  const cursors = fs.readdirSync(path.join(dir, top, 'forward'));
  assert.equal(cursors.length, 1);
  assert.deepEqual(fs.readFileSync(path.join(dir, top, 'forward', cursors[0])), fs.readFileSync(path.join(state, cursors[0])));
  const summary = JSON.parse(fs.readFileSync(path.join(dir, top, 'summary.json'), 'utf8')) as { forward: { url: string; behind: number }[] };
  assert.equal(summary.forward[0].url, `tcp://127.0.0.1:${r.port}`);
  assert.equal(summary.forward[0].behind, 10);
});

test('SIGTERM (a shutdown) sends what memlogd holds first, then exits 0', async (t) => {
  const dir = tmpdir(t);
  const d = await startDaemon(t, dir, ['-max-lines', '200000']);
  const r = await receiver(t);
  const w = await numberedWriter(d.logSocket, 'svc');
  const f = startForwarder(t, d.querySocket, path.join(dir, 'state'), ['-to', `tcp://127.0.0.1:${r.port}`]);
  w.write(0, 1);
  await waitFor('the first line', () => r.of('svc').length >= 1);
  // The receiver stops reading: the forwarder cannot have sent it all (25 MB) by the time it is told to stop.
  r.pause();
  w.write(1, 100_000);
  await waitFor('all of it in the ring', async () => (await dump(d.querySocket)).filter((e) => e.source === 'svc').length === 100_000);
  const stopped = f.stop('SIGTERM');
  r.resume();
  await stopped;
  assert.equal(f.proc.exitCode, 0, f.stderr());
  // Everything written before the shutdown is at the receiver once the forwarder has exited.
  await waitFor('the receiver has read it all', () => r.of('svc').length >= 100_000);
  assert.deepEqual(missingAndTwice(numbers(r.of('svc')), 100_000), { missing: [], twice: 0 });
});
