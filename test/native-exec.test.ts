/** The addon's execvp, each call in a child process (a success replaces it). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runChild } from './native-support.js';

test('execvp runs the program in place, with argv as given (argv[0] included) and the fds given as stdio', () => {
  const r = runChild(`
    // The program writes to fd 1, which is to be this process's stdout again: stdio [0, 1, 1].
    native.execvp('sh', ['custom-name', '-c', 'echo "$0 ran as $$"; echo "on stderr" >&2'], [0, 1, 1]);
  `);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  const lines = r.stdout.trimEnd().split('\n');
  assert.match(lines[0], /^custom-name ran as \d+$/);
  assert.equal(lines[1], 'on stderr');
});

test('an execvp that fails throws a system error and leaves signals and fds 0..2 as they were', () => {
  const r = runChild(`
    const status = () => fs.readFileSync('/proc/self/status', 'utf8').split('\\n').filter((l) => /^Sig(Ign|Blk|Cgt):/.test(l));
    const stdio = () => [0, 1, 2].map((fd) => fs.readlinkSync('/proc/self/fd/' + fd) + ' ' + fs.readFileSync('/proc/self/fdinfo/' + fd, 'utf8').split('\\n')[1]);
    // Node's handler for it must run after the failure (SIG_DFL would end the process).
    let report;
    const alive = setInterval(() => {}, 1000); // a signal handler alone does not keep the loop running
    process.on('SIGUSR2', () => {
      console.log(JSON.stringify(report));
      clearInterval(alive);
    });
    const before = { status: status(), stdio: stdio() };
    const [a, b] = native.socketpair();
    const errors = [];
    for (const [file, fds] of [['/no/such/program', [0, a, b]], ['sh', [0, 1, 999]]]) {
      try {
        native.execvp(file, [file], fds);
      } catch (e) {
        errors.push({ message: e.message, code: e.code, errno: e.errno, syscall: e.syscall, path: e.path });
      }
    }
    const after = { status: status(), stdio: stdio() };
    report = { before, after, errors };
    process.kill(process.pid, 'SIGUSR2');
  `);
  assert.equal(r.signal, null, "Node's own SIGUSR2 handler ran, as before");
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout) as { before: unknown; after: unknown; errors: unknown[] };
  assert.deepEqual(got.after, got.before);
  assert.deepEqual(got.errors, [
    { message: 'execvp /no/such/program: No such file or directory', code: 'ENOENT', errno: -2, syscall: 'execvp', path: '/no/such/program' },
    { message: 'dup fd 999: Bad file descriptor', code: 'EBADF', errno: -9, syscall: 'dup' },
  ]);
});

test('execvp refuses bad arguments with TypeError or RangeError before changing anything', () => {
  const r = runChild(`
    const tries = [
      () => native.execvp(42, ['x'], [0, 1, 2]),
      () => native.execvp('sh', [], [0, 1, 2]),
      () => native.execvp('sh', 'sh', [0, 1, 2]),
      () => native.execvp('sh', ['sh', 3], [0, 1, 2]),
      () => native.execvp('sh', ['sh', 'a\\0b'], [0, 1, 2]),
      () => native.execvp('s\\0h', ['sh'], [0, 1, 2]),
      () => native.execvp('sh', ['sh'], [0, 1]),
      () => native.execvp('sh', ['sh'], [0, 1, -1]),
    ];
    console.log(JSON.stringify(tries.map((f) => { try { f(); return 'ran'; } catch (e) { return e.constructor.name; } })));
  `);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), ['TypeError', 'TypeError', 'TypeError', 'TypeError', 'TypeError', 'TypeError', 'TypeError', 'RangeError']);
});
