/**
 * memlogd's syslog sockets with real senders (util-linux logger) and with
 * hand-made datagrams: what each message becomes, and that bad input is
 * either an entry or a counted refusal while everything else keeps flowing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { sendFdsAsync, socketpair } from '../src/native.js';
import type { WireEntry } from '../src/clients/query-client.js';
import { BIN, dump, fdCount, fdsBackTo, messagesOf, openStream, run, startDaemon, tmpdir, waitFor } from './helpers.js';

type Entry = WireEntry & Record<string, unknown>;

const LOGGER = '/usr/bin/logger';
const hasLogger = fs.existsSync(LOGGER);

async function entries(querySocket: string): Promise<Entry[]> {
  return (await dump(querySocket)) as Entry[];
}

async function status(querySocket: string): Promise<Record<string, any>> {
  const r = await run(process.execPath, [BIN('memlog'), 'status', '-socket', querySocket]);
  assert.equal(r.code, 0, r.stderr);
  // The status is free-form JSON: the test reads the fields it names.
  return JSON.parse(r.stdout) as Record<string, any>;
}

/** Runs logger to completion; resolves with its pid. */
function logger(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const proc = spawn(LOGGER, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.on('error', reject);
    proc.on('close', (code) => (code === 0 ? resolve(proc.pid as number) : reject(new Error(`logger ${args.join(' ')}: exit ${code}: ${stderr}`))));
  });
}

function syslogDaemon(t: Parameters<typeof tmpdir>[0] & { after(fn: () => void | Promise<void>): void }, dir: string, flags: string[] = []) {
  const devLog = path.join(dir, 'dev-log');
  const stream = path.join(dir, 'syslog-stream');
  return startDaemon(t, dir, ['-socket-syslog', devLog, '-syslog-stream', stream, ...flags]).then((daemon) => ({ daemon, devLog, stream }));
}

test('syslog datagrams from logger: one entry each, the tag as source, the kernel-reported sender, severity and facility, the header as fields', { skip: !hasLogger && 'no util-linux logger' }, async (t) => {
  const dir = tmpdir(t);
  const { daemon, devLog } = await syslogDaemon(t, dir);
  // The /dev/log convention: anyone may write.
  assert.equal(fs.statSync(devLog).mode & 0o777, 0o666);
  const pid3164 = await logger(['-u', devLog, '-t', 'myapp', '-p', 'local3.err', '--id=4242', 'disk is on fire']);
  const pid5424 = await logger(['-u', devLog, '--rfc5424', '-t', 'app5', '-p', 'daemon.warning', '--msgid', 'ID47', '--sd-id', 'x@1', '--sd-param', 'a="b"', 'structured hello']);
  const pidNoTag = await logger(['-u', devLog, '-t', '', 'no tag here']);
  const got = await waitFor('three syslog entries', async () => {
    const all = await entries(daemon.querySocket);
    return all.filter((e) => e.transport === 'syslog').length >= 3 ? all : undefined;
  });
  const a = got.find((e) => e.msg === 'disk is on fire') as Entry;
  assert.equal(a.source, 'myapp');
  assert.equal(a.pid, pid3164, 'the pid is the kernel’s, not the one claimed');
  assert.equal(a.claimedPid, 4242);
  assert.equal(a.uid, process.getuid?.());
  assert.equal(a.severity, 3);
  assert.equal(a.facility, 19);
  assert.equal(a.transport, 'syslog');
  assert.equal(typeof a.timestamp, 'string');
  const b = got.find((e) => e.msg === 'structured hello') as Entry;
  assert.equal(b.source, 'app5');
  assert.equal(b.pid, pid5424);
  assert.equal(b.severity, 4);
  assert.equal(b.facility, 3);
  assert.equal(b.msgid, 'ID47');
  assert.match(String(b.sd), /\[x@1 a="b"\]/);
  assert.equal(b.claimedPid, undefined, 'logger sends its own pid: nothing claimed differs');
  const c = got.find((e) => e.msg.includes('no tag here'));
  assert.ok(c, 'the message without a tag is an entry');
  assert.equal(c.source, 'syslog', 'no tag: source syslog');
  assert.equal(c.pid, pidNoTag);
});

