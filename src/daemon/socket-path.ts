/**
 * Making a socket path ours: a socket file left by a daemon that died is
 * replaced, but one that something still listens on is never taken over, and a
 * path that is not a socket at all is never removed.
 */
import fs from 'node:fs';
import net from 'node:net';
import { bindDgram, bindListen } from '../native.js';

/** True if something is bound to the socket at path (stream or datagram). */
function socketIsLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', (err: NodeJS.ErrnoException) => {
      probe.destroy();
      // A datagram socket answers a stream connect with EPROTOTYPE: it is bound, so alive.
      resolve(err.code === 'EPROTOTYPE');
    });
  });
}

export async function claimSocketPath(path: string): Promise<void> {
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!stat.isSocket()) throw new Error(`${path} exists and is not a socket; not replacing it`);
  if (await socketIsLive(path)) throw new Error(`${path} is in use by another running daemon`);
  fs.unlinkSync(path);
}

export interface SocketAccess {
  /** Permission bits of both socket files (connecting needs write permission). */
  mode: number;
  /** Group to own both socket files, if any (so that its members may connect when mode allows). */
  gid?: number;
}

/** Owner only: nobody else can hand memlogd a stream or read the ring. */
export const DEFAULT_SOCKET_MODE = 0o600;

export interface BoundSockets {
  /** fds of the bound sockets; undefined where the caller gave its own (inherited) fd. */
  logFd: number;
  queryFd: number;
  /** Paths this call created (to remove on shutdown). */
  created: string[];
}

/**
 * Claims and binds whichever of the two sockets has no inherited fd, with the
 * given permissions from the first moment (a umask around bind, so there is
 * no window in which the file has wider ones). On failure nothing is left
 * open or created.
 */
export async function bindSockets(
  paths: { socketLog: string; socketQuery: string; fdLog?: number; fdQuery?: number },
  access: SocketAccess,
): Promise<BoundSockets> {
  const created: string[] = [];
  const opened: number[] = [];
  const withMode = (path: string, make: () => number): number => {
    const fd = bindWithMode(path, make, access);
    opened.push(fd);
    created.push(path);
    return fd;
  };
  try {
    let logFd = paths.fdLog;
    if (logFd === undefined) {
      await claimSocketPath(paths.socketLog);
      logFd = withMode(paths.socketLog, () => bindDgram(paths.socketLog));
    }
    let queryFd = paths.fdQuery;
    if (queryFd === undefined) {
      await claimSocketPath(paths.socketQuery);
      queryFd = withMode(paths.socketQuery, () => bindListen(paths.socketQuery, 511));
    }
    return { logFd, queryFd, created };
  } catch (err) {
    for (const fd of opened) fs.closeSync(fd);
    for (const path of created) fs.rmSync(path, { force: true });
    throw err;
  }
}

/**
 * Binds one socket at path (make() does the binding) with the given
 * permissions from the first moment: a umask around bind, so there is no
 * window in which the file has wider ones. The path must be claimed already.
 */
export function bindWithMode(path: string, make: () => number, access: SocketAccess): number {
  const old = process.umask(0o777 & ~access.mode);
  let fd: number;
  try {
    fd = make();
  } finally {
    process.umask(old);
  }
  try {
    fs.chmodSync(path, access.mode); // exact, whatever the umask left
    if (access.gid !== undefined) fs.chownSync(path, -1, access.gid);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(path, { force: true });
    throw err;
  }
  return fd;
}

/** Claims and binds a syslog socket (datagram, or stream when listening), with its own permissions. */
export async function bindSyslogSocket(path: string, kind: 'dgram' | 'stream', access: SocketAccess): Promise<number> {
  await claimSocketPath(path);
  return bindWithMode(path, () => (kind === 'dgram' ? bindDgram(path) : bindListen(path, 511)), access);
}

/** The /dev/log convention: anyone may log. */
export const DEFAULT_SYSLOG_SOCKET_MODE = 0o666;

/** A group given by name (looked up in /etc/group) or number. */
export function groupId(group: string): number {
  if (/^[0-9]+$/.test(group)) return Number(group);
  let text = '';
  try {
    text = fs.readFileSync('/etc/group', 'utf8');
  } catch {
    // No group database: only numbers work.
  }
  for (const line of text.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === group && gid !== undefined && /^[0-9]+$/.test(gid)) return Number(gid);
  }
  throw new Error(`no group named "${group}"`);
}

/** "0660" (octal, as chmod takes it) to a mode, checked. */
export function parseSocketMode(text: string, flag = '-socket-mode'): number {
  if (!/^0?[0-7]{3}$/.test(text)) throw new RangeError(`${flag} must be octal permission bits such as 0600 or 0660, not "${text}"`);
  return parseInt(text, 8);
}
