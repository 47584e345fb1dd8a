/**
 * The OTLP/HTTP sender against a receiver that decodes with the OpenTelemetry
 * JS packages: every record exact (time to the nanosecond, severity, body,
 * attributes), the receiver's answers (429 + Retry-After, 503, 400,
 * partial_success), otlps:// with a CA made here, and nothing left behind.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parseDestination } from '../src/forward/destination.js';
import type { ForwardEntry } from '../src/forward/entry.js';
import { encodeOtlpLogs, unixNanoDigits } from '../src/forward/otlp-encode.js';
import { parseRetryAfter } from '../src/forward/otlp-response.js';
import { SendError, type Sender, type TlsOptions } from '../src/forward/sender.js';
import { OtlpSender, type OtlpTuning } from '../src/forward/senders/otlp.js';
import { decodeLogsRequest, startOtlpReceiver, type DecodedLogRecord, type KeyValue, type OtlpReceiver } from './otlp-receiver.js';
import { fdCount, fdsBackTo, tmpdir, waitFor } from './helpers.js';
import { skipLoudly } from './peers.js';

const HOST = 'memlog-test-host';
const VERSION = '9.8.7';
const LEVELS = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'];
const OTEL = [21, 19, 18, 17, 13, 10, 9, 5];

/** Entries of every kind: all severities and none, times at the edges of a second, awkward text, loss markers. */
function makeEntries(n: number, seq0 = 0): ForwardEntry[] {
  const texts = ['plain', 'quote " and backslash \\', 'tab\tnew\nline\r', 'ctl \u0001\u001f', 'é ü 中文 😀', '', ' '.repeat(3), '{"json":true}', '\u2028\u2029'];
  const out: ForwardEntry[] = [];
  for (let i = 0; i < n; i++) {
    const sec = 1_700_000_000 + i * 37;
    const nsec = i % 5 === 0 ? 0 : i % 5 === 1 ? 999_999_999 : i % 5 === 2 ? 1 : (i * 7_654_321) % 1_000_000_000;
    const e: ForwardEntry = { time: '', sec, nsec, source: i % 3 === 0 ? 'kmsg' : `svc.${i % 17}`, msg: `${i}: ${texts[i % texts.length]}` };
    if (i % 9 !== 8) e.severity = i % 8;
    if (i % 4 !== 3) e.pid = 1000 + i;
    if (i % 6 !== 5) {
      e.seq = seq0 + i;
      e.daemon = 'd-1234abcd';
    }
    if (i % 2 === 0) e.facility = i % 24;
    if (i % 10 === 0) e.msgid = `ID${i}`;
    if (i % 250 === 7) {
      e.source = 'memlogd';
      e.lost = { from: i - 5, to: i, count: 5, sources: { x: 5 }, unknown: 0 };
    }
    out.push(e);
  }
  return out;
}

/** What the record must hold for the entry, every field, compared with what the OTel types decoded. */
function checkRecord(record: DecodedLogRecord, e: ForwardEntry): void {
  const nanos = (BigInt(e.sec) * 1_000_000_000n + BigInt(e.nsec)).toString();
  const severity = e.lost ? 4 : (e.severity ?? 6);
  const attrs: KeyValue[] = [{ key: 'memlog.source', value: { stringValue: e.source } }];
  if (e.pid !== undefined) attrs.push({ key: 'process.pid', value: { intValue: String(e.pid) } });
  if (e.daemon !== undefined) attrs.push({ key: 'memlog.daemon', value: { stringValue: e.daemon } });
  if (e.seq !== undefined) attrs.push({ key: 'memlog.seq', value: { intValue: String(e.seq) } });
  if (e.facility !== undefined) attrs.push({ key: 'syslog.facility', value: { intValue: String(e.facility) } });
  if (e.msgid !== undefined) attrs.push({ key: 'syslog.msgid', value: { stringValue: e.msgid } });
  if (e.lost) {
    attrs.push({ key: 'memlog.lost.count', value: { intValue: String(e.lost.count) } });
    attrs.push({ key: 'memlog.lost.from', value: { intValue: String(e.lost.from) } });
    attrs.push({ key: 'memlog.lost.to', value: { intValue: String(e.lost.to) } });
  }
  assert.deepStrictEqual(record, {
    timeUnixNano: nanos,
    observedTimeUnixNano: nanos,
    severityNumber: OTEL[severity],
    severityText: LEVELS[severity],
    body: { stringValue: e.msg },
    attributes: attrs,
  });
}