test('syslog over the stream socket: octet-counted and newline-framed messages from logger -T, the peer from SO_PEERCRED', { skip: !hasLogger && 'no util-linux logger' }, async (t) => {
  const dir = tmpdir(t);
  const { daemon, stream } = await syslogDaemon(t, dir);
  const counted = await logger(['-T', '-u', stream, '--octet-count', '-t', 'counted', 'first by octet count']);
  const framed = await logger(['-T', '-u', stream, '-t', 'framed', 'by newline']);
  // Several messages in one connection, both framings mixed, one split across writes.
  const conn = net.connect(stream);
  await new Promise((r) => conn.once('connect', r));
  const m1 = '<13>mixed: one';
  const m2 = '<13>mixed: two\nwith a newline inside';
  conn.write(`${m1}\n${Buffer.byteLength(m2)} ${m2.slice(0, 10)}`);
  await waitFor('the first mixed message', async () => messagesOf(await entries(daemon.querySocket), 'mixed').includes('one'));
  conn.end(`${m2.slice(10)}<13>mixed: three\0`);
  const got = await waitFor('all stream messages', async () => {
    const all = await entries(daemon.querySocket);
    return messagesOf(all, 'mixed').length === 3 && messagesOf(all, 'framed').length === 1 && messagesOf(all, 'counted').length === 1 ? all : undefined;
  });
  // An octet-counted message may hold a newline: one entry still, the break escaped as rsyslog writes it.
  assert.deepEqual(messagesOf(got, 'mixed'), ['one', 'two#012with a newline inside', 'three']);
  const c = got.find((e) => e.source === 'counted') as Entry;
  assert.equal(c.pid, counted);
  assert.equal(c.transport, 'syslog-stream');
  assert.equal((got.find((e) => e.source === 'framed') as Entry).pid, framed);
  assert.equal((got.find((e) => e.source === 'mixed') as Entry).pid, process.pid);
});

test('bad syslog input: each datagram is an entry or a counted refusal; fds are closed; the fd stream keeps flowing', async (t) => {
  const dir = tmpdir(t);
  const { daemon, devLog, stream } = await syslogDaemon(t, dir, ['-max-lines', '50000']);
  const baseline = fdCount(daemon.pid);
  const fdStream = await openStream(daemon.logSocket, 'steady');
  let n = 0;
  const tick = setInterval(() => fs.writeSync(fdStream, `steady ${n++}\n`), 5);
  t.after(() => clearInterval(tick));
  const send = (payload: Buffer | string, fds: number[] = []): Promise<void> => sendFdsAsync(devLog, Buffer.from(payload), fds);

  await send('');
  const garbage = Buffer.alloc(65536);
  for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919 + 13) & 0xff;
  await send(garbage);
  await send(Buffer.from([0x3c, 0x31, 0x34, 0x3e, 0x62, 0x61, 0x64, 0x3a, 0x20, 0xff, 0xfe, 0xc3, 0x28, 0x0a])); // <14>bad: + invalid UTF-8
  await send(Buffer.from('<14>nul: a\0b\0c'));
  await send('<999>pri too big');
  await send('<-1>pri negative');
  await send('<');
  await send('<14>1 2026-12-02T21:00:00Z host brokensd 1 - [x@1 a="b" unterminated');
  await send(`<14>${'T'.repeat(500)}: long tag`);
  await send('<14>multi: first line\nforged;line\r\nthird\n');
  const [mine, theirs] = socketpair();
  await send('<14>withfds: fds came along', [theirs, mine]);
  fs.closeSync(mine);
  fs.closeSync(theirs);
  // A stream whose framing cannot be followed is closed, counted.
  const conn = net.connect(stream);
  conn.on('error', () => {});
  conn.write('99999999 <14>too long a count');
  await new Promise((r) => conn.once('close', r));

  const got = await waitFor('the bad datagrams to be taken', async () => {
    const s = await status(daemon.querySocket);
    return s.syslog.datagrams >= 10 && s.syslog.refused.framing === 1 ? s : undefined;
  });
  assert.equal(got.syslog.refused.empty, 1);
  assert.equal(got.syslog.refused.fds, 1);
  assert.equal(got.syslog.fdsClosed, 2);
  const all = await entries(daemon.querySocket);
  const syslogEntries = all.filter((e) => e.transport === 'syslog');
  assert.equal(syslogEntries.length, 10);
  // Line breaks inside a message would forge lines in text output and the persister's files: escaped as rsyslog does.
  assert.ok(syslogEntries.some((e) => e.source === 'multi' && e.msg === 'first line#012forged;line#015#012third'));
  assert.ok(syslogEntries.some((e) => e.source === 'bad' && e.msg.includes('\ufffd')), 'invalid UTF-8 shows as U+FFFD');
  assert.ok(syslogEntries.some((e) => e.source === 'nul' && e.msg === 'a\0b\0c'), 'NULs are kept, escaped');
  for (const text of ['<999>pri too big', '<-1>pri negative', '<']) {
    const e = syslogEntries.find((x) => x.msg === text);
    assert.ok(e, `"${text}" is an entry as sent`);
    assert.equal(e.severity, 5, 'no valid PRI: user.notice');
    assert.equal(e.facility, 1);
  }
  assert.ok(syslogEntries.some((e) => e.source === 'T'.repeat(500) && e.msg === 'long tag'));
  assert.ok(syslogEntries.some((e) => e.source === 'withfds' && e.msg === 'fds came along'));
  const big = syslogEntries.find((e) => e.source === 'syslog' && Buffer.byteLength(e.msg) > 1000);
  assert.ok(big, 'the garbage is one entry, cut to -max-line-len');
  assert.ok(all.some((e) => e.source === 'memlogd' && /fds passed with a syslog datagram/.test(e.msg)));
  assert.ok(all.some((e) => e.source === 'memlogd' && /framing could not be followed/.test(e.msg)));
  // Meanwhile the fd stream kept flowing.
  const before = n;
  await waitFor('steady lines after the bad input', async () => messagesOf(await entries(daemon.querySocket), 'steady').includes(`steady ${before + 5}`));
  clearInterval(tick);
  fs.closeSync(fdStream);
  await fdsBackTo(daemon.pid, baseline);
});

