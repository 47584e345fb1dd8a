/** The launcher's -no-tee: it becomes the command, with its output handed to memlogd, and leaves nothing behind. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { queryStatus } from '../src/clients/query-client.js';
import { BIN, dump, messagesOf, run, startDaemon, tmpdir, waitFor } from './helpers.js';

/** The launcher as logwrite and as `memlog run`: both must do the same. */
const LAUNCHERS: [string, string[]][] = [
  ['logwrite', [BIN('logwrite')]],
  ['memlog run', [BIN('memlog'), 'run']],
];

interface Exited {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Starts a launcher (killed after the test if still running), collecting what reaches its stdout and stderr; a pipe more on each fd of `extra`. */
function start(t: { after(fn: () => void): void }, argv: string[], extra: number[] = []): { proc: ChildProcess; pid: number; exited: Promise<Exited> } {
  const stdio: ('pipe' | 'ignore')[] = ['pipe', 'pipe', 'pipe'];
  for (const fd of extra) {
    while (stdio.length < fd) stdio.push('ignore');
    stdio[fd] = 'pipe';
  }
  const proc = spawn(process.execPath, argv, { stdio });
  t.after(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  proc.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  proc.stdin?.on('error', () => {});
  const exited = new Promise<Exited>((resolve) => proc.once('close', (code) => resolve({ code, stdout, stderr })));
  return { proc, pid: proc.pid as number, exited };
}

/** Where a command name leads through PATH, as execvp looks it up. */
function which(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const candidate = path.join(dir || '.', name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return fs.realpathSync(candidate);
    } catch {
      // not here
    }
  }
  throw new Error(`${name} not found in PATH`);
}

/** The open-file flags of fd in process pid (the `flags:` line of fdinfo, octal). */
function fdFlags(pid: number | 'self', fd: number): number {
  const line = fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8').split('\n').find((l) => l.startsWith('flags:'));
  return parseInt((line ?? '').split(/\s+/)[1], 8);
}
const O_NONBLOCK = 0o4000;

function statusField(pid: number, field: string): string {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
  return (line ?? '').slice(field.length + 1).trim();
}

test('with -no-tee the launcher becomes the command: its pid, its exit status, stdout in memlogd as NAME.out and stderr as NAME, nothing teed', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t));
  for (const [label, launcher] of LAUNCHERS) {
    const name = `job-${label.replace(' ', '-')}`;
    const l = start(t, [...launcher, '-socket', daemon.logSocket, '-n', name, '-no-tee', 'sh', '-c', 'echo pid=$$; echo oops >&2; exit 7']);
    const r = await l.exited;
    assert.equal(r.code, 7, `${label}: ${r.stderr}`);
    assert.equal(r.stdout, '', `${label}: nothing teed to stdout`);
    assert.equal(r.stderr, '', `${label}: nothing teed to stderr`);
    await waitFor(`${label}: both lines in memlogd`, async () => {
      const entries = await dump(daemon.querySocket);
      return messagesOf(entries, `${name}.out`).length === 1 && messagesOf(entries, name).length === 1;
    });
    const entries = await dump(daemon.querySocket);
    assert.deepEqual(messagesOf(entries, `${name}.out`), [`pid=${l.pid}`], `${label}: the command ran as the launcher's own process`);
    assert.deepEqual(messagesOf(entries, name), ['oops']);
  }
  const logread = await run(process.execPath, [BIN('logread'), '-socket', daemon.querySocket]);
  assert.match(logread.stdout, /;job-logwrite\.out;pid=\d+\n/);
  assert.match(logread.stdout, /;job-logwrite;oops\n/);
});

