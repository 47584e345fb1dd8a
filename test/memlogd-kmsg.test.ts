/**
 * memlogd -kmsg: memlogd reads the kernel log itself. Its entries must be
 * those of the pipeline it replaces (`logwrite -n kmsg memlog-kmsg`), with
 * each record's level and facility as their severity and facility; a device
 * it cannot read costs one line on stderr and nothing else; and a read that
 * waits for the kernel never keeps memlogd from stopping on SIGTERM.
 *
 * The captured records are test/fixtures/kmsg-records.txt (see kmsg.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { KmsgSplitter, parseKmsgRecord, type KmsgRecord } from '../src/kmsg/record.js';
import { Memlogd } from '../src/daemon/memlogd.js';
import { mkfifo } from '../src/native.js';
import type { WireEntry } from '../src/clients/query-client.js';
import { BIN, ROOT, dump, fdCount, fdsBackTo, messagesOf, openStream, run, startDaemon, tmpdir, waitFor } from './helpers.js';
import { skipLoudly } from './peers.js';

const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'kmsg-records.txt');

type Entry = WireEntry & { severity?: number; facility?: number };

/** The fixture's records, in order. */
function fixtureRecords(): KmsgRecord[] {
  const out: KmsgRecord[] = [];
  const splitter = new KmsgSplitter((bytes) => {
    const record = parseKmsgRecord(bytes);
    assert.ok(record, bytes.toString());
    out.push(record);
  });
  splitter.push(fs.readFileSync(FIXTURE));
  splitter.end();
  return out;
}