test('10,000 datagrams from 1,000 processes: each an entry with its pid; their sources are freed once the ring has moved on', { skip: !hasLogger && 'no util-linux logger' }, async (t) => {
  const dir = tmpdir(t);
  const { daemon, devLog } = await syslogDaemon(t, dir, ['-max-lines', '12000']);
  const baseline = fdCount(daemon.pid);
  const lines = path.join(dir, 'ten');
  fs.writeFileSync(lines, Array.from({ length: 10 }, (_, i) => `burst line ${i}`).join('\n') + '\n');
  const steady = await openStream(daemon.logSocket, 'steady');
  // 1,000 short-lived loggers, 50 at a time; each sends the 10 lines as 10 datagrams from its own pid.
  const script = `i=0; while [ $i -lt 1000 ]; do j=0; while [ $j -lt 50 ]; do ${LOGGER} -u "$1" -t burst -f "$2" & j=$((j+1)); done; wait; i=$((i+50)); done`;
  const writer = spawn('sh', ['-c', script, 'sh', devLog, lines], { stdio: 'ignore' });
  let k = 0;
  while (writer.exitCode === null) {
    fs.writeSync(steady, `steady ${k++}\n`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const all = await waitFor('10,000 burst entries', async () => {
    const got = await entries(daemon.querySocket);
    return got.filter((e) => e.source === 'burst').length === 10_000 ? got : undefined;
  }, 60_000);
  const pids = new Set(all.filter((e) => e.source === 'burst').map((e) => e.pid));
  assert.equal(pids.size, 1000);
  assert.ok(messagesOf(all, 'steady').length >= Math.min(k, 10), 'the fd stream kept flowing');
  const during = await status(daemon.querySocket);
  assert.ok(during.ring.sources >= 1000);
  // Push them out of the ring, and out of the ring's record of whose entries it dropped (the last
  // 4096 runs of one source): their sources go with them.
  fs.writeSync(steady, Array.from({ length: 13_000 }, (_, i) => `flush ${i}`).join('\n') + '\n');
  for (let i = 0; i < 5000; i++) await sendFdsAsync(devLog, Buffer.from(`<14>${i % 2 ? 'odd' : 'even'}: ${i}`), []);
  fs.writeSync(steady, Array.from({ length: 13_000 }, (_, i) => `flush again ${i}`).join('\n') + '\n');
  const after = await waitFor('the burst sources freed', async () => {
    const s = await status(daemon.querySocket);
    return s.ring.sources < 10 ? s : undefined;
  });
  assert.ok(!after.ringSources.some((s: { source: string }) => s.source === 'burst'));
  fs.closeSync(steady);
  await fdsBackTo(daemon.pid, baseline);
});
