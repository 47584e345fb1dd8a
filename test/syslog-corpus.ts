/**
 * Syslog datagrams as local senders write them, and odd ones, with what
 * parseSyslog must make of each, and where rsyslog (the reference the peer
 * tests run) deliberately sees it otherwise. Shared by the parser's unit test,
 * the rsyslog comparison, and (once memlogd takes syslog) the daemon's tests:
 * each case is bytes plus the fields a user would see.
 */

/** The fields compared: what an entry shows of a syslog message. */
export interface SyslogView {
  /** undefined: no valid PRI (the daemon uses user.notice). */
  facility?: number;
  severity?: number;
  tag?: string;
  pid?: string;
  /** The message bytes (trailing newlines and NULs gone). */
  msg: Buffer;
}

export interface SyslogCase extends SyslogView {
  name: string;
  bytes: Buffer;
  format: 'rfc3164' | 'rfc5424' | 'unknown';
  hostname?: string;
  timestamp?: string;
  msgid?: string;
  sd?: string;
  /**
   * How rsyslog's parsers see it where that differs from ours on purpose, and
   * why ('drops' when rsyslog writes nothing for it). The comparison checks
   * rsyslog really does so: a difference stays documented only while true.
   */
  rsyslog?: { why: string; view: Partial<Omit<SyslogView, 'facility'>> & { facility?: number | 'invld' } } | 'drops';
}

const b = (s: string | Buffer): Buffer => (typeof s === 'string' ? Buffer.from(s) : s);
const TS = 'Dec  2 21:50:01';

function c(name: string, bytes: string | Buffer, fields: Omit<SyslogCase, 'name' | 'bytes' | 'msg'> & { msg: string | Buffer }): SyslogCase {
  return { name, ...fields, bytes: b(bytes), msg: b(fields.msg) };
}

const user = { facility: 1, severity: 5 };
const NOT_A_TAG = 'a word not ending in ":" (or "[PID]:") is message text for us; rsyslog takes the first word as the hostname when another follows, and the next word as the tag, colon or not';
const INVALID_PRI = 'rsyslog marks an invalid PRI as facility "invld", severity 7; we say no PRI and the daemon uses user.notice';

export const LONG_TAG = 't'.repeat(500);
export const GARBAGE_TEXT = Array.from({ length: 6000 }, (_, i) => `w${(i * 7919) % 10007}`).join(' ').slice(0, 60_000);

