/**
 * Our RFC 5424 messages, octet-counted over plain TCP, as a real syslog-ng
 * parses them (test/syslog-ng-receiver.ts): every header field, both SD
 * elements and their params, the sender's SD, the timestamp's microseconds
 * and UTF-8 messages come out as we meant them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { ForwardEntry } from '../src/forward/entry.js';
import { formatOctetCounted, formatRfc5424, frameOctetCounted } from '../src/forward/rfc5424.js';
import { tmpdir, waitFor } from './helpers.js';
import { peers, skipLoudly } from './peers.js';
import { startSyslogNg, type SyslogNgMessage } from './syslog-ng-receiver.js';

// 2024-05-29T16:26:40Z
const SEC = 1717000000;
const OPTS = { hostname: 'appliance-01.example.net', facility: 1 };

const base = (e: Partial<ForwardEntry>): ForwardEntry => ({ time: '', sec: SEC, nsec: 123456789, source: 'sshd', msg: 'm', daemon: 'c0ffee-01', ...e });

/** Writes the bytes on one connection and closes it. */
function send(port: number, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => s.end(data));
    s.once('error', reject);
    s.once('close', (hadError) => (hadError ? undefined : resolve()));
  });
}

test('syslog-ng parses every field of our RFC 5424 messages', async (t) => {
  const got = await peers(['syslog-ng']);
  if ('why' in got) return skipLoudly(t, got.why);
  const dir = tmpdir(t);
  const ng = await startSyslogNg(got.paths['syslog-ng'], dir);
  t.after(() => ng.stop());

  const entries: ForwardEntry[] = [
    // An ordinary entry.
    base({ seq: 41, pid: 812, msg: 'Accepted publickey for root from 192.0.2.7' }),
    // Severity and facility of its own, a msgid, the sender's SD, UTF-8 in the message.
    base({ seq: 42, pid: 1, severity: 3, facility: 4, msgid: 'ID47', sd: '[exampleSDID@32473 iut="3" eventSource="App\\]l\\"i\\\\c"][origin ip="192.0.2.1"]', msg: 'héllo ✓ 😀 "quoted" \\ ]' }),
    // No pid, no seq, no daemon: our element carries ns alone.
    base({ daemon: undefined, nsec: 999999999, source: 'kernel', msg: 'eth0: link up' }),
    // A name that needs sanitising, and escapes in our values.
    base({ seq: 43, daemon: 'd"\\]', source: 'my app ü', msg: 'renamed' }),
    // A loss marker, with an empty message.
    base({ seq: 2147483647, source: 'memlogd', msg: '', lost: { count: 17, from: 100, to: 116, unknown: 3, sources: {} } }),
    // Sender SD that is not well-formed: dropped; a long message.
    base({ seq: 45, sd: '[bad sd', msg: 'x'.repeat(5000) }),
  ];
  // Half as one batch, half as single messages framed together: both framings reach syslog-ng alike.
  await send(ng.port, formatOctetCounted(entries.slice(0, 3), OPTS));
  await send(ng.port, frameOctetCounted(entries.slice(3).map((e) => formatRfc5424(e, OPTS))));
  const msgs = await waitFor(`syslog-ng to write ${entries.length} messages`, async () => {
    const m = await ng.messages();
    return m.length >= entries.length && m;
  });
  assert.equal(msgs.length, entries.length, ng.log());

  // The two connections may be taken in either order: match messages by their seq/ns/program.
  const bySeq = (seq: string | undefined): SyslogNgMessage => {
    const m = msgs.find((x) => x.SDATA?.['memlog@32473']?.seq === seq);
    assert.ok(m, `a message with seq ${seq}: ${JSON.stringify(msgs)}`);
    return m;
  };
  const stamp = '2024-05-29T16:26:40.123456+00:00';

  assert.deepEqual(bySeq('41'), {
    PROGRAM: 'sshd',
    PID: '812',
    MSGID: '',
    LEVEL_NUM: '6',
    FACILITY_NUM: '1',
    PRI: '14',
    HOST: 'appliance-01.example.net',
    ISODATE: stamp,
    MSG: 'Accepted publickey for root from 192.0.2.7',
    SDATA: { meta: { sequenceId: '42' }, 'memlog@32473': { daemon: 'c0ffee-01', seq: '41', ns: '123456789' } },
  });
  assert.deepEqual(bySeq('42'), {
    PROGRAM: 'sshd',
    PID: '1',
    MSGID: 'ID47',
    LEVEL_NUM: '3',
    FACILITY_NUM: '4',
    PRI: '35',
    HOST: 'appliance-01.example.net',
    ISODATE: stamp,
    MSG: 'héllo ✓ 😀 "quoted" \\ ]',
    SDATA: {
      meta: { sequenceId: '43' },
      'memlog@32473': { daemon: 'c0ffee-01', seq: '42', ns: '123456789' },
      'exampleSDID@32473': { iut: '3', eventSource: 'App]l"i\\c' },
      origin: { ip: '192.0.2.1' },
    },
  });
  assert.deepEqual(bySeq(undefined), {
    PROGRAM: 'kernel',
    PID: '',
    MSGID: '',
    LEVEL_NUM: '6',
    FACILITY_NUM: '1',
    PRI: '14',
    HOST: 'appliance-01.example.net',
    // Cut, not rounded.
    ISODATE: '2024-05-29T16:26:40.999999+00:00',
    MSG: 'eth0: link up',
    SDATA: { 'memlog@32473': { ns: '999999999' } },
  });
  const renamed = bySeq('43');
  assert.equal(renamed.PROGRAM, 'my_app___');
  assert.deepEqual(renamed.SDATA?.['memlog@32473'], { daemon: 'd"\\]', seq: '43', ns: '123456789', source: 'my app ü' });
  const lost = bySeq('2147483647');
  assert.deepEqual(
    { ...lost, SDATA: undefined },
    { PROGRAM: 'memlogd', PID: '', MSGID: '', LEVEL_NUM: '4', FACILITY_NUM: '1', PRI: '12', HOST: 'appliance-01.example.net', ISODATE: stamp, MSG: '', SDATA: undefined },
  );
  assert.deepEqual(lost.SDATA, {
    meta: { sequenceId: '1' },
    'memlog@32473': { daemon: 'c0ffee-01', seq: '2147483647', ns: '123456789', lost: '17', from: '100', to: '116', unknown: '3' },
  });
  const long = bySeq('45');
  assert.equal(long.MSG, 'x'.repeat(5000));
  assert.deepEqual(Object.keys(long.SDATA ?? {}).sort(), ['memlog@32473', 'meta']);
});

test('syslog-ng takes a batch of 1000 in one write, in order', async (t) => {
  const got = await peers(['syslog-ng']);
  if ('why' in got) return skipLoudly(t, got.why);
  const dir = tmpdir(t);
  const ng = await startSyslogNg(got.paths['syslog-ng'], dir);
  t.after(() => ng.stop());
  const entries = Array.from({ length: 1000 }, (_, i) => base({ seq: i, nsec: i * 1000, pid: i, msg: `entry ${i} ${'ü'.repeat(i % 50)}` }));
  await send(ng.port, formatOctetCounted(entries, OPTS));
  const msgs = await waitFor('syslog-ng to write 1000 messages', async () => {
    const m = await ng.messages();
    return m.length >= 1000 && m;
  });
  assert.equal(msgs.length, 1000);
  msgs.forEach((m, i) => {
    assert.equal(m.MSG, `entry ${i} ${'ü'.repeat(i % 50)}`);
    assert.equal(m.PID, String(i));
    assert.equal(m.SDATA?.['memlog@32473']?.seq, String(i));
    // nsec i*1000: i microseconds.
    assert.equal(m.ISODATE, `2024-05-29T16:26:40.${String(i).padStart(6, '0')}+00:00`);
  });
});