/**
 * Every entry arrived once, exact. Two requests in flight may be answered in
 * either order, so unless ordered, records are matched by the index that
 * starts each message.
 */
function checkAll(receiver: OtlpReceiver, entries: ForwardEntry[], ordered = false): void {
  assert.deepStrictEqual(receiver.errors, []);
  for (const r of receiver.accepted) {
    assert.deepStrictEqual(r.resourceAttributes, [{ key: 'host.name', value: { stringValue: HOST } }]);
    assert.deepStrictEqual(r.scope, { name: 'memlog', version: VERSION });
  }
  const records = receiver.records();
  assert.equal(records.length, entries.length);
  if (!ordered) records.sort((a, b) => parseInt(a.body?.stringValue ?? '', 10) - parseInt(b.body?.stringValue ?? '', 10));
  for (let i = 0; i < entries.length; i++) checkRecord(records[i], entries[i]);
}

function makeSender(url: string, tls: TlsOptions = {}, tuning: OtlpTuning = {}): OtlpSender & { reports: string[] } {
  const sender = new OtlpSender(
    { destination: parseDestination(url), message: { hostname: HOST, facility: 1 }, tls, connectTimeoutMs: 10_000 },
    { version: VERSION, ...tuning },
  );
  const reports: string[] = [];
  sender.onReport = (msg) => reports.push(msg);
  return Object.assign(sender, { reports });
}

/** What the forwarder does with a sender: batches of maxBatch, never more than window unacknowledged. */
async function pump(sender: Sender, entries: ForwardEntry[]): Promise<void> {
  const pending: Promise<void>[] = [];
  let unacked = 0;
  for (let i = 0; i < entries.length; i += sender.maxBatch) {
    const batch = entries.slice(i, i + sender.maxBatch);
    while (unacked + batch.length > sender.window) {
      await pending.shift();
      unacked -= sender.maxBatch;
    }
    pending.push(sender.send(batch));
    unacked += batch.length;
  }
  await Promise.all(pending);
}

async function rejection(p: Promise<unknown>): Promise<SendError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof SendError, `not a SendError: ${String(err)}`);
    return err;
  }
  assert.fail('expected a SendError');
}

test('encodeOtlpLogs: the OTel types decode every record exactly, time to the nanosecond', () => {
  const entries = makeEntries(3000);
  const decoded = decodeLogsRequest(encodeOtlpLogs(entries, { hostname: HOST, facility: 1 }, VERSION)) as {
    resourceLogs: { scopeLogs: { logRecords: DecodedLogRecord[] }[] }[];
  };
  assert.equal(decoded.resourceLogs.length, 1);
  assert.equal(decoded.resourceLogs[0].scopeLogs.length, 1);
  const records = decoded.resourceLogs[0].scopeLogs[0].logRecords;
  assert.equal(records.length, entries.length);
  for (let i = 0; i < entries.length; i++) checkRecord(records[i], entries[i]);
  // Past 2^53 ns: the digits come from the two integers, never from one JS number.
  assert.equal(unixNanoDigits(1_700_000_000, 123_456_789), '1700000000123456789');
  assert.equal(unixNanoDigits(9_007_199_254, 740_993_001), '9007199254740993001');
  assert.equal(unixNanoDigits(0, 5), '5');
  assert.equal(unixNanoDigits(-1, 5), '0');
});

test('parseRetryAfter: seconds, an HTTP date, nonsense, and a bound', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  assert.equal(parseRetryAfter('2', now), 2000);
  assert.equal(parseRetryAfter('Wed, 01 Jan 2025 00:00:07 GMT', now), 7000);
  assert.equal(parseRetryAfter('Tue, 31 Dec 2024 00:00:00 GMT', now), 0);
  assert.equal(parseRetryAfter('soon', now), undefined);
  assert.equal(parseRetryAfter(undefined, now), undefined);
  assert.equal(parseRetryAfter('99999999', now), 10 * 60_000);
});

