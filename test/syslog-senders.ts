/**
 * Real syslog senders and what each one's messages must read as: util-linux
 * logger (datagram and stream socket), Python's SysLogHandler, and glibc's
 * syslog(3) as busybox logger and Python's syslog module call it (they only
 * write to /dev/log: run in a private mount namespace with the test's socket
 * mounted there). Shared by the parser's peer test and, once memlogd takes
 * syslog, the daemon's: a sender is a command line for a socket path, the
 * expectations are the fields a user would see.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import type { PeerName } from './peers.js';

export type Transport = 'dgram' | 'stream' | 'dev-log';

export interface Expected {
  facility: number;
  severity: number;
  /** A string is matched exactly, a RegExp must match; undefined: must be absent. */
  tag?: string;
  pid?: string | RegExp;
  hostname?: string;
  msgid?: string;
  sd?: string | RegExp;
  format: 'rfc3164' | 'rfc5424';
  msg: string;
}

export interface Sender {
  name: string;
  needs: PeerName[];
  transport: Transport;
  /** The command line, given the programs' paths and the socket (for dev-log: what to run once /dev/log is the socket). */
  command(paths: Record<string, string>, socket: string): { cmd: string; args: string[]; input?: string };
  expect: Expected[];
}

const PY_HANDLER = `
import logging, logging.handlers, sys
h = logging.handlers.SysLogHandler(address=sys.argv[1], facility='local1')
log = logging.getLogger('memlog'); log.addHandler(h); log.setLevel(logging.DEBUG)
log.warning('py warn')
log.debug('py debug ünïcödé')
h.ident = 'pyapp[77]: '
log.error('py err: with colon')
`;

const PY_SYSLOG = `
import syslog
syslog.openlog('pysys', syslog.LOG_PID, syslog.LOG_DAEMON)
syslog.syslog(syslog.LOG_NOTICE, 'via glibc')
`;

// util-linux logger puts the short host name in --rfc3164 and --rfc5424 headers (gethostname, cut at the first dot).
const HOST = os.hostname().split('.')[0];

