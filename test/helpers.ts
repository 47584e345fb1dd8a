/** What the tests share: temporary directories, a real memlogd process, clients. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectQuery, LineReader, parseEntry, type WireEntry } from '../src/clients/query-client.js';
import { sendFdsAsync, socketpair } from '../src/native.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = (name: string): string => path.join(ROOT, 'bin', name);

export function tmpdir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memlog-test-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A temporary directory in memory (/dev/shm) where there is one, else as
 * tmpdir(): for tests that make thousands of files, which a busy disk makes
 * slow. Only the speed depends on which.
 */
export function memTmpdir(t: { after(fn: () => void): void }): string {
  let base = os.tmpdir();
  try {
    fs.accessSync('/dev/shm', fs.constants.W_OK | fs.constants.X_OK);
    if (fs.statSync('/dev/shm').isDirectory()) base = '/dev/shm';
  } catch {
    // No /dev/shm: the usual temporary directory.
  }
  const dir = fs.mkdtempSync(path.join(base, 'memlog-test-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The user the tests run commands as to see what others may do: nobody. */
export const NOBODY = 65534;

export interface OtherUser {
  /** A command line for run() that runs our command bin/NAME as NOBODY (groups: its supplementary groups, none by default). */
  command(name: string, args: string[], groups?: number[]): [string, string[]];
}

/**
 * Our commands as NOBODY would run them, or why that cannot be done here (for t.skip). The checkout may sit
 * where that user cannot go (under /root, say): what the commands load (bin/, the single-file bundles, the
 * addon, package.json) is copied into a directory it can read, and one command is tried from there first.
 */
export async function asNobody(t: { after(fn: () => void): void }): Promise<OtherUser | string> {
  const setpriv = '/usr/bin/setpriv';
  if (process.getuid?.() !== 0 || !fs.existsSync(setpriv)) return 'needs root and setpriv to run commands as another user';
  const dir = tmpdir(t);
  const copy = (rel: string, mode: number): void => {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true, mode: 0o755 });
    fs.copyFileSync(path.join(ROOT, rel), path.join(dir, rel));
    fs.chmodSync(path.join(dir, rel), mode);
  };
  for (const name of fs.readdirSync(path.join(ROOT, 'bin'))) {
    copy(path.join('bin', name), 0o755);
    copy(path.join('dist', 'bundle', `${name}.mjs`), 0o644);
  }
  copy(path.join('build', 'Release', 'memlog_native.node'), 0o755);
  // The compressed ring's zstd binding, found by the bundles through node_modules.
  for (const rel of ['package.json', 'binding.js', path.join('build', 'Release', 'binding.node')]) copy(path.join('node_modules', 'zstd-napi', rel), 0o644);
  copy('package.json', 0o644);
  fs.chmodSync(dir, 0o755);
  const user: OtherUser = {
    command: (name, args, groups = []) => [
      setpriv,
      [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, groups.length > 0 ? `--groups=${groups.join(',')}` : '--clear-groups', process.execPath, path.join(dir, 'bin', name), ...args],
    ],
  };
  // memlogd loads the addon: if this runs, the others do.
  const tried = await run(...user.command('memlogd', ['-help']));
  if (tried.code !== 0) {
    const lines = tried.stderr.trim().split('\n');
    return `uid ${NOBODY} cannot run the commands even from ${dir}: ${(lines.find((l) => /Error/.test(l)) ?? lines[0]).trim()}`;
  }
  return user;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls check until it gives a value; the deadline only bounds a failure, so it is generous (a busy machine is slow). */
export async function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // A check may throw while what it looks at does not exist yet (a file, a socket): that is "not yet".
    let failure: unknown;
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      failure = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${failure ? `: ${(failure as Error).message}` : ''}`);
    }
    await sleep(20);
  }
}

export interface Persister {
  proc: ChildProcess;
  stderr(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts bin/logwrite, the persister, reading querySocket into dir (stopped after the test). */
export function startPersister(t: { after(fn: () => void | Promise<void>): void }, querySocket: string, dir: string, flags: string[] = []): Persister {
  const proc = spawn(process.execPath, [BIN('logwrite'), '-socket', querySocket, '-log-dir', dir, ...flags], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const p: Persister = {
    proc,
    stderr: () => stderr,
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
  };
  t.after(() => p.stop());
  return p;
}

export interface DaemonProcess {
  proc: ChildProcess;
  pid: number;
  logSocket: string;
  querySocket: string;
  stderr(): string;
  stop(): Promise<number | null>;
}

/**
 * Raw bytes per compressed ring block in the suite's daemons: small, so that
 * every test's entries go through sealed, compressed blocks (64 KiB in use).
 */
export const TEST_BLOCK_BYTES = 2048;

/** Starts bin/memlogd on sockets in dir and waits until it answers a dump. */
export async function startDaemon(
  t: { after(fn: () => void | Promise<void>): void },
  dir: string,
  flags: string[] = [],
): Promise<DaemonProcess> {
  const logSocket = path.join(dir, 'log.sock');
  const querySocket = path.join(dir, 'query.sock');
  const ringFlags = flags.some((f) => /compress-ring|ring-block-bytes/.test(f)) ? [] : [`-ring-block-bytes=${TEST_BLOCK_BYTES}`];
  const proc = spawn(process.execPath, [BIN('memlogd'), '-socket-log', logSocket, '-socket-query', querySocket, ...ringFlags, ...flags], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const daemon: DaemonProcess = {
    proc,
    pid: proc.pid as number,
    logSocket,
    querySocket,
    stderr: () => stderr,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
  };
  t.after(() => daemon.stop().then(() => undefined));
  await waitFor('memlogd to answer a dump', async () => {
    if (proc.exitCode !== null) throw new Error(`memlogd exited with ${proc.exitCode}: ${stderr}`);
    try {
      const entries = await dump(querySocket);
      return entries.some((e) => e.source === 'memlogd' && e.msg === 'memlogd started');
    } catch {
      return false;
    }
  });
  return daemon;
}

/** Mode 0: every entry in the ring. */
export async function dump(querySocket: string): Promise<WireEntry[]> {
  const socket = await connectQuery(querySocket, 0);
  return collect(socket);
}

function collect(socket: import('node:net').Socket): Promise<WireEntry[]> {
  const lines = new LineReader();
  const entries: WireEntry[] = [];
  return new Promise((resolve, reject) => {
    socket.on('data', (chunk: Buffer) =>
      lines.push(chunk, (line) => {
        const e = parseEntry(line);
        if (!e) reject(new Error(`not an entry: ${line.toString()}`));
        else entries.push(e);
      }),
    );
    socket.on('end', () => resolve(entries));
    socket.on('error', reject);
  });
}

/** A follower (mode 1 or 2) collecting entries until stopped. */
export async function follow(querySocket: string, mode = 1): Promise<{ entries: WireEntry[]; raw: () => number; close(): void }> {
  const socket = await connectQuery(querySocket, mode);
  const lines = new LineReader();
  const entries: WireEntry[] = [];
  let bytes = 0;
  socket.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    lines.push(chunk, (line) => {
      const e = parseEntry(line);
      if (e) entries.push(e);
    });
  });
  socket.on('error', () => {});
  return { entries, raw: () => bytes, close: () => socket.destroy() };
}

/** Hands memlogd the read end of a new socketpair under name (waiting for room in its queue); returns the write end's fd. */
export async function openStream(logSocket: string, name: string | Buffer): Promise<number> {
  const [mine, theirs] = socketpair();
  try {
    await sendFdsAsync(logSocket, typeof name === 'string' ? Buffer.from(name) : name, [theirs]);
  } catch (err) {
    fs.closeSync(mine);
    throw err;
  } finally {
    fs.closeSync(theirs);
  }
  return mine;
}

export function fdCount(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/** Waits until pid's open fds are back to baseline (closing is asynchronous). */
export async function fdsBackTo(pid: number, baseline: number): Promise<void> {
  await waitFor(`fds of ${pid} back to ${baseline} (now ${fdCount(pid)})`, () => fdCount(pid) <= baseline);
}

export function messagesOf(entries: WireEntry[], source: string): string[] {
  return entries.filter((e) => e.source === source).map((e) => e.msg);
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion and captures its output. */
export function run(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => proc.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    proc.on('error', reject);
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    // A child that never reads its stdin (or has exited) makes this an EPIPE: not the test's concern.
    proc.stdin.on('error', () => {});
    proc.stdin.end(opts.input ?? '');
  });
}

/** The Unix sockets named path in /proc/net/unix: the one bound there and those a server accepted on it. */
export function socketsAt(socketPath: string): { inode: string; state: string }[] {
  const found: { inode: string; state: string }[] = [];
  for (const line of fs.readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols[7] === socketPath) found.push({ inode: cols[6], state: cols[5] });
  }
  return found;
}

/** Connections the server listening at socketPath has accepted (or that wait to be) and not closed yet. */
export function openConnections(socketPath: string): number {
  return socketsAt(socketPath).filter((s) => s.state === '03').length;
}

/** Pids of the processes that have the Unix socket bound at path open (from /proc/net/unix). */
export function pidsHoldingSocket(socketPath: string): number[] {
  const inodes = new Set(socketsAt(socketPath).map((s) => s.inode));
  const pids: number[] = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
        const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m && inodes.has(m[1])) {
          pids.push(Number(pid));
          break;
        }
      }
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

/**
 * A stand-in for the upstream Go daemon's query socket: one mode byte; 0-2 answered with plain JSON lines,
 * anything else left silent. The mode byte of every request is pushed to requests, if given; the connections
 * in modes 1 and 2 to followers, if given, for a test to send them new entries.
 */
export function fakeUpstream(
  socketPath: string,
  entries: { time: string; source: string; msg: string }[],
  requests: number[] = [],
  followers: net.Socket[] = [],
): net.Server {
  const server = net.createServer((socket) => {
    socket.once('data', (data) => {
      const mode = data[0];
      requests.push(mode);
      if (mode > 2) return; // upstream: the connection stays open, nothing is sent
      if (mode !== 1) socket.write(entries.map((e) => JSON.stringify(e) + '\n').join(''));
      if (mode === 0) socket.end();
      else followers.push(socket);
    });
    socket.on('error', () => {});
  });
  server.listen(socketPath);
  return server;
}