test('with -no-tee nothing of Node remains: the command alone, with fds 0, 1 and 2 only, every signal at its default and none blocked', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t));
  // Fds more handed to the launcher: Node keeps those it inherits from its children (uv_disable_stdio_inheritance: the
  // first ones), so must the exec; fd 40, past a gap, Node leaves inheritable: only the exec can keep it from the command.
  const l = start(t, [BIN('logwrite'), '-socket', daemon.logSocket, '-n', 'cat', '-no-tee', 'cat'], [3, 40]);
  // What the launcher's stdin gets is what the command reads: stdin stays.
  l.proc.stdin?.write('ready\n');
  await waitFor('cat to echo its stdin into memlogd', async () => messagesOf(await dump(daemon.querySocket), 'cat.out').includes('ready'));

  const pid = l.pid;
  assert.equal(fs.readlinkSync(`/proc/${pid}/exe`), which('cat'), 'the process is the command');
  assert.notEqual(fs.readlinkSync(`/proc/${pid}/exe`), fs.realpathSync(process.execPath));
  assert.equal(fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim(), 'cat');
  const fds = fs.readdirSync(`/proc/${pid}/fd`).map(Number).sort((a, b) => a - b);
  assert.deepEqual(fds, [0, 1, 2], 'no fd of Node (nor the extra one) leaks into the command');
  const [stdin, stdout, stderr] = [0, 1, 2].map((fd) => fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
  assert.match(stdout, /^socket:/, 'stdout goes to memlogd');
  assert.match(stderr, /^socket:/, 'stderr goes to memlogd');
  assert.equal(new Set([stdin, stdout, stderr]).size, 3, "one stream each; stdin is the launcher's (it read 'ready')");
  for (const fd of [0, 1, 2]) assert.equal(fdFlags(pid, fd) & O_NONBLOCK, 0, `fd ${fd} is blocking, as a program expects`);
  assert.equal(statusField(pid, 'SigIgn'), '0000000000000000', 'no signal ignored (Node ignores SIGPIPE and SIGXFSZ)');
  assert.equal(statusField(pid, 'SigBlk'), '0000000000000000', 'no signal blocked');
  assert.equal(statusField(pid, 'SigCgt'), '0000000000000000', 'no handler of Node left');

  l.proc.stdin?.end();
  const r = await l.exited;
  assert.equal(r.code, 0);
  assert.equal(r.stdout, '');
});

test('with -no-tee and no memlogd: one line saying so, then the command with its stdout and stderr unchanged', async (t) => {
  const dir = tmpdir(t);
  const socket = path.join(dir, 'absent.sock');
  for (const [label, launcher] of LAUNCHERS) {
    const r = await run(process.execPath, [...launcher, '-socket', socket, '-no-tee', 'sh', '-c', 'echo out; grep -h ^flags: /proc/$$/fdinfo/1 /proc/$$/fdinfo/2; echo err >&2; exit 5']);
    assert.equal(r.code, 5, label);
    assert.equal(r.stderr, `logwrite: memlogd not reachable at ${socket}; running sh with its output unchanged\nerr\n`, label);
    const [out, ...flags] = r.stdout.trimEnd().split('\n');
    assert.equal(out, 'out', label);
    // The launcher never made its stdout or stderr pipe non-blocking (as process.stdout and .stderr would): the command shares them.
    assert.equal(flags.length, 2, label);
    for (const line of flags) assert.equal(parseInt(line.split(/\s+/)[1], 8) & O_NONBLOCK, 0, `${label}: ${line}`);
  }
});

test('with -no-tee a command that cannot be run: one line why, 127 when not found, 126 when not executable', async (t) => {
  const dir = tmpdir(t);
  const daemon = await startDaemon(t, dir);
  const notExecutable = path.join(dir, 'not-executable');
  fs.writeFileSync(notExecutable, 'echo never\n', { mode: 0o644 });
  const cases: [string, number, string][] = [
    ['/no/such/command', 127, 'no such file or directory (ENOENT)'],
    ['no-such-command-in-path', 127, 'no such file or directory (ENOENT)'],
    [notExecutable, 126, 'permission denied (EACCES)'],
  ];
  for (const [command, code, why] of cases) {
    const r = await run(process.execPath, [BIN('logwrite'), '-socket', daemon.logSocket, '-n', 'never', '-no-tee', command, 'arg']);
    assert.equal(r.code, code, `${command}: ${r.stderr}`);
    assert.equal(r.stderr, `logwrite: cannot run "${command}": ${why}\n`);
    assert.equal(r.stdout, '');
  }
  // memlogd got both streams of each attempt, and saw them end: the launcher kept no copy.
  await waitFor('memlogd to have taken six streams and have none open', async () => {
    const status = await queryStatus(daemon.querySocket);
    return status.streamsAccepted === 2 * cases.length && Array.isArray(status.streams) && status.streams.length === 0;
  });
});