test('otlp: 5,000 entries arrive, each record exact, batches of maxBatch, two in flight', async (t) => {
  const receiver = await startOtlpReceiver();
  t.after(() => receiver.close());
  const sender = makeSender(receiver.url);
  t.after(() => sender.destroy());
  await sender.open();
  assert.equal(sender.window, 2 * sender.maxBatch);
  const entries = makeEntries(5000);
  await pump(sender, entries);
  checkAll(receiver, entries);
  assert.equal(receiver.requests, Math.ceil(5000 / sender.maxBatch));
  assert.deepStrictEqual(sender.reports, []);
  await sender.close();
});

test('otlp: a batch past the body bound goes as several requests, all records in order', async (t) => {
  const receiver = await startOtlpReceiver();
  t.after(() => receiver.close());
  // 128 KiB bodies (64 KiB of them is the wrapping's room): a 2,048-entry batch needs several.
  const sender = makeSender(receiver.url, {}, { maxBodyBytes: 128 * 1024 });
  t.after(() => sender.destroy());
  await sender.open();
  const entries = makeEntries(2048).map((e) => ({ ...e, msg: `${e.msg} ${'x'.repeat(200)}` }));
  await sender.send(entries);
  checkAll(receiver, entries, true);
  assert.ok(receiver.requests > 2, `${receiver.requests} requests`);
  sender.destroy();
});

test('otlp: 429 with Retry-After rejects retryably with the wait; a new sender then delivers', async (t) => {
  const receiver = await startOtlpReceiver();
  t.after(() => receiver.close());
  const entries = makeEntries(100);
  receiver.answerNext(1, { status: 429, retryAfter: '3' });
  const first = makeSender(receiver.url);
  t.after(() => first.destroy());
  await first.open();
  const err = await rejection(first.send(entries));
  assert.equal(err.permanent, false);
  assert.equal(err.retryAfterMs, 3000);
  assert.match(err.message, /HTTP 429/);
  assert.match(err.message, new RegExp(`^${receiver.url}: `));
  // The sender is finished: what comes after fails the same way.
  assert.equal(await rejection(first.send(entries)), err);
  first.destroy();

  receiver.answerNext(1, { status: 429, retryAfter: new Date(Date.now() + 60_000).toUTCString() });
  const second = makeSender(receiver.url);
  t.after(() => second.destroy());
  await second.open();
  const dated = await rejection(second.send(entries));
  assert.ok(dated.retryAfterMs !== undefined && dated.retryAfterMs > 50_000 && dated.retryAfterMs <= 60_000, String(dated.retryAfterMs));
  second.destroy();

  const third = makeSender(receiver.url);
  t.after(() => third.destroy());
  await third.open();
  await third.send(entries);
  checkAll(receiver, entries);
  assert.equal(receiver.requests, 3);
  third.destroy();
});

test('otlp: 503 rejects retryably; a new sender then delivers', async (t) => {
  const receiver = await startOtlpReceiver();
  t.after(() => receiver.close());
  const entries = makeEntries(300);
  receiver.answerNext(1, { status: 503 });
  const first = makeSender(receiver.url);
  t.after(() => first.destroy());
  await first.open();
  const err = await rejection(first.send(entries));
  assert.equal(err.permanent, false);
  assert.equal(err.retryAfterMs, undefined);
  assert.match(err.message, /HTTP 503: unavailable/);
  first.destroy();

  const second = makeSender(receiver.url);
  t.after(() => second.destroy());
  await second.open();
  await second.send(entries);
  checkAll(receiver, entries);
  second.destroy();
});

test('otlp: a failed batch fails the one sent after it too, and sends resolve in order', async (t) => {
  const receiver = await startOtlpReceiver();
  t.after(() => receiver.close());
  const sender = makeSender(receiver.url, {}, { maxBatch: 100 });
  t.after(() => sender.destroy());
  await sender.open();
  receiver.answerNext(1, { status: 502 });
  const a = sender.send(makeEntries(100));
  const b = sender.send(makeEntries(100, 100));
  const [ea, eb] = await Promise.all([rejection(a), rejection(b)]);
  assert.equal(eb, ea);
  assert.match(ea.message, /HTTP 502/);
  sender.destroy();
});

