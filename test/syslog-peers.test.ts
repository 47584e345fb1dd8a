/**
 * parseSyslog against real peers: rsyslogd's own parsers on the same
 * datagrams (test/syslog-corpus.ts), and real senders (test/syslog-senders.ts)
 * into a socket the test binds. Programs missing here are installed with
 * apt-get where the tests can (root, Debian); a test that still lacks one
 * is skipped, saying why on stderr (test/peers.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { startRsyslog } from '../bench/rsyslog.js';
import { parseSyslog } from '../src/inputs/syslog/parse.js';
import { bindDgram, DgramReceiver, sendFdsAsync } from '../src/native.js';
import { tmpdir, waitFor } from './helpers.js';
import { mountNamespaceProblem, peers, skipLoudly } from './peers.js';
import { SYSLOG_CORPUS, viewOf, type SyslogCase } from './syslog-corpus.js';
import { devLogScript, runSender, SENDERS, type Expected, type Sender } from './syslog-senders.js';

// ---------------------------------------------------------------------------
// rsyslog as the reference parser

interface RsyslogView {
  facility?: number | 'invld';
  severity?: number;
  tag?: string;
  pid?: string;
  msg: string;
}

/** rsyslog turns control characters into #ooo on receipt (its default); ours are shown the same way to compare. */
function escapeControls(msg: Buffer): string {
  let out = '';
  for (const byte of msg) out += byte < 0x20 || byte === 0x7f ? `#${byte.toString(8).padStart(3, '0')}` : String.fromCharCode(byte);
  return out;
}

/** One line of rsyslog's output as the fields compared. Bytes are kept as they are: the file is read as latin1. */
function rsyslogView(line: string): RsyslogView & { raw: string } {
  const j = JSON.parse(line) as Record<string, string>;
  const facility = j.facility === 'invld' ? 'invld' : Number(j.facility);
  // syslogtag is TAG[PID]: as sent (programname stops at a '/'): the tag is what precedes the [PID] and colon.
  // The file was read as latin1 (to keep any byte); a tag is text, so back to UTF-8.
  const tag = Buffer.from(j.tag.replace(/:$/, '').replace(/\[[^\]]*\]$/, ''), 'latin1').toString();
  let msg = j.msg;
  // rsyslog keeps the space after "TAG:" in a 3164 message (and a 5424 BOM); ours starts after them.
  if (j.proto !== '1' && msg.startsWith(' ')) msg = msg.slice(1);
  msg = msg.replace(/^\xef\xbb\xbf/, '');
  return {
    facility,
    severity: Number(j.severity),
    tag: tag === '' || tag === '-' ? undefined : tag,
    pid: j.procid === '-' || j.procid === '' ? undefined : j.procid,
    msg,
    raw: j.raw,
  };
}

function ourView(k: SyslogCase): RsyslogView {
  const v = viewOf(k.bytes, parseSyslog(k.bytes, 0, k.bytes.length));
  return { facility: v.facility, severity: v.severity, tag: v.tag, pid: v.pid, msg: escapeControls(v.msg) };
}

/** What rsyslog must say of the case: ours, but for the differences the corpus documents. */
function expectedRsyslog(k: SyslogCase): RsyslogView | undefined {
  const ours = ourView(k);
  if (k.rsyslog === 'drops') return undefined;
  if (!k.rsyslog) return ours;
  const { msg, ...rest } = k.rsyslog.view;
  return { ...ours, ...rest, ...(msg ? { msg: escapeControls(msg) } : {}) };
}

