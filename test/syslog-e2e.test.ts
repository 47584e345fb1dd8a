/**
 * Syslog end to end, through a real memlogd: the corpus (test/syslog-corpus.ts)
 * sent to memlogd's sockets and to a private rsyslogd in the same test, each
 * message compared as both made it; the real senders (test/syslog-senders.ts)
 * into memlogd, read back with the real logread; a service under `memlog init`
 * logging with logger. Peers come from test/peers.ts: a missing one makes its
 * test skip, loudly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { startRsyslog } from '../bench/rsyslog.js';
import { sendFdsAsync } from '../src/native.js';
import type { WireEntry } from '../src/clients/query-client.js';
import { BIN, dump, run, startDaemon, tmpdir, waitFor } from './helpers.js';
import { startInit, writeConfig } from './init-helpers.js';
import { mountNamespaceProblem, peers, skipLoudly } from './peers.js';
import { SYSLOG_CORPUS, type SyslogCase } from './syslog-corpus.js';
import { devLogScript, runSender, SENDERS, type Sender } from './syslog-senders.js';

type Entry = WireEntry & Record<string, unknown>;
type TestContext = Parameters<typeof tmpdir>[0] & { after(fn: () => void | Promise<void>): void };

/** What is compared of one message: the fields a user reads off an entry, and rsyslog's. */
interface View {
  facility?: number | 'invld';
  severity?: number;
  tag?: string;
  pid?: string;
  /** As text: invalid UTF-8 as U+FFFD, control characters as #ooo (rsyslog's escaping on receipt). */
  msg: string;
}

/** The corpus's 60 KB message is kept whole. */
const MAX_LINE_LEN = 65536;

async function syslogDaemon(t: TestContext, dir: string) {
  const devLog = path.join(dir, 'dev-log');
  const stream = path.join(dir, 'syslog-stream');
  const daemon = await startDaemon(t, dir, ['-socket-syslog', devLog, '-syslog-stream', stream, '-max-line-len', String(MAX_LINE_LEN)]);
  return { daemon, devLog, stream };
}