export const SYSLOG_CORPUS: SyslogCase[] = [
  // glibc's syslog(3) (and so Debian's busybox logger) and musl's: no hostname on a local socket.
  c('glibc with pid', `<13>${TS} myprog[123]: hello world`, { ...user, format: 'rfc3164', timestamp: TS, tag: 'myprog', pid: '123', msg: 'hello world' }),
  c('glibc without pid', `<11>${TS} myprog: it failed`, { facility: 1, severity: 3, format: 'rfc3164', timestamp: TS, tag: 'myprog', msg: 'it failed' }),
  c('glibc two-digit day', `<30>Dec 12 01:02:03 daemon[1]: x`, { facility: 3, severity: 6, format: 'rfc3164', timestamp: 'Dec 12 01:02:03', tag: 'daemon', pid: '1', msg: 'x' }),
  c('glibc local7.debug', `<191>${TS} prog[99999]: debug`, { facility: 23, severity: 7, format: 'rfc3164', timestamp: TS, tag: 'prog', pid: '99999', msg: 'debug' }),
  c('kern.emerg PRI 0', `<0>${TS} k: panic`, { facility: 0, severity: 0, format: 'rfc3164', timestamp: TS, tag: 'k', msg: 'panic' }),
  c('empty message after tag', `<13>${TS} myprog: `, { ...user, format: 'rfc3164', timestamp: TS, tag: 'myprog', msg: '' }),
  c('no space after colon', `<13>${TS} prog:msg nospace`, { ...user, format: 'rfc3164', timestamp: TS, tag: 'prog', msg: 'msg nospace' }),
  c('no space after pid', `<13>${TS} prog[12]:msg`, { ...user, format: 'rfc3164', timestamp: TS, tag: 'prog', pid: '12', msg: 'msg' }),
  c('tag with a path', `<13>${TS} /usr/bin/prog[12]: msg`, { ...user, format: 'rfc3164', timestamp: TS, tag: '/usr/bin/prog', pid: '12', msg: 'msg' }),
  c('tag with dots and dashes', `<13>${TS} systemd-logind.x[7]: msg`, { ...user, format: 'rfc3164', timestamp: TS, tag: 'systemd-logind.x', pid: '7', msg: 'msg' }),
  c('pid not a number', `<13>${TS} prog[abc]: msg`, { ...user, format: 'rfc3164', timestamp: TS, tag: 'prog', pid: 'abc', msg: 'msg' }),
  c('colons in the message', `<13>myprog: a: b: c`, { ...user, format: 'rfc3164', tag: 'myprog', msg: 'a: b: c' }),
  // Without a timestamp (some small libcs and hand-rolled senders).
  c('no timestamp', `<13>myprog[123]: no timestamp`, { ...user, format: 'rfc3164', tag: 'myprog', pid: '123', msg: 'no timestamp' }),
  c('no timestamp no pid', `<13>myprog: no pid`, { ...user, format: 'rfc3164', tag: 'myprog', msg: 'no pid' }),
  // With a hostname (util-linux logger --rfc3164, relays).
  c('hostname', `<156>${TS} vm mytag[1234]: hello 3164`, { facility: 19, severity: 4, format: 'rfc3164', timestamp: TS, hostname: 'vm', tag: 'mytag', pid: '1234', msg: 'hello 3164' }),
  c('dotted hostname', `<13>Dec 12 21:50:01 host.example.com prog[12]: msg`, { ...user, format: 'rfc3164', timestamp: 'Dec 12 21:50:01', hostname: 'host.example.com', tag: 'prog', pid: '12', msg: 'msg' }),
  c('hostname without timestamp', `<13>foo bar: baz`, { ...user, format: 'rfc3164', hostname: 'foo', tag: 'bar', msg: 'baz' }),
  c('RFC 3339 timestamp and hostname', `<13>2023-12-02T21:50:01.5Z myhost prog[1]: iso ts`, { ...user, format: 'rfc3164', timestamp: '2023-12-02T21:50:01.5Z', hostname: 'myhost', tag: 'prog', pid: '1', msg: 'iso ts' }),
  c('timestamp with a year', `<13>Dec  2 2023 21:50:01 prog[1]: year`, { ...user, format: 'rfc3164', timestamp: 'Dec  2 2023 21:50:01', tag: 'prog', pid: '1', msg: 'year' }),
  c('day not space-padded', `<13>Dec 2 21:50:01 prog[1]: one space`, { ...user, format: 'rfc3164', timestamp: 'Dec 2 21:50:01', tag: 'prog', pid: '1', msg: 'one space' }),
  // Python's SysLogHandler: no tag unless an ident is set, a NUL at the end.
  c('python default', `<140>py warn\0`, { facility: 17, severity: 4, format: 'rfc3164', msg: 'py warn', rsyslog: { why: NOT_A_TAG, view: { tag: 'warn', msg: b('') } } }),
  c('python with ident', `<139>pyapp[77]: py err\0`, { facility: 17, severity: 3, format: 'rfc3164', tag: 'pyapp', pid: '77', msg: 'py err' }),
  c('untagged sentence', `<13>just a message with no tag`, { ...user, format: 'rfc3164', msg: 'just a message with no tag', rsyslog: { why: NOT_A_TAG, view: { tag: 'a', msg: b('message with no tag') } } }),
  c('pid without colon', `<13>${TS} prog[12] msg`, { ...user, format: 'rfc3164', timestamp: TS, msg: 'prog[12] msg', rsyslog: { why: NOT_A_TAG, view: { tag: 'prog', pid: '12', msg: b('msg') } } }),
  c('trailing newline', `<13>prog: with newline\n`, { ...user, format: 'rfc3164', tag: 'prog', msg: 'with newline' }),
  c('NUL inside', `<13>prog: hello\0world\0`, { ...user, format: 'rfc3164', tag: 'prog', msg: 'hello\0world' }),
  c('invalid UTF-8', Buffer.concat([b('<13>prog: bad utf8 '), Buffer.from([0xff, 0xfe, 0xc3]), b(' end')]), { ...user, format: 'rfc3164', tag: 'prog', msg: Buffer.concat([b('bad utf8 '), Buffer.from([0xff, 0xfe, 0xc3]), b(' end')]) }),
  c('UTF-8 tag', `<13>пр[5]: привет`, { ...user, format: 'rfc3164', tag: 'пр', pid: '5', msg: 'привет' }),
  c('tag of 500 bytes', `<13>${TS} ${LONG_TAG}[9]: long tag`, { ...user, format: 'rfc3164', timestamp: TS, tag: LONG_TAG, pid: '9', msg: 'long tag' }),
  c('a 60 KB message', `<13>prog: ${GARBAGE_TEXT}`, { ...user, format: 'rfc3164', tag: 'prog', msg: GARBAGE_TEXT }),
  // PRI edge cases.
  c('PRI 999', `<999>bad pri`, { format: 'unknown', msg: '<999>bad pri', rsyslog: { why: INVALID_PRI, view: { facility: 'invld', severity: 7 } } }),
  c('PRI -1', `<-1>neg pri`, { format: 'unknown', msg: '<-1>neg pri', rsyslog: { why: INVALID_PRI, view: { facility: 'invld', severity: 7 } } }),
  c('PRI 192', `<192>over`, { format: 'unknown', msg: '<192>over', rsyslog: { why: INVALID_PRI, view: { facility: 'invld', severity: 7 } } }),
  c('a lone <', `<`, { format: 'unknown', msg: '<', rsyslog: { why: INVALID_PRI, view: { facility: 'invld', severity: 7 } } }),
  c('empty PRI', `<>prog: empty pri`, {
    format: 'unknown',
    msg: '<>prog: empty pri',
    rsyslog: { why: 'rsyslog reads "<>" as PRI 0 (kern.emerg); we say no PRI', view: { facility: 0, severity: 0, tag: 'prog', msg: b('empty pri') } },
  }),
  c('PRI with leading zeros', `<0013>prog: zeros`, { ...user, format: 'rfc3164', tag: 'prog', msg: 'zeros' }),
  c('no PRI at all', `prog: no pri`, {
    format: 'unknown',
    tag: 'prog',
    msg: 'no pri',
    rsyslog: { why: 'rsyslog fills in user.notice itself; we leave that to the daemon', view: { facility: 1, severity: 5 } },
  }),
  c('empty datagram', ``, { format: 'unknown', msg: '', rsyslog: 'drops' }),
  // RFC 5424: util-linux logger --rfc5424, and by hand.
  c('5424 from logger', `<156>1 2026-12-02T21:54:50.763753+00:00 vm mytag 1234 MID [timeQuality tzKnown="1" isSynced="0"][zoo@123 tiger="hungry"] hello 5424`, {
    facility: 19,
    severity: 4,
    format: 'rfc5424',
    timestamp: '2026-12-02T21:54:50.763753+00:00',
    hostname: 'vm',
    tag: 'mytag',
    pid: '1234',
    msgid: 'MID',
    sd: '[timeQuality tzKnown="1" isSynced="0"][zoo@123 tiger="hungry"]',
    msg: 'hello 5424',
  }),
  c('5424 escapes in SD', `<13>1 2023-12-02T21:50:01.123456+00:00 host app 42 ID47 [ex@1 a="b\\]c" d="e\\"f"][x@2 y="z"] msg5424`, {
    ...user,
    format: 'rfc5424',
    timestamp: '2023-12-02T21:50:01.123456+00:00',
    hostname: 'host',
    tag: 'app',
    pid: '42',
    msgid: 'ID47',
    sd: '[ex@1 a="b\\]c" d="e\\"f"][x@2 y="z"]',
    msg: 'msg5424',
  }),
  c('5424 all NILVALUE', `<13>1 - - - - - - nil`, { ...user, format: 'rfc5424', msg: 'nil' }),
  c('5424 from logger without time and host', `<13>1 - - mytag - - - hello 5424 notime`, { ...user, format: 'rfc5424', tag: 'mytag', msg: 'hello 5424 notime' }),
  c('5424 no message', `<13>1 2023-12-02T21:50:01Z host app 42 ID47 -`, { ...user, format: 'rfc5424', timestamp: '2023-12-02T21:50:01Z', hostname: 'host', tag: 'app', pid: '42', msgid: 'ID47', msg: '' }),
  c('5424 SD element without params', `<13>1 2023-12-02T21:50:01Z host app 42 ID47 [a@1] m`, { ...user, format: 'rfc5424', timestamp: '2023-12-02T21:50:01Z', hostname: 'host', tag: 'app', pid: '42', msgid: 'ID47', sd: '[a@1]', msg: 'm' }),
  c('5424 BOM', Buffer.concat([b('<13>1 2023-12-02T21:50:01Z host app 42 ID47 - '), Buffer.from([0xef, 0xbb, 0xbf]), b('bom msg')]), {
    ...user,
    format: 'rfc5424',
    timestamp: '2023-12-02T21:50:01Z',
    hostname: 'host',
    tag: 'app',
    pid: '42',
    msgid: 'ID47',
    msg: 'bom msg',
  }),
  c('5424 broken SD', `<13>1 2023-12-02T21:50:01Z host app 42 ID47 [broken msg`, {
    ...user,
    format: 'rfc5424',
    timestamp: '2023-12-02T21:50:01Z',
    hostname: 'host',
    tag: 'app',
    pid: '42',
    msgid: 'ID47',
    msg: '[broken msg',
    rsyslog: { why: 'rsyslog splits a broken SD into an SD and a message at odd places; we keep it whole as the message', view: { msg: b('g') } },
  }),
  c('5424 SD not followed by a space', `<13>1 2023-12-02T21:50:01Z host app 42 ID47 [a@1 x="v"]nospace`, {
    ...user,
    format: 'rfc5424',
    timestamp: '2023-12-02T21:50:01Z',
    hostname: 'host',
    tag: 'app',
    pid: '42',
    msgid: 'ID47',
    msg: '[a@1 x="v"]nospace',
    rsyslog: { why: 'rsyslog splits a broken SD into an SD and a message at odd places; we keep it whole as the message', view: { msg: b('e') } },
  }),
  c('5424 header too short', `<13>1 garbage here`, {
    ...user,
    format: 'rfc3164',
    msg: '1 garbage here',
    rsyslog: { why: 'rsyslog drops the "1 " of a header that is not 5424 after all; we keep every byte', view: { msg: b('garbage here') } },
  }),
];

/** How parseSyslog's result reads as a view (the message range cut out of bytes). */
export function viewOf(bytes: Buffer, m: { facility?: number; severity?: number; tag?: string; pid?: string; msgStart: number; msgEnd: number }): SyslogView {
  return { facility: m.facility, severity: m.severity, tag: m.tag, pid: m.pid, msg: bytes.subarray(m.msgStart, m.msgEnd) };
}