test('rsyslog parses the corpus as parseSyslog does, but for the differences documented', { timeout: 600_000 }, async (t) => {
  const got = await peers(['rsyslogd']);
  if ('why' in got) return skipLoudly(t, got.why);
  const dir = tmpdir(t);
  const rsyslog = await startRsyslog({ rsyslogd: got.paths.rsyslogd, dir, mode: 'fields' });
  t.after(() => rsyslog.stop());
  const lines = (): string[] => (fs.existsSync(rsyslog.output) ? fs.readFileSync(rsyslog.output, 'latin1').split('\n').filter(Boolean) : []);
  const sentinel = (word: string) => Buffer.from(`<13>memlog-${word}: ${word}`);
  const hasSentinel = (word: string) => lines().some((l) => l.includes(`memlog-${word}`));

  // rsyslog writes its own "start" message first: everything before our first sentinel is not ours.
  await sendFdsAsync(rsyslog.socket, sentinel('begin'), []);
  await waitFor('rsyslog to write the first sentinel', () => hasSentinel('begin'));
  for (const k of SYSLOG_CORPUS) await sendFdsAsync(rsyslog.socket, k.bytes, []);
  await sendFdsAsync(rsyslog.socket, sentinel('end'), []);
  await waitFor('rsyslog to write the last sentinel', () => hasSentinel('end'));

  const out = lines();
  const ours = out.slice(out.findIndex((l) => l.includes('memlog-begin')) + 1, out.findIndex((l) => l.includes('memlog-end')));
  const compared = SYSLOG_CORPUS.filter((k) => k.rsyslog !== 'drops');
  assert.equal(ours.length, compared.length, `rsyslog wrote one line per datagram it does not drop:\n${ours.map((l) => l.slice(0, 120)).join('\n')}`);
  for (const [i, k] of compared.entries()) {
    await t.test(k.name, () => {
      const { raw, ...theirs } = rsyslogView(ours[i]);
      // The lines are matched to the cases by order; the raw message says whether that went right.
      assert.equal(raw.slice(0, 20), escapeControls(k.bytes).replace(/(#000|#012)+$/, '').slice(0, 20), 'this line is this case');
      assert.deepEqual(theirs, expectedRsyslog(k), typeof k.rsyslog === 'object' ? `a documented difference: ${k.rsyslog.why}` : undefined);
    });
  }
});

// ---------------------------------------------------------------------------
// Real senders into a socket of ours

/** Splits what a stream socket got into messages: RFC 6587 octet counting, else newline or NUL delimited. */
function deframe(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let i = 0;
  while (i < data.length) {
    const m = /^(\d+) /.exec(data.subarray(i, i + 12).toString('latin1'));
    if (m) {
      const start = i + m[0].length;
      out.push(data.subarray(start, start + Number(m[1])));
      i = start + Number(m[1]);
      continue;
    }
    let j = i;
    while (j < data.length && data[j] !== 0x0a && data[j] !== 0) j++;
    if (j > i) out.push(data.subarray(i, j));
    i = j + 1;
  }
  return out;
}

/** Receives what the sender sends on a socket at sock: each datagram, or the stream's bytes. */
function listen(t: { after(fn: () => void | Promise<void>): void }, transport: Sender['transport'], sock: string): () => Buffer[] {
  if (transport === 'stream') {
    const chunks: Buffer[] = [];
    const server = net.createServer((c) => c.on('data', (d: Buffer) => chunks.push(d)));
    server.listen(sock);
    t.after(() => new Promise<void>((r) => server.close(() => r())));
    return () => deframe(Buffer.concat(chunks));
  }
  const got: Buffer[] = [];
  const r = new DgramReceiver(bindDgram(sock), 65536, (payload) => got.push(payload));
  t.after(() => r.close());
  return () => got;
}


function check(field: string, actual: string | undefined, want: string | RegExp | undefined): void {
  if (want instanceof RegExp) assert.match(actual ?? '<absent>', want, field);
  else assert.equal(actual, want, field);
}

function assertMessage(bytes: Buffer, want: Expected): void {
  const m = parseSyslog(bytes, 0, bytes.length);
  const what = `in ${JSON.stringify(bytes.toString())}`;
  assert.equal(m.format, want.format, `format ${what}`);
  assert.equal(m.facility, want.facility, `facility ${what}`);
  assert.equal(m.severity, want.severity, `severity ${what}`);
  check(`tag ${what}`, m.tag, want.tag);
  check(`pid ${what}`, m.pid, want.pid);
  check(`msgid ${what}`, m.msgid, want.msgid);
  check(`sd ${what}`, m.sd, want.sd);
  if (want.hostname !== undefined) check(`hostname ${what}`, m.hostname, want.hostname);
  else if (want.format === 'rfc3164') assert.equal(m.hostname, undefined, `no hostname ${what}`);
  assert.equal(bytes.subarray(m.msgStart, m.msgEnd).toString(), want.msg, `message ${what}`);
}

for (const sender of SENDERS) {
  test(`real sender: ${sender.name}`, { timeout: 600_000 }, async (t) => {
    const got = await peers(sender.needs);
    if ('why' in got) return skipLoudly(t, got.why);
    if (sender.transport === 'dev-log') {
      const problem = mountNamespaceProblem(got.paths.unshare);
      if (problem) return skipLoudly(t, problem);
    }
    const dir = tmpdir(t);
    const sock = path.join(dir, 'log.sock');
    const received = listen(t, sender.transport, sock);
    const { cmd, args, input } = sender.command(got.paths, sock);
    const ran =
      sender.transport === 'dev-log'
        ? await runSender(got.paths.unshare, ['--mount', 'sh', '-c', devLogScript(sock, dir), 'sh', cmd, ...args], input)
        : await runSender(cmd, args, input);
    assert.equal(ran.code, 0, `${cmd} ${args.join(' ')}: ${ran.output}`);
    const messages = await waitFor(`${sender.expect.length} messages from ${sender.name}`, () => received().length >= sender.expect.length && received());
    assert.equal(messages.length, sender.expect.length);
    sender.expect.forEach((want, i) => assertMessage(messages[i], want));
  });
}