function text(s: string | Buffer): string {
  const decoded = typeof s === 'string' ? s : s.toString('utf8');
  // eslint-disable-next-line no-control-regex
  return decoded.replace(/[\u0000-\u001f\u007f]/g, (ch) => `#${ch.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

/**
 * memlogd's entry as a view. memlogd writes a claimed pid only where it differs from the kernel's (a
 * number where it is one): where the text claimed the kernel's own pid, that is what it claimed.
 */
function memlogdView(e: Entry, k: SyslogCase): View {
  const claimed = e.claimedPid !== undefined ? String(e.claimedPid) : k.pid === String(e.pid) ? k.pid : undefined;
  return { facility: e.facility as number, severity: e.severity as number, tag: e.source === 'syslog' ? undefined : e.source, pid: claimed, msg: text(e.msg) };
}

/** What the corpus says memlogd makes of a case: the parser's fields, user.notice without a PRI. */
function expectedEntry(k: SyslogCase): View {
  return { facility: k.facility ?? 1, severity: k.severity ?? 5, tag: k.tag, pid: k.pid, msg: text(k.msg) };
}

/** One line of rsyslog's 'fields' output (read as latin1, to keep every byte) as a view. */
function rsyslogView(line: string): View & { raw: string } {
  const j = JSON.parse(line) as Record<string, string>;
  const utf8 = (s: string): string => Buffer.from(s, 'latin1').toString('utf8');
  // syslogtag is TAG[PID]: as sent; the tag is what precedes the [PID] and the colon.
  const tag = utf8(j.tag.replace(/:$/, '').replace(/\[[^\]]*\]$/, ''));
  let msg = j.msg;
  // rsyslog keeps the space after "TAG:" of a 3164 message, and a 5424 BOM; an entry's message starts after them.
  if (j.proto !== '1' && msg.startsWith(' ')) msg = msg.slice(1);
  msg = msg.replace(/^\xef\xbb\xbf/, '');
  return {
    facility: j.facility === 'invld' ? 'invld' : Number(j.facility),
    severity: Number(j.severity),
    tag: tag === '' || tag === '-' ? undefined : tag,
    pid: j.procid === '-' || j.procid === '' ? undefined : j.procid,
    msg: utf8(msg),
    raw: j.raw,
  };
}

/** rsyslog's view of a case, given memlogd's: the same, but for what the corpus documents rsyslog sees otherwise. */
function rsyslogExpected(ours: View, k: SyslogCase): View {
  if (typeof k.rsyslog !== 'object') return ours;
  const { msg, ...rest } = k.rsyslog.view;
  return { ...ours, ...rest, ...(msg ? { msg: text(msg) } : {}) };
}

/** The entry of case k, as the corpus says memlogd makes it, from a process with the given pid. */
function assertEntry(e: Entry, k: SyslogCase, transport: string, pid: number): View {
  const ours = memlogdView(e, k);
  assert.deepEqual(ours, expectedEntry(k), 'memlogd makes of it what the corpus says');
  assert.equal(e.transport, transport);
  assert.equal(e.pid, pid, "the sender is the kernel's");
  for (const key of ['timestamp', 'hostname', 'msgid', 'sd'] as const) assert.equal(e[key], k[key], key);
  return ours;
}

const sentinel = (word: string): Buffer => Buffer.from(`<13>memlog-${word}: ${word}`);

test('the corpus end to end: each datagram to memlogd and to rsyslogd; the entry and rsyslog differ only as the corpus documents', { timeout: 600_000 }, async (t) => {
  const got = await peers(['rsyslogd']);
  if ('why' in got) return skipLoudly(t, got.why);
  const dir = tmpdir(t);
  const { daemon, devLog } = await syslogDaemon(t, dir);
  const rsyslog = await startRsyslog({ rsyslogd: got.paths.rsyslogd, dir: path.join(dir, 'rsyslog'), mode: 'fields' });
  t.after(() => rsyslog.stop());
  const lines = (): string[] => (fs.existsSync(rsyslog.output) ? fs.readFileSync(rsyslog.output, 'latin1').split('\n').filter(Boolean) : []);
  const both = async (bytes: Buffer): Promise<void> => {
    await sendFdsAsync(devLog, bytes, []);
    await sendFdsAsync(rsyslog.socket, bytes, []);
  };

  // rsyslog writes a "start" message of its own first: what comes before the first sentinel is not ours.
  await both(sentinel('begin'));
  await waitFor('rsyslog to write the first sentinel', () => lines().some((l) => l.includes('memlog-begin')));
  for (const k of SYSLOG_CORPUS) await both(k.bytes);
  await both(sentinel('end'));
  const theirs = await waitFor('rsyslog to write the last sentinel', () => {
    const all = lines();
    const end = all.findIndex((l) => l.includes('memlog-end'));
    return end >= 0 && all.slice(all.findIndex((l) => l.includes('memlog-begin')) + 1, end);
  });
  const ours = await waitFor('memlogd to have the last sentinel', async () => {
    const all = ((await dump(daemon.querySocket)) as Entry[]).filter((e) => e.transport === 'syslog');
    const end = all.findIndex((e) => e.source === 'memlog-end');
    return end >= 0 && all.slice(all.findIndex((e) => e.source === 'memlog-begin') + 1, end);
  });

  // memlogd refuses (counts) an empty datagram; rsyslog drops what the corpus says it drops.
  const inMemlogd = SYSLOG_CORPUS.filter((k) => k.bytes.length > 0);
  const inRsyslog = SYSLOG_CORPUS.filter((k) => k.rsyslog !== 'drops');
  assert.deepEqual(ours.map((e) => e.msg.slice(0, 40)), inMemlogd.map((k) => k.msg.toString().slice(0, 40)), 'one entry per datagram with bytes, in order');
  assert.equal(theirs.length, inRsyslog.length, 'rsyslog wrote one line per datagram it does not drop');
  for (const k of SYSLOG_CORPUS) {
    await t.test(k.name, () => {
      const e = ours[inMemlogd.indexOf(k)];
      const line = theirs[inRsyslog.indexOf(k)];
      if (!e) return assert.equal(line, undefined, 'rsyslog drops what memlogd refuses');
      const mine = assertEntry(e, k, 'syslog', process.pid);
      if (line === undefined) return;
      const { raw, ...view } = rsyslogView(line);
      // The lines are matched to the cases by order; the raw message says whether that went right.
      assert.equal(raw.slice(0, 20), text(k.bytes.toString('latin1')).replace(/(#000|#012)+$/, '').slice(0, 20), 'this line is this case');
      assert.deepEqual(view, rsyslogExpected(mine, k), typeof k.rsyslog === 'object' ? `a documented difference: ${k.rsyslog.why}` : 'rsyslog sees the entry as memlogd does');
    });
  }
});

test('the corpus over the stream socket, octet-counted in one connection: the same entries as by datagram', async (t) => {
  const dir = tmpdir(t);
  const { daemon, stream } = await syslogDaemon(t, dir);
  const cases = SYSLOG_CORPUS.filter((k) => k.bytes.length > 0);
  const conn = net.connect(stream);
  await new Promise((r) => conn.once('connect', r));
  conn.end(Buffer.concat(cases.flatMap((k) => [Buffer.from(`${k.bytes.length} `), k.bytes])));
  const got = await waitFor(`${cases.length} stream entries`, async () => {
    const all = ((await dump(daemon.querySocket)) as Entry[]).filter((e) => e.transport === 'syslog-stream');
    return all.length >= cases.length && all;
  });
  assert.equal(got.length, cases.length);
  for (const [i, k] of cases.entries()) await t.test(k.name, () => void assertEntry(got[i], k, 'syslog-stream', process.pid));
});

// ---------------------------------------------------------------------------
// Real senders, read back as a user does: the query socket, logread -o json, logread -p warning


async function logread(querySocket: string, flags: string[] = []): Promise<Entry[]> {
  const r = await run(process.execPath, [BIN('logread'), '-socket', querySocket, '-o', 'json', ...flags]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Entry);
}

function matches(actual: unknown, want: string | RegExp | undefined): boolean {
  return want instanceof RegExp ? want.test(String(actual)) : actual === want;
}

test('real senders into memlogd: each message an entry with its fields, as the query socket, logread -o json and logread -p warning show it', { timeout: 600_000 }, async (t) => {
  const dir = tmpdir(t);
  const { daemon, devLog, stream } = await syslogDaemon(t, dir);
  const socketFor = (s: Sender): string => (s.transport === 'stream' ? stream : devLog);
  let ran = 0;
  for (const sender of SENDERS) {
    await t.test(sender.name, async (st) => {
      const got = await peers(sender.needs);
      if ('why' in got) return skipLoudly(st, got.why);
      if (sender.transport === 'dev-log') {
        const problem = mountNamespaceProblem(got.paths.unshare);
        if (problem) return skipLoudly(st, problem);
      }
      const { cmd, args, input } = sender.command(got.paths, socketFor(sender));
      const scratch = fs.mkdtempSync(path.join(dir, 'ns-'));
      const r =
        sender.transport === 'dev-log'
          ? await runSender(got.paths.unshare, ['--mount', 'sh', '-c', devLogScript(devLog, scratch), 'sh', cmd, ...args], input)
          : await runSender(cmd, args, input);
      assert.equal(r.code, 0, `${cmd} ${args.join(' ')}: ${r.output}`);
      const entries = await waitFor(`${sender.expect.length} entries from pid ${r.pid}`, async () => {
        const mine = ((await dump(daemon.querySocket)) as Entry[]).filter((e) => e.pid === r.pid);
        return mine.length >= sender.expect.length && mine;
      });
      assert.equal(entries.length, sender.expect.length, 'one entry per message');
      sender.expect.forEach((want, i) => {
        const e = entries[i];
        const what = `entry ${JSON.stringify(e)}`;
        assert.equal(e.msg, want.msg, what);
        assert.equal(e.source, want.tag ?? 'syslog', `source: the tag, or syslog without one; ${what}`);
        assert.equal(e.severity, want.severity, what);
        assert.equal(e.facility, want.facility, what);
        assert.equal(e.transport, sender.transport === 'stream' ? 'syslog-stream' : 'syslog', what);
        assert.equal(e.uid, process.getuid?.(), what);
        // A pid the sender claims is shown only where it is not the kernel's: a pattern here means its own pid.
        if (typeof want.pid === 'string') assert.equal(String(e.claimedPid), want.pid, what);
        else assert.equal(e.claimedPid, undefined, `no claimed pid other than the sender's own; ${what}`);
        assert.ok(matches(e.hostname, want.hostname), `hostname; ${what}`);
        assert.ok(matches(e.msgid, want.msgid), `msgid; ${what}`);
        assert.ok(matches(e.sd, want.sd), `sd; ${what}`);
      });
      ran++;
    });
  }
  if (ran === 0) return;
  await t.test('logread -o json: each syslog entry with the fields the query socket gives it (facility, transport, header)', async () => {
    const onSocket = ((await dump(daemon.querySocket)) as Entry[]).filter((e) => typeof e.transport === 'string');
    const shown = new Map((await logread(daemon.querySocket)).map((e) => [e.seq, e]));
    for (const e of onSocket) {
      const { daemon: id, ...fields } = shown.get(e.seq) ?? ({} as Entry);
      assert.equal(typeof id, 'string', 'logread names the daemon');
      assert.deepEqual(fields, e, `logread -o json shows entry ${String(e.seq)} as memlogd sent it`);
    }
  });
  await t.test('logread -p warning: the syslog entries of warning or more urgent, and no others', async () => {
    const all = ((await dump(daemon.querySocket)) as Entry[]).filter((e) => typeof e.transport === 'string');
    const urgent = all.filter((e) => (e.severity as number) <= 4);
    const shown = await logread(daemon.querySocket, ['-p', 'warning']);
    assert.deepEqual(
      shown.map((e) => e.seq),
      urgent.map((e) => e.seq),
    );
    assert.ok(urgent.length > 0, 'some senders logged warnings or worse');
    assert.ok(all.length > urgent.length, 'and some logged less urgent messages, left out');
  });
});