test('otlp: 400 is reported once, the batch dropped and never retried', async (t) => {
  const receiver = await startOtlpReceiver();
  t.after(() => receiver.close());
  const sender = makeSender(receiver.url);
  t.after(() => sender.destroy());
  await sender.open();
  receiver.answerNext(1, { status: 400, message: 'field timeUnixNano: bad\nsecond line' });
  await sender.send(makeEntries(50));
  assert.equal(receiver.requests, 1);
  assert.equal(sender.reports.length, 1);
  assert.match(sender.reports[0], /refused 50 log records as invalid \(HTTP 400: field timeUnixNano: bad second line\); dropped/);
  assert.doesNotMatch(sender.reports[0], /\n/);
  // The sender goes on: the next batch is delivered.
  const next = makeEntries(10, 50);
  await sender.send(next);
  assert.equal(receiver.requests, 2);
  checkAll(receiver, next);
  sender.destroy();
});

test('otlp: 413 splits the batch in halves until the receiver takes them', async (t) => {
  const receiver = await startOtlpReceiver();
  t.after(() => receiver.close());
  const sender = makeSender(receiver.url);
  t.after(() => sender.destroy());
  await sender.open();
  receiver.answerNext(2, { status: 413, message: 'too big' });
  const entries = makeEntries(1000);
  await sender.send(entries);
  checkAll(receiver, entries, true);
  assert.deepStrictEqual(sender.reports, []);
  sender.destroy();
});

