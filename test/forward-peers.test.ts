/**
 * memlog forward, the real program, into real receivers: Debian's rsyslog
 * (imtcp, imtcp over TLS, imrelp, imrelp over TLS) and syslog-ng parse what
 * it sends into the right fields; over RELP, kill -9 of the forwarder and a
 * restart of rsyslog lose nothing and repeat only what was unacknowledged;
 * an OTLP receiver that decodes with the OpenTelemetry packages gets every
 * record, through a 503.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { startDaemon, tmpdir, waitFor } from './helpers.js';
import { peers, skipLoudly } from './peers.js';
import { receiverPeers, startRsyslog, type ReceivedMessage } from './rsyslog-receiver.js';
import { startSyslogNg } from './syslog-ng-receiver.js';
import { startOtlpReceiver } from './otlp-receiver.js';
import { killDuringFlow, missingAndTwice, numberedWriter, numbers, startForwarder } from './forward-helpers.js';

const RELP_WINDOW = 256;

test('rsyslog receives every entry over tcp, tls, relp and relp+tls at once, parsed into app-name, procid, severity and structured data', async (t) => {
  const found = await receiverPeers(['tcp', 'tls', 'relp', 'relp+tls']);
  if ('why' in found) return skipLoudly(t, found.why);
  const dir = tmpdir(t);
  const d = await startDaemon(t, dir);
  const r = await startRsyslog(path.join(dir, 'rsyslog'), { inputs: ['tcp', 'tls', 'relp', 'relp+tls'], rsyslogd: found.rsyslogd, t });
  const w = await numberedWriter(d.logSocket, 'svc');
  w.write(0, 2000);
  const p = r.ports;
  const f = startForwarder(t, d.querySocket, path.join(dir, 'state'), [
    '-to', `tcp://127.0.0.1:${p.tcp}`,
    '-to', `tls://localhost:${p.tls}`,
    '-to', `relp://127.0.0.1:${p.relp}`,
    '-to', `relp+tls://localhost:${p['relp+tls']}`,
    '-tls-ca', r.certs.caFile, '-tls-cert', r.certs.clientCertFile, '-tls-key', r.certs.clientKeyFile,
    '-facility', 'local1',
  ]);
  const svc = (input: ReceivedMessage['input']): ReceivedMessage[] => r.messages().filter((m) => m.input === input && m['app-name'] === 'svc');
  await waitFor('2000 entries on each input', () => (['tcp', 'tls', 'relp', 'relp+tls'] as const).every((i) => svc(i).length >= 2000), 120_000).catch((err: Error) => {
    throw new Error(`${err.message}\nforwarder: ${f.stderr()}\nrsyslog: ${r.diagnostics()}`);
  });
  for (const input of ['tcp', 'tls', 'relp', 'relp+tls'] as const) {
    const got = svc(input);
    assert.deepEqual(numbers(got), [...Array(2000).keys()], input);
    const m = got[0];
    assert.equal(m.procid, String(process.pid), input);
    assert.equal(m.severity, 6, input);
    assert.equal(m.facility, 17, input);
    assert.equal(m.hostname, 'testhost', input);
    assert.match(m.timereported, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/, input);
    const sd = /^\[meta sequenceId="(\d+)"\]\[memlog@32473 daemon="([^"]+)" seq="(\d+)" ns="(\d{9})"\]$/.exec(m['structured-data']);
    assert.ok(sd, `${input}: ${m['structured-data']}`);
    assert.equal(Number(sd[1]), Number(sd[3]) + 1);
    assert.equal(m.timereported.slice(20, 26), sd[4].slice(0, 6), 'the TIMESTAMP is the ns cut to microseconds');
  }
  assert.doesNotMatch(f.stderr(), /retrying/);

  // A server whose certificate the CA given does not sign: refused, said in one line, never sent to.
  const wrong = startForwarder(t, d.querySocket, path.join(dir, 'state-wrong'), ['-to', `tls://localhost:${p.tls}`, '-tls-ca', r.certs.clientCertFile]);
  await waitFor('the refusal', () => /certificate/.test(wrong.stderr()));
  assert.match(wrong.stderr(), new RegExp(`tls://localhost:${p.tls}: cannot connect .*-tls-ca`));
});

test('relp: kill -9 of the forwarder three times while 100,000 lines flow, then a restart of rsyslog: none lost, repeats only within the window', async (t) => {
  const found = await receiverPeers(['relp']);
  if ('why' in found) return skipLoudly(t, found.why);
  const dir = tmpdir(t);
  const d = await startDaemon(t, dir, ['-max-lines', '300000', '-max-bytes', '100000000']);
  const r = await startRsyslog(path.join(dir, 'rsyslog'), { inputs: ['relp'], rsyslogd: found.rsyslogd, t });
  const w = await numberedWriter(d.logSocket, 'flow', 'flow');
  const state = path.join(dir, 'state');
  const args = ['-to', `relp://127.0.0.1:${r.ports.relp}`, '-relp-window', String(RELP_WINDOW)];
  const flow = (): number[] => numbers(r.messages().filter((m) => m['app-name'] === 'flow'), 'flow');
  const total = 100_000;
  let written = await killDuringFlow(t, { querySocket: d.querySocket, stateDir: state, args, writer: w, rounds: 3, perRound: 20_000, received: () => flow().length, progress: 1000, timeoutMs: 120_000 });
  const f = startForwarder(t, d.querySocket, state, args);
  w.write(written, written + 20_000);
  written += 20_000;
  // rsyslog restarts mid-stream (an orderly restart: rsyslog itself loses what it queued on kill -9).
  const before = flow().length;
  await waitFor('lines flowing before the restart', () => flow().length > before + 1000, 120_000);
  await r.restart();
  w.write(written, total);
  await waitFor(`all ${total} lines`, () => missingAndTwice(flow(), total).missing.length === 0, 180_000).catch((err: Error) => {
    const { missing } = missingAndTwice(flow(), total);
    throw new Error(`${err.message}: ${missing.length} missing (first ${missing.slice(0, 5).join(', ')})\nforwarder: ${f.stderr()}`);
  });
  const { twice } = missingAndTwice(flow(), total);
  // Each kill and the restart may repeat at most what was sent and not yet acknowledged: one window each.
  assert.ok(twice <= 4 * RELP_WINDOW, `${twice} lines twice (window ${RELP_WINDOW})`);
  assert.match(f.stderr(), /delivering again/);
});

test('syslog-ng parses what the forwarder sends over tcp into its fields', async (t) => {
  const got = await peers(['syslog-ng']);
  if ('why' in got) return skipLoudly(t, got.why);
  const dir = tmpdir(t);
  const d = await startDaemon(t, dir);
  fs.mkdirSync(path.join(dir, 'ng'));
  const ng = await startSyslogNg(got.paths['syslog-ng'], path.join(dir, 'ng'));
  t.after(() => ng.stop());
  const w = await numberedWriter(d.logSocket, 'web.out');
  w.write(0, 500);
  startForwarder(t, d.querySocket, path.join(dir, 'state'), ['-to', `tcp://127.0.0.1:${ng.port}`, '-facility', 'daemon']);
  const web = async (): Promise<{ msg: string }[]> => (await ng.messages()).filter((m) => m.PROGRAM === 'web.out').map((m) => ({ ...m, msg: m.MSG }));
  await waitFor('500 messages at syslog-ng', async () => (await web()).length >= 500, 60_000);
  assert.deepEqual(numbers(await web()), [...Array(500).keys()]);
  const m = (await ng.messages()).find((x) => x.PROGRAM === 'web.out');
  assert.ok(m);
  assert.equal(m.PID, String(process.pid));
  assert.equal(m.LEVEL_NUM, '6');
  assert.equal(m.FACILITY_NUM, '3');
  assert.equal(m.HOST, 'testhost');
  assert.ok(m.SDATA?.['memlog@32473']?.daemon, JSON.stringify(m.SDATA));
  assert.equal(Number(m.SDATA?.meta?.sequenceId), Number(m.SDATA?.['memlog@32473']?.seq) + 1);
});

test('otlp: every entry reaches an OpenTelemetry receiver as a log record, through a 503 and a 429', async (t) => {
  const dir = tmpdir(t);
  const d = await startDaemon(t, dir);
  const rx = await startOtlpReceiver();
  t.after(() => rx.close());
  rx.answerNext(1, { status: 503 });
  rx.answerNext(1, { status: 429, retryAfter: '1' });
  const w = await numberedWriter(d.logSocket, 'svc');
  w.write(0, 3000);
  const f = startForwarder(t, d.querySocket, path.join(dir, 'state'), ['-to', rx.url]);
  const svc = (): { msg: string; attrs: Record<string, unknown> }[] =>
    rx.records().flatMap((rec) => {
      const r = rec as unknown as { body?: { stringValue?: string }; attributes?: { key: string; value: Record<string, unknown> }[] };
      const attrs = Object.fromEntries((r.attributes ?? []).map((a) => [a.key, Object.values(a.value)[0]]));
      return attrs['memlog.source'] === 'svc' ? [{ msg: r.body?.stringValue ?? '', attrs }] : [];
    });
  await waitFor('3000 records', () => missingAndTwice(numbers(svc()), 3000).missing.length === 0, 60_000);
  assert.deepEqual(rx.errors, []);
  assert.ok(rx.requests >= 3, 'the 503 and the 429 were answered, then the batch again');
  const first = svc()[0].attrs;
  assert.equal(String(first['process.pid']), String(process.pid));
  assert.equal(typeof first['memlog.daemon'], 'string');
  // Two requests are in flight: whichever answer comes first (503 or 429) is the one told.
  assert.match(f.stderr(), /otlp:\/\/127\.0\.0\.1:\d+: .*(503|429)/);
  assert.equal(f.stderr().match(/retrying/g)?.length, 1, `one message for the outage:\n${f.stderr()}`);
});