test('a service under memlog init logging with logger to the syslog: socket: its lines in the ring with its tag and severity', { timeout: 120_000 }, async (t) => {
  const got = await peers(['logger']);
  if ('why' in got) return skipLoudly(t, got.why);
  const dir = tmpdir(t);
  const logger = JSON.stringify(got.paths.logger);
  const config = writeConfig(
    dir,
    `run-dir: ./run
memlogd:
  syslog: ./run/log
services:
  - name: syslogger
    command: [sh, -c, '${logger} -u ./run/log -t backup -p daemon.info "backup starts"; echo $$ > ./logger.pid; exec ${logger} -u ./run/log -t backup -p daemon.warning "backup: 3 files skipped"']
`,
  );
  const init = startInit(t, dir, config);
  const querySocket = path.join(dir, 'run/memlogdq.sock');
  const entries = await waitFor('the warning in the ring', async () => {
    if (init.proc.exitCode !== null) throw new Error(`the init exited with ${init.proc.exitCode}: ${init.stderr()}`);
    if (!fs.existsSync(querySocket)) return undefined;
    const all = ((await dump(querySocket).catch(() => [])) as Entry[]);
    return all.some((e) => e.msg === 'backup: 3 files skipped') && all;
  });
  const backup = entries.filter((e) => e.source === 'backup');
  assert.deepEqual(
    backup.map((e) => [e.msg, e.severity, e.facility, e.transport]),
    [
      ['backup starts', 6, 3, 'syslog'],
      ['backup: 3 files skipped', 4, 3, 'syslog'],
    ],
  );
  assert.equal(backup[1].pid, Number(fs.readFileSync(path.join(dir, 'logger.pid'), 'utf8')), "the sender is the logger's process");
  const warnings = await logread(querySocket, ['-p', 'warning', '-source', 'backup']);
  assert.deepEqual(
    warnings.map((e) => e.msg),
    ['backup: 3 files skipped'],
  );
  init.proc.kill('SIGTERM');
  assert.equal(await init.done, 0, init.stderr());
});
