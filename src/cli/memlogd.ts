/** memlogd: the daemon's command line (upstream flags, PROTOCOL.md section 3). */
import fs from 'node:fs';
import { binPath } from '../paths.js';
import { DEFAULTS, Memlogd, validateOptions, type MemlogdOptions } from '../daemon/memlogd.js';
import { bindSockets, bindSyslogSocket, DEFAULT_SOCKET_MODE, DEFAULT_SYSLOG_SOCKET_MODE, groupId, parseSocketMode } from '../daemon/socket-path.js';
import { parseCommandLine, UsageError, type FlagSpecs } from './flags.js';
import { BLOCK_BYTES } from '../ring/blocks.js';
import { parseDuration } from '../inputs/rate-limit.js';
import { DEFAULT_KMSG_DEVICE, openKmsg } from '../kmsg/reader.js';
import { closeQuietly } from '../fds.js';

export const MEMLOGD_FLAGS = {
  'socket-log': { type: 'string', arg: 'PATH', default: DEFAULTS.socketLog, help: 'datagram socket that receives fds to read' },
  'socket-query': { type: 'string', arg: 'PATH', default: DEFAULTS.socketQuery, help: 'stream socket for dump and follow clients' },
  'fd-log': { type: 'int', help: 'an already bound SOCK_DGRAM fd to use instead of -socket-log' },
  'fd-query': { type: 'int', help: 'an already listening SOCK_STREAM fd to use instead of -socket-query' },
  'max-lines': { type: 'int', default: DEFAULTS.maxLines, help: 'entries kept in the ring' },
  'max-line-len': { type: 'int', default: DEFAULTS.maxLineLen, help: 'bytes kept of a line; the rest of a longer line is dropped' },
  'max-bytes': { type: 'int', default: DEFAULTS.maxBytes, help: 'bytes of memory for message text in the ring (compressed blocks counted compressed)' },
  'compress-ring': { type: 'bool', default: true, help: 'compress filled blocks of the ring (zstd); -compress-ring=false keeps all text raw' },
  'ring-block-bytes': { type: 'int', default: BLOCK_BYTES, help: 'raw bytes per compressed block (at most a sixteenth of -max-bytes; rings under 64 KiB stay raw unless this is given)' },
  'max-streams': { type: 'int', default: DEFAULTS.maxStreams, help: 'streams read at once; fds beyond are refused, with an entry saying so' },
  'max-clients': { type: 'int', default: DEFAULTS.maxClients, help: 'query clients connected at once; more are answered with an error and closed' },
  'restart-of': { type: 'string', arg: 'ID', help: 'the id of the daemon this one replaces (the init sets it): said in the first entries' },
  'socket-mode': { type: 'string', arg: 'OCTAL', default: '0600', help: 'permission bits of both socket files (connecting needs write permission)' },
  'socket-group': { type: 'string', arg: 'GROUP', help: 'group (name or number) to own both socket files' },
  'mode-timeout-ms': { type: 'int', default: 10_000, help: 'how long a query client may take to send its mode byte' },
  'socket-syslog': { type: 'string', arg: 'PATH', help: 'datagram socket for syslog messages, as /dev/log (one entry per message)' },
  'syslog-stream': { type: 'string', arg: 'PATH', help: 'stream socket for syslog messages (newline, NUL or octet-count framed); a path of its own' },
  'fd-syslog': { type: 'int', help: 'an already bound SOCK_DGRAM fd to use instead of -socket-syslog' },
  'fd-syslog-stream': { type: 'int', help: 'an already listening SOCK_STREAM fd to use instead of -syslog-stream' },
  'syslog-socket-mode': { type: 'string', arg: 'OCTAL', default: '0666', help: 'permission bits of the syslog socket files (anyone may log by default)' },
  'stream-priority-prefix': { type: 'bool', help: 'read a leading <N> (0-7) or <PRI> (0-191) of stream lines as their severity, and strip it' },
  'rate-limit-burst': { type: 'int', default: 0, help: 'at most N entries per source per interval; the rest are dropped and counted (0: no limit)' },
  'rate-limit-interval': { type: 'string', arg: 'DURATION', default: '30s', help: 'the rate limit interval: 30s, 500ms, 1m' },
  kmsg: { type: 'bool', help: 'read the kernel log into entries of source kmsg, as `logwrite -n kmsg memlog-kmsg` would (needs CAP_SYSLOG for /dev/kmsg)' },
  'kmsg-device': { type: 'string', arg: 'PATH', default: DEFAULT_KMSG_DEVICE, help: 'where -kmsg reads: the kernel log device, or a file or FIFO of captured records' },
  daemonize: { type: 'bool', help: 'bind both sockets, then go on in the background and return' },
} satisfies FlagSpecs;