export const SENDERS: Sender[] = [
  {
    name: 'util-linux logger, local format, -p -t',
    needs: ['logger'],
    transport: 'dgram',
    command: (p, sock) => ({ cmd: p.logger, args: ['-u', sock, '-p', 'local3.warning', '-t', 'mytag', 'hello plain'] }),
    expect: [{ facility: 19, severity: 4, tag: 'mytag', format: 'rfc3164', msg: 'hello plain' }],
  },
  {
    name: 'util-linux logger --rfc3164 --id',
    needs: ['logger'],
    transport: 'dgram',
    command: (p, sock) => ({ cmd: p.logger, args: ['-u', sock, '--rfc3164', '-p', 'local3.warning', '-t', 'mytag', '--id=1234', 'hello 3164'] }),
    expect: [{ facility: 19, severity: 4, hostname: HOST, tag: 'mytag', pid: '1234', format: 'rfc3164', msg: 'hello 3164' }],
  },
  {
    name: "util-linux logger --id (the logger's own pid)",
    needs: ['logger'],
    transport: 'dgram',
    command: (p, sock) => ({ cmd: p.logger, args: ['-u', sock, '--id', '-t', 'withpid', 'my pid'] }),
    expect: [{ facility: 1, severity: 5, tag: 'withpid', pid: /^[1-9]\d*$/, format: 'rfc3164', msg: 'my pid' }],
  },
  {
    name: 'util-linux logger --rfc5424 --msgid --sd-id --sd-param',
    needs: ['logger'],
    transport: 'dgram',
    command: (p, sock) => ({
      cmd: p.logger,
      args: ['-u', sock, '--rfc5424', '-p', 'local3.warning', '-t', 'mytag', '--id=1234', '--msgid', 'MID', '--sd-id', 'zoo@123', '--sd-param', 'tiger="hungry"', '--sd-param', 'say="a \\"b\\" \\]"', 'hello 5424'],
    }),
    expect: [
      {
        facility: 19,
        severity: 4,
        hostname: HOST,
        tag: 'mytag',
        pid: '1234',
        msgid: 'MID',
        sd: /^\[timeQuality [^\]]*\]\[zoo@123 tiger="hungry" say="a \\"b\\" \\]"\]$/,
        format: 'rfc5424',
        msg: 'hello 5424',
      },
    ],
  },
  {
    name: 'util-linux logger --rfc5424=notq,notime,nohost',
    needs: ['logger'],
    transport: 'dgram',
    command: (p, sock) => ({ cmd: p.logger, args: ['-u', sock, '--rfc5424=notq,notime,nohost', '-t', 'bare', 'hello bare'] }),
    expect: [{ facility: 1, severity: 5, tag: 'bare', format: 'rfc5424', msg: 'hello bare' }],
  },
  {
    name: 'util-linux logger -T --octet-count on a stream socket, lines from stdin',
    needs: ['logger'],
    transport: 'stream',
    command: (p, sock) => ({ cmd: p.logger, args: ['-T', '--octet-count', '-u', sock, '-t', 'st', '-p', 'daemon.info'], input: 'line one\nline two: colon\n' }),
    expect: [
      { facility: 3, severity: 6, tag: 'st', format: 'rfc3164', msg: 'line one' },
      { facility: 3, severity: 6, tag: 'st', format: 'rfc3164', msg: 'line two: colon' },
    ],
  },
  {
    name: 'util-linux logger -T on a stream socket, newline framing',
    needs: ['logger'],
    transport: 'stream',
    command: (p, sock) => ({ cmd: p.logger, args: ['-T', '-u', sock, '-t', 'st2', '-p', 'user.err'], input: 'a\nb\n' }),
    expect: [
      { facility: 1, severity: 3, tag: 'st2', format: 'rfc3164', msg: 'a' },
      { facility: 1, severity: 3, tag: 'st2', format: 'rfc3164', msg: 'b' },
    ],
  },
  {
    name: "Python's logging.handlers.SysLogHandler (NUL-terminated, no tag unless ident)",
    needs: ['python3'],
    transport: 'dgram',
    command: (p, sock) => ({ cmd: p.python3, args: ['-c', PY_HANDLER, sock] }),
    expect: [
      { facility: 17, severity: 4, format: 'rfc3164', msg: 'py warn' },
      { facility: 17, severity: 7, format: 'rfc3164', msg: 'py debug ünïcödé' },
      { facility: 17, severity: 3, tag: 'pyapp', pid: '77', format: 'rfc3164', msg: 'py err: with colon' },
    ],
  },
  {
    name: "busybox logger (glibc's syslog(3)) on /dev/log",
    needs: ['busybox', 'unshare'],
    transport: 'dev-log',
    command: (p) => ({ cmd: p.busybox, args: ['logger', '-t', 'bbtag', '-p', 'user.err', 'hello busybox'] }),
    expect: [{ facility: 1, severity: 3, tag: 'bbtag', format: 'rfc3164', msg: 'hello busybox' }],
  },
  {
    name: "Python's syslog module (glibc's syslog(3), LOG_PID) on /dev/log",
    needs: ['python3', 'unshare'],
    transport: 'dev-log',
    command: (p) => ({ cmd: p.python3, args: ['-c', PY_SYSLOG] }),
    expect: [{ facility: 3, severity: 5, tag: 'pysys', pid: /^[1-9]\d*$/, format: 'rfc3164', msg: 'via glibc' }],
  },
];

/**
 * A shell script that runs cmd with /dev/log being the socket, inside `unshare --mount` (private
 * propagation: nothing is seen outside). Where /dev/log does not exist, a private /dev (a tmpfs with
 * /dev/null kept) gives it a place, so the machine's /dev is never written to.
 */
export function devLogScript(socket: string, scratch: string): string {
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  return [
    'set -e',
    'if [ ! -e /dev/log ] && [ ! -L /dev/log ]; then',
    `  touch ${q(scratch + '/null')}`,
    `  mount --bind /dev/null ${q(scratch + '/null')}`,
    '  mount -t tmpfs memlog-dev /dev',
    '  touch /dev/null /dev/log',
    `  mount --bind ${q(scratch + '/null')} /dev/null`,
    'fi',
    `mount --bind ${q(socket)} /dev/log`,
    'exec "$@"',
  ].join('\n');
}

/** Runs a sender to completion; its pid is the kernel's sender of what it logs (unshare and sh exec into it). */
export function runSender(cmd: string, args: string[], input: string | undefined): Promise<{ code: number | null; output: string; pid: number }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    p.stdout.on('data', (d: Buffer) => (output += d.toString()));
    p.stderr.on('data', (d: Buffer) => (output += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, output, pid: p.pid as number }));
    p.stdin.on('error', () => {});
    p.stdin.end(input ?? '');
  });
}