test('otlp: 404 is a permanent error naming the path, nothing dropped', async (t) => {
  const receiver = await startOtlpReceiver({ path: '/otlp/v1/logs' });
  t.after(() => receiver.close());
  const sender = makeSender(receiver.url);
  t.after(() => sender.destroy());
  await sender.open();
  const err = await rejection(sender.send(makeEntries(5)));
  assert.equal(err.permanent, true);
  assert.match(err.message, /HTTP 404: not found \(is the path right\?/);
  assert.deepStrictEqual(sender.reports, []);
  sender.destroy();
});

test('otlp: partial_success rejections are reported once per response, and the send resolves', async (t) => {
  const receiver = await startOtlpReceiver();
  t.after(() => receiver.close());
  const sender = makeSender(receiver.url);
  t.after(() => sender.destroy());
  await sender.open();
  receiver.answerNext(1, { status: 200, rejected: 3, message: 'three too old' });
  const entries = makeEntries(40);
  await sender.send(entries);
  assert.deepStrictEqual(sender.reports, [`${receiver.url}: the receiver rejected 3 of 40 log records: three too old`]);
  checkAll(receiver, entries);
  sender.destroy();
});

test('otlp: no answer within the request timeout is a retryable SendError', async (t) => {
  const receiver = await startOtlpReceiver();
  t.after(() => receiver.close());
  const sender = makeSender(receiver.url, {}, { requestTimeoutMs: 300 });
  t.after(() => sender.destroy());
  await sender.open();
  receiver.answerNext(1, { status: 'hang' });
  const err = await rejection(sender.send(makeEntries(5)));
  assert.equal(err.permanent, false);
  assert.match(err.message, /no answer within 0.3 s/);
  sender.destroy();
});

/** A CA, and a certificate it signs for localhost and 127.0.0.1, made with openssl; undefined if there is no openssl. */
function makeCerts(dir: string, name: string): { ca: string; key: string; cert: string } | undefined {
  const run = (args: string[]): boolean => spawnSync('openssl', args, { cwd: dir, stdio: 'ignore' }).status === 0;
  const p = (f: string): string => path.join(dir, `${name}-${f}`);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  fs.writeFileSync(p('ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  const ok =
    run(['req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '2', '-subj', `/CN=memlog test CA ${name}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']) &&
    run(['req', ...ec, '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', '/CN=localhost']) &&
    run(['x509', '-req', '-in', p('server.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p('server.pem'), '-days', '2', '-extfile', p('ext.cnf')]);
  return ok ? { ca: p('ca.pem'), key: p('server.key'), cert: p('server.pem') } : undefined;
}

test('otlps: verified with the CA made here; a wrong CA fails in one clear line; -insecure works and says so', async (t) => {
  const dir = tmpdir(t);
  const good = makeCerts(dir, 'good');
  const other = makeCerts(dir, 'other');
  if (!good || !other) return skipLoudly(t, 'openssl could not make test certificates (is it installed?)');
  const receiver = await startOtlpReceiver({ tls: { key: fs.readFileSync(good.key), cert: fs.readFileSync(good.cert) } });
  t.after(() => receiver.close());
  assert.match(receiver.url, /^otlps:\/\//);

  const verified = makeSender(receiver.url, { ca: good.ca });
  t.after(() => verified.destroy());
  await verified.open();
  const entries = makeEntries(3000);
  await pump(verified, entries);
  checkAll(receiver, entries);
  assert.deepStrictEqual(verified.reports, []);
  verified.destroy();

  // By name too: localhost is in the certificate.
  const byName = makeSender(`otlps://localhost:${receiver.port}`, { ca: good.ca });
  t.after(() => byName.destroy());
  await byName.open();
  byName.destroy();

  const wrong = makeSender(receiver.url, { ca: other.ca });
  t.after(() => wrong.destroy());
  const err = await rejection(wrong.open());
  assert.equal(err.permanent, true);
  assert.match(err.message, new RegExp(`^${receiver.url}: the server's certificate does not verify \\(.+\\); give the CA`));
  assert.doesNotMatch(err.message, /\n/);
  wrong.destroy();

  const wrongName = makeSender(receiver.url, { ca: good.ca, servername: 'elsewhere.example' });
  t.after(() => wrongName.destroy());
  const nameErr = await rejection(wrongName.open());
  assert.match(nameErr.message, /does not verify.*elsewhere\.example/);
  wrongName.destroy();

  const missing = makeSender(receiver.url, { ca: path.join(dir, 'nope.pem') });
  assert.match((await rejection(missing.open())).message, /cannot read the CA file .*nope\.pem/);
  missing.destroy();

  const insecure = makeSender(receiver.url, { ca: other.ca, insecure: true });
  t.after(() => insecure.destroy());
  await insecure.open();
  const more = makeEntries(10, 3000);
  await insecure.send(more);
  assert.equal(receiver.records().length, 3010);
  assert.deepStrictEqual(insecure.reports, [`${receiver.url}: not verifying the server's certificate (-tls-insecure)`]);
  insecure.destroy();
});

test('otlp: the receiver gone is a SendError, and neither that nor destroy() leaves an fd behind', async (t) => {
  const baseline = fdCount(process.pid);
  const receiver = await startOtlpReceiver();
  let closed = false;
  t.after(() => (closed ? undefined : receiver.close()));
  const sender = makeSender(receiver.url);
  t.after(() => sender.destroy());
  await sender.open();
  await sender.send(makeEntries(20));
  await receiver.close();
  closed = true;
  const err = await rejection(sender.send(makeEntries(20, 20)));
  assert.equal(err.permanent, false);
  assert.match(err.message, new RegExp(`^${receiver.url}: (connection refused|the receiver closed the connection)`));
  sender.destroy();
  await fdsBackTo(process.pid, baseline);

  // Refused at open, in one line.
  const late = makeSender(receiver.url);
  assert.match((await rejection(late.open())).message, /connection refused \(nothing listens on 127\.0\.0\.1 port \d+\)/);
  late.destroy();

  // destroy() with requests in flight: they reject, and nothing stays open.
  const hanging = await startOtlpReceiver();
  t.after(() => hanging.close());
  const busy = makeSender(hanging.url);
  await busy.open();
  hanging.answerNext(2, { status: 'hang' });
  const a = busy.send(makeEntries(10));
  const b = busy.send(makeEntries(10, 10));
  await waitFor('both requests at the receiver', () => hanging.requests === 2);
  busy.destroy();
  assert.match((await rejection(a)).message, /the sender was stopped/);
  assert.match((await rejection(b)).message, /the sender was stopped/);
  await hanging.close();
  await fdsBackTo(process.pid, baseline);
});