export async function memlogdMain(argv: string[], synopsis = 'memlogd [flags]'): Promise<number | undefined> {
  const parsed = parseCommandLine(argv, MEMLOGD_FLAGS, synopsis);
  if (!parsed) return 0;
  const { values, rest } = parsed;
  if (rest.length > 0) {
    process.stderr.write(`memlogd: unexpected argument "${rest[0]}"\n`);
    return 2;
  }
  if (values['kmsg-device'] !== undefined && values.kmsg !== true) throw new UsageError('-kmsg-device says where -kmsg reads the kernel log; it needs -kmsg');
  const opts: MemlogdOptions = {
    socketLog: values['socket-log'] ?? DEFAULTS.socketLog,
    socketQuery: values['socket-query'] ?? DEFAULTS.socketQuery,
    fdLog: values['fd-log'],
    fdQuery: values['fd-query'],
    maxLines: values['max-lines'] ?? DEFAULTS.maxLines,
    maxLineLen: values['max-line-len'] ?? DEFAULTS.maxLineLen,
    maxBytes: values['max-bytes'] ?? DEFAULTS.maxBytes,
    compressRing: values['compress-ring'] ?? true,
    ringBlockBytes: values['ring-block-bytes'],
    maxStreams: values['max-streams'] ?? DEFAULTS.maxStreams,
    restartOf: values['restart-of'],
    maxClients: values['max-clients'] ?? DEFAULTS.maxClients,
    modeTimeoutMs: values['mode-timeout-ms'],
    socketMode: parseSocketMode(values['socket-mode'] ?? '0600'),
    socketGid: values['socket-group'] === undefined ? undefined : groupId(values['socket-group']),
    socketSyslog: values['socket-syslog'],
    syslogStream: values['syslog-stream'],
    fdSyslog: values['fd-syslog'],
    fdSyslogStream: values['fd-syslog-stream'],
    syslogSocketMode: parseSocketMode(values['syslog-socket-mode'] ?? '0666', '-syslog-socket-mode'),
    streamPriorityPrefix: values['stream-priority-prefix'] === true,
    rateLimitBurst: values['rate-limit-burst'],
    rateLimitIntervalMs: parseDuration(values['rate-limit-interval'] ?? '30s'),
    kmsgDevice: values.kmsg === true ? (values['kmsg-device'] ?? DEFAULT_KMSG_DEVICE) : undefined,
    warn: (line) => process.stderr.write(`memlogd: ${line}\n`),
  };
  validateOptions(opts);
  if (values.daemonize) return daemonize(opts);

  const daemon = await Memlogd.start(opts);
  const failure = await new Promise<Error | undefined>((resolve) => {
    const stop = (): void => resolve(undefined);
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    void daemon.failed.then(resolve);
  });
  await daemon.close();
  if (failure) {
    // Non-zero, so that a supervisor (the init, say) starts a new memlogd.
    process.stderr.write(`memlogd: ${failure.message}; exiting\n`);
    return 1;
  }
  return 0;
}

/**
 * Binds every socket here, so that they exist when this process returns, then
 * starts the daemon proper in the background with them as fds 3 and 4 (and
 * 5 and 6 for the syslog sockets).
 */
async function daemonize(opts: MemlogdOptions): Promise<number> {
  const { logFd, queryFd } = await bindSockets(opts, { mode: opts.socketMode ?? DEFAULT_SOCKET_MODE, gid: opts.socketGid });
  // The parent's copies of what it bound (not of fds it was given) are closed once the child has them.
  const fds = [opts.fdLog === undefined ? logFd : -1, opts.fdQuery === undefined ? queryFd : -1].filter((fd) => fd >= 0);
  const syslogAccess = { mode: opts.syslogSocketMode ?? DEFAULT_SYSLOG_SOCKET_MODE, gid: opts.socketGid };
  const passed: number[] = [logFd, queryFd];
  const syslogArgs: string[] = [];
  try {
    for (const [fdGiven, path, kind, flag] of [
      [opts.fdSyslog, opts.socketSyslog, 'dgram', '-fd-syslog'],
      [opts.fdSyslogStream, opts.syslogStream, 'stream', '-fd-syslog-stream'],
    ] as const) {
      if (fdGiven === undefined && path === undefined) continue;
      let fd = fdGiven ?? -1;
      if (fdGiven === undefined && path !== undefined) {
        fd = await bindSyslogSocket(path, kind, syslogAccess);
        fds.push(fd);
      }
      syslogArgs.push(`${flag}=${3 + passed.length}`);
      passed.push(fd);
    }
    const args = [
      binPath('memlogd'),
      '-fd-log=3',
      '-fd-query=4',
      `-max-lines=${opts.maxLines}`,
      `-max-line-len=${opts.maxLineLen}`,
      `-max-bytes=${opts.maxBytes}`,
      `-compress-ring=${opts.compressRing ?? true}`,
      ...(opts.ringBlockBytes === undefined ? [] : [`-ring-block-bytes=${opts.ringBlockBytes}`]),
      `-max-streams=${opts.maxStreams}`,
      `-max-clients=${opts.maxClients}`,
      ...(opts.modeTimeoutMs === undefined ? [] : [`-mode-timeout-ms=${opts.modeTimeoutMs}`]),
      ...syslogArgs,
      ...(opts.streamPriorityPrefix ? ['-stream-priority-prefix'] : []),
      ...(opts.rateLimitBurst ? [`-rate-limit-burst=${opts.rateLimitBurst}`, `-rate-limit-interval=${opts.rateLimitIntervalMs ?? 30_000}ms`] : []),
      ...(opts.kmsgDevice === undefined ? [] : ['-kmsg', `-kmsg-device=${opts.kmsgDevice}`]),
    ];
    // The daemon proper's stderr goes nowhere: say here, once, if it will not be able to read the kernel log.
    if (opts.kmsgDevice !== undefined) await checkKmsg(opts.kmsgDevice, opts.warn);
    // Loaded here only: the daemon proper never spawns anything, and the module costs resident memory.
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, args, {
      detached: true,
      stdio: ['ignore', 'ignore', 'ignore', ...passed],
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    child.unref();
    return 0;
  } finally {
    for (const fd of fds) fs.closeSync(fd);
  }
}

/** Opens the kernel log as memlogd -kmsg will, and closes it again; warns in one line if it cannot be read. */
async function checkKmsg(device: string, warn: ((line: string) => void) | undefined): Promise<void> {
  try {
    closeQuietly((await openKmsg(device, { follow: true, cancellable: true })).fd);
  } catch (err) {
    warn?.(`-kmsg: ${(err as Error).message}; the kernel log is not collected`);
  }
}