const RECORD_LINE = /^\((\d+)\) - (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z: /;

/**
 * A record's first line with its time taken out, and the time in ns. Each
 * process reckons the boot time from /proc/uptime (10 ms steps) when it
 * starts, so two processes may put every time a few ms apart: the texts are
 * compared without it, the times by their distances from the first.
 */
function splitTime(line: string): { text: string; ns: bigint | undefined } {
  const m = RECORD_LINE.exec(line);
  if (!m) return { text: line, ns: undefined };
  const ns = BigInt(Date.parse(`${m[2]}Z`)) * 1_000_000n + BigInt((m[3] ?? '').padEnd(9, '0'));
  return { text: `(${m[1]}) - TIME: ${line.slice(m[0].length)}`, ns };
}

/** Texts without times, and the times relative to the first record's. */
function normalise(lines: string[]): { texts: string[]; offsets: bigint[]; first: bigint } {
  const parts = lines.map(splitTime);
  const times = parts.map((p) => p.ns).filter((ns): ns is bigint => ns !== undefined);
  assert.ok(times.length > 0, 'some record lines');
  return { texts: parts.map((p) => p.text), offsets: times.map((ns) => ns - times[0]), first: times[0] };
}

/** The kmsg entries as logread shows them (-o json). */
async function logreadKmsg(querySocket: string): Promise<Entry[]> {
  const r = await run(process.execPath, [BIN('logread'), '-socket', querySocket, '-source', 'kmsg', '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Entry);
}

/** Sends SIGTERM and waits for the exit, failing (not hanging) if it does not come within the deadline. */
async function stopWithin(proc: ChildProcess, deadlineMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  proc.kill('SIGTERM');
  try {
    await waitFor(`memlogd to exit within ${deadlineMs} ms of SIGTERM`, () => proc.exitCode !== null || proc.signalCode !== null, deadlineMs);
  } finally {
    // A memlogd that hangs must not outlive the test.
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  }
  return { code: proc.exitCode, signal: proc.signalCode };
}

test('memlogd -kmsg -kmsg-device FILE: the entries of `logwrite -n kmsg memlog-kmsg`, with each record\'s severity and facility', async (t) => {
  const records = fixtureRecords();
  const direct = await startDaemon(t, tmpdir(t), ['-kmsg', '-kmsg-device', FIXTURE]);

  // What memlog-kmsg prints, and what the pipeline made of it in a memlogd of its own.
  const printed = await run(process.execPath, [BIN('memlog-kmsg'), '-device', FIXTURE, '-follow=false']);
  assert.equal(printed.code, 0, printed.stderr);
  const printedLines = printed.stderr.split('\n');
  assert.equal(printedLines.pop(), '');
  assert.equal(printedLines.length, 36, 'the fixture prints 36 lines');
  const piped = await startDaemon(t, tmpdir(t));
  const launched = await run(process.execPath, [BIN('logwrite'), '-socket', piped.logSocket, '-n', 'kmsg', process.execPath, BIN('memlog-kmsg'), '-device', FIXTURE, '-follow=false']);
  assert.equal(launched.code, 0, launched.stderr);
  const pipedMsgs = await waitFor('the pipeline\'s 36 entries', async () => {
    const m = messagesOf(await dump(piped.querySocket), 'kmsg');
    return m.length >= 36 && m;
  });

  const entries = await waitFor('memlogd -kmsg\'s 36 entries', async () => {
    const got = await logreadKmsg(direct.querySocket);
    return got.length >= 36 && got;
  });
  assert.equal(entries.length, 36);
  const msgs = entries.map((e) => e.msg);
  const mine = normalise(msgs);
  // The same entries as the pipeline's, times apart.
  assert.deepEqual(mine.texts, normalise(pipedMsgs).texts);
  assert.deepEqual(mine.offsets, normalise(pipedMsgs).offsets);
  // And memlog-kmsg's lines, as memlogd cuts any stream: a CR before the newline goes (record 347 ends in one).
  const theirs = normalise(printedLines.map((l) => l.replace(/\r$/, '')));
  assert.deepEqual(mine.texts, theirs.texts);
  assert.deepEqual(mine.offsets, theirs.offsets);
  assert.ok(msgs.some((m) => m.endsWith('tab and a CR')), 'record 347, its CR gone');
  // Both reckon the same boot time, give or take /proc/uptime's steps.
  const apart = mine.first - theirs.first;
  assert.ok(apart > -2_000_000_000n && apart < 2_000_000_000n, `${apart} ns apart`);

  // Each line carries its record's level and facility, continuation lines of a message too.
  const expected: [number, number][] = [];
  for (const r of records) for (let i = 0; i < r.message.split('\n').length; i++) expected.push([r.level, r.facility]);
  assert.deepEqual(entries.map((e) => [e.severity, e.facility]), expected);
  assert.deepEqual(entries.filter((e) => e.msg.startsWith('(346) - ')).map((e) => [e.severity, e.facility]), [[6, 3]], 'daemon.info, written from user space');
  assert.ok(entries.every((e) => e.source === 'kmsg'));

  // logread -p picks them by severity: err and worse are records 113 (emerg) and 349 (err, three lines).
  const urgent = await run(process.execPath, [BIN('logread'), '-socket', direct.querySocket, '-source', 'kmsg', '-p', 'err', '-o', 'cat']);
  assert.equal(urgent.code, 0, urgent.stderr);
  assert.deepEqual(normalise(urgent.stdout.trimEnd().split('\n')).texts, [
    '(113) - TIME: RDSEED32 is broken. Disabling the corresponding CPUID bit.',
    '(349) - TIME: usb 1-1: line one',
    'line two',
    'line three',
  ]);
  assert.equal(direct.stderr(), '', 'nothing said on stderr');
  assert.equal(await direct.stop(), 0);
});

test('memlogd -kmsg with a device that does not exist: one line on stderr, and everything else is served', async (t) => {
  const dir = tmpdir(t);
  const missing = path.join(dir, 'no-kmsg');
  const daemon = await startDaemon(t, dir, ['-kmsg', '-kmsg-device', missing]);
  const line = `memlogd: -kmsg: cannot read ${missing}: no such file or directory; the kernel log is not collected\n`;
  await waitFor('the line on stderr', () => daemon.stderr() === line);
  const fd = await openStream(daemon.logSocket, 'svc');
  fs.writeSync(fd, 'still logging\n');
  fs.closeSync(fd);
  await waitFor('the stream\'s line', async () => messagesOf(await dump(daemon.querySocket), 'svc').length === 1);
  const r = await run(process.execPath, [BIN('logread'), '-socket', daemon.querySocket, '-o', 'cat']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.split('\n'), [
    'memlogd started',
    `-kmsg: cannot read ${missing}: no such file or directory; the kernel log is not collected`,
    'still logging',
    '',
  ]);
  assert.equal(await daemon.stop(), 0);
  assert.equal(daemon.stderr(), line, 'one line, once');
});

test('memlogd -kmsg on a FIFO whose writer sends nothing more: SIGTERM ends memlogd promptly, exit 0', { timeout: 60_000 }, async (t) => {
  const dir = tmpdir(t);
  const fifo = path.join(dir, 'kmsg.fifo');
  mkfifo(fifo, 0o600);
  const daemon = await startDaemon(t, dir, ['-kmsg', '-kmsg-device', fifo]);
  // A writer that stays: a blocking read would now wait for data that never comes.
  const writer = await waitFor('memlogd to have the FIFO open for reading', () => {
    try {
      return fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    } catch {
      return undefined;
    }
  });
  try {
    // The first record is complete once the second starts: read without waiting for the FIFO to go quiet.
    fs.writeSync(writer, '3,7,1000000,-;the first record\n6,8,1000001,-;and a second\n');
    await waitFor('the first record', async () => messagesOf(await dump(daemon.querySocket), 'kmsg').some((m) => m.endsWith(': the first record')));
    const exit = await stopWithin(daemon.proc, 10_000);
    assert.deepEqual(exit, { code: 0, signal: null }, daemon.stderr());
  } finally {
    fs.closeSync(writer);
    // A memlogd stuck in a read must not outlive the test, nor keep its end (daemon.stop) waiting.
    if (daemon.proc.exitCode === null && daemon.proc.signalCode === null) daemon.proc.kill('SIGKILL');
  }
});

test('memlogd as a library: -kmsg leaves no fd open, whether the device opened or not', { timeout: 60_000 }, async (t) => {
  const dir = tmpdir(t);
  const fifo = path.join(dir, 'kmsg.fifo');
  mkfifo(fifo, 0o600);
  // A first round with a file (followed with fs.watch) leaves what stays for the process's life: the event loop's
  // one inotify fd, and whatever the first daemon opens for good. What is counted is what each round leaves more.
  let baseline = 0;
  for (const [i, device] of [FIXTURE, FIXTURE, fifo, path.join(dir, 'missing'), dir].entries()) {
    if (i === 1) baseline = fdCount(process.pid);
    const warnings: string[] = [];
    const daemon = await Memlogd.start({
      socketLog: path.join(dir, `log${i}.sock`),
      socketQuery: path.join(dir, `query${i}.sock`),
      kmsgDevice: device,
      warn: (w) => warnings.push(w),
    });
    try {
      if (device === FIXTURE) await waitFor('the records', () => daemon.ring.count > 36);
      else if (device !== fifo) assert.deepEqual(warnings.length, 1, device);
    } finally {
      await daemon.close();
    }
  }
  await fdsBackTo(process.pid, baseline);
});

test('memlogd -kmsg on the live /dev/kmsg: its records, a new one as it comes, and SIGTERM still ends memlogd promptly', { timeout: 60_000 }, async (t) => {
  let problem: string | undefined;
  try {
    fs.closeSync(fs.openSync('/dev/kmsg', fs.constants.O_RDONLY | fs.constants.O_NONBLOCK));
  } catch (err) {
    problem = `/dev/kmsg is not readable here (${(err as Error).message})`;
  }
  if (problem) return skipLoudly(t, problem);
  const daemon = await startDaemon(t, tmpdir(t), ['-kmsg']);
  try {
    const first = await waitFor('a kmsg entry', async () => (await logreadKmsg(daemon.querySocket))[0]);
    assert.match(first.msg, RECORD_LINE);
    assert.ok(first.severity !== undefined && first.facility !== undefined, JSON.stringify(first));
    // Following at the end: a record written now arrives too (writing needs root, as reading did here).
    const marker = `memlog test ${process.pid} ${Date.now()}`;
    try {
      fs.writeFileSync('/dev/kmsg', `<12>${marker}\n`);
      const got = await waitFor('the record just written', async () => (await logreadKmsg(daemon.querySocket)).find((e) => e.msg.endsWith(`: ${marker}`)));
      assert.deepEqual([got.severity, got.facility], [4, 1], 'user.warning');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EACCES' && (err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
      t.diagnostic('/dev/kmsg is not writable here: following at the end not checked');
    }
    assert.equal(daemon.stderr(), '');
    const exit = await stopWithin(daemon.proc, 10_000);
    assert.deepEqual(exit, { code: 0, signal: null }, daemon.stderr());
  } finally {
    // A memlogd stuck in a read must not outlive the test, nor keep its end (daemon.stop) waiting.
    if (daemon.proc.exitCode === null && daemon.proc.signalCode === null) daemon.proc.kill('SIGKILL');
  }
});
