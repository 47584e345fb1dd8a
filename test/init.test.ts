/** memlog init, as a user runs it: real processes, FIFOs, socketpairs, files. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, ROOT, run, tmpdir, waitFor } from './helpers.js';
import { freePort } from './rsyslog-receiver.js';
import { processesWith, readIfThere as read, startInit, writeConfig } from './init-helpers.js';

const NODE = JSON.stringify(process.execPath);

/**
 * Boots config in dir until check() holds (what the test is about is there to see, however long the machine
 * takes), then stops it with SIGTERM as an operator would; resolves with the init's exit status.
 */
async function bootUntil(t: { after(fn: () => void): void }, dir: string, config: string, what: string, check: () => boolean, timeoutMs = 60_000): Promise<{ code: number | null; stderr: string }> {
  const init = startInit(t, dir, config);
  await waitFor(what, () => {
    if (init.proc.exitCode !== null) throw new Error(`the init exited with ${init.proc.exitCode}: ${init.stderr()}`);
    return check();
  }, timeoutMs);
  init.proc.kill('SIGTERM');
  return { code: await init.done, stderr: init.stderr() };
}

const LOGWRITE = (extra = ''): string => `
  - name: logwrite
    command: [${NODE}, ${JSON.stringify(BIN('logwrite'))}, -socket, ./run/memlogdq.sock, -log-dir, ./var/log${extra}]
    restart: always
    stop: last`;

test('lines of the first on-boot action, long before logwrite starts, end up in ./var/log', async (t) => {
  const dir = tmpdir(t);
  const config = writeConfig(
    dir,
    `memlogd: {}
onboot:
  - name: first
    command: [sh, -c, 'echo "from the very first action"; echo "and its stderr" >&2']
  - name: wait
    command: [sleep, '0.5']
services:${LOGWRITE()}
`,
  );
  const booted = await bootUntil(t, dir, config, 'the init log on disk', () => /on-boot onboot\.000-first: exited/.test(read(path.join(dir, 'var/log/init.log'))));
  assert.equal(booted.code, 0, booted.stderr);
  assert.match(read(path.join(dir, 'var/log/onboot.000-first.out.log')), /^\S+Z onboot\.000-first\.out from the very first action\n$/);
  assert.match(read(path.join(dir, 'var/log/onboot.000-first.log')), / onboot\.000-first and its stderr\n/);
  // The init's own story is persisted too, as source init.
  assert.match(read(path.join(dir, 'var/log/init.log')), /on-boot onboot\.000-first: exited with status 0/);
});

test('without a memlogd section, output goes to files as LinuxKit does by default', async (t) => {
  const dir = tmpdir(t);
  const config = writeConfig(
    dir,
    `log-dir: ./logs
onboot:
  - name: setup
    command: [sh, -c, 'echo setup out; echo setup err >&2']
services:
  - name: svc
    command: [sh, -c, 'echo svc out; echo svc err >&2; sleep 100']
`,
  );
  const booted = await bootUntil(t, dir, config, "the service's lines in its files", () => read(path.join(dir, 'logs/svc.out.log')) !== '' && read(path.join(dir, 'logs/svc.log')) !== '');
  assert.equal(booted.code, 0, booted.stderr);
  assert.equal(read(path.join(dir, 'logs/onboot/000-setup.out.log')), 'setup out\n');
  assert.equal(read(path.join(dir, 'logs/onboot/000-setup.log')), 'setup err\n');
  assert.equal(read(path.join(dir, 'logs/svc.out.log')), 'svc out\n');
  assert.equal(read(path.join(dir, 'logs/svc.log')), 'svc err\n');
  assert.match(read(path.join(dir, 'logs/init.log')), /no memlogd section/);
  assert.ok(!fs.existsSync(path.join(dir, 'run')), 'no sockets without memlogd');
});

test('on-boot actions run one after another, in order, each to completion; a failure does not stop the boot', async (t) => {
  const dir = tmpdir(t);
  const order = path.join(dir, 'order.txt');
  const step = (name: string, extra = ''): string => `
  - name: ${name}
    command: [sh, -c, 'echo "start ${name}" >> ${order}; ${extra} echo "end ${name}" >> ${order}']`;
  const config = writeConfig(dir, `memlogd: {}\nonboot:${step('a', 'sleep 0.3;')}${step('b', 'exit 4;')}${step('c')}\nservices:${LOGWRITE()}\n`);
  const init = startInit(t, dir, config, ['-stop-after', '2']);
  assert.equal(await init.done, 0, init.stderr());
  assert.equal(read(order), 'start a\nend a\nstart b\nstart c\nend c\n');
  assert.match(init.stderr(), /onboot\.001-b: exited with status 4; going on with the boot/);
});

test('restart policies: on-failure restarts a failing service, never does not, always restarts even a clean exit', async (t) => {
  const dir = tmpdir(t);
  const config = writeConfig(
    dir,
    `memlogd: {}
services:${LOGWRITE()}
  - name: flaky
    command: [sh, -c, 'echo flaky run; exit 1']
    restart: on-failure
    restart-delay: 0.2
  - name: once
    command: [sh, -c, 'echo once; exit 1']
    restart: never
  - name: again
    command: [sh, -c, 'echo again; exit 0']
    restart: always
    restart-delay: 0.2
  - name: done
    command: [sh, -c, 'exit 0']
    restart: on-failure
`,
  );
  const initLog = (): string => read(path.join(dir, 'var/log/init.log'));
  const times = (pattern: RegExp): number => initLog().match(pattern)?.length ?? 0;
  const booted = await bootUntil(t, dir, config, 'three restarts of flaky, two of again, the end of once and done, on disk', () =>
    times(/service flaky: restarting/g) >= 3 && times(/service again: restarting/g) >= 2 && times(/service once: exited/g) === 1 && times(/service done: exited/g) === 1,
  );
  assert.equal(booted.code, 0, booted.stderr);
  const log = initLog();
  assert.doesNotMatch(log, /service once: restarting/);
  assert.doesNotMatch(log, /service done: restarting/);
  assert.match(log, /service flaky: exited with status 1/);
  // Backoff: the delays grow while it keeps failing fast.
  const delays = [...log.matchAll(/service flaky: restarting in ([\d.]+) s/g)].map((m) => Number(m[1]));
  assert.deepEqual(delays.slice(0, 3), [0.2, 0.4, 0.8]);
  // One stream per service for its whole life: every run's line is in one file.
  assert.ok(read(path.join(dir, 'var/log/flaky.out.log')).split('\n').filter((l) => l.endsWith('flaky run')).length >= 3);
});

test('SIGTERM stops everything in order: no process left behind, no line that reached memlogd missing from disk', async (t) => {
  const dir = tmpdir(t);
  const marker = `memlog-orphan-check-${process.pid}-${Date.now()}`;
  const truth = path.join(dir, 'printed.txt');
  const config = writeConfig(
    dir,
    `memlogd: {}
shutdown-grace: 2
services:${LOGWRITE()}
  - name: counter
    command: [sh, -c, 'i=0; while :; do i=$((i+1)); echo "count $i"; echo $i >> ${truth}; sleep 0.005; done']
  - name: forker
    command: [sh, -c, 'sleep 1000 & sleep 1000 & echo "${marker}"; wait']
  - name: stubborn
    command: [sh, -c, 'trap "" TERM; echo stubborn; while :; do sleep 0.1; done']
`,
  );
  const init = startInit(t, dir, config);
  await waitFor('the counter on disk', () => read(path.join(dir, 'var/log/counter.out.log')).includes('count 50'));
  await waitFor('the forker children', () => processesWith('sleep 1000').length > 0 || undefined);
  init.proc.kill('SIGTERM');
  assert.equal(await init.done, 0, init.stderr());
  // Nothing the init started still runs, not even what the services started, not even one that ignores SIGTERM
  // (killed ones may take a moment to be reaped: what is left is named if they never go).
  await waitFor(`nothing left running: ${[...processesWith(marker), ...processesWith('trap "" TERM')].join(', ')}`, () => processesWith(marker).length === 0 && processesWith('trap "" TERM').length === 0);
  assert.ok(!fs.existsSync(path.join(dir, 'run/memlogdq.sock')), 'memlogd stopped and removed its socket');
  // Every line the counter printed (it wrote each to the side file after printing it) is on disk, once.
  const printed = read(truth).trim().split('\n').map(Number);
  const onDisk = read(path.join(dir, 'var/log/counter.out.log')).trim().split('\n').map((l) => Number(l.split(' ').at(-1)));
  assert.deepEqual(onDisk, Array.from({ length: onDisk.length }, (_, i) => i + 1));
  assert.ok(onDisk.length >= printed.length, `${printed.length} printed, ${onDisk.length} on disk`);
  assert.match(read(path.join(dir, 'var/log/init.log')), /stubborn: still running after 2000 ms; killing it/);
  assert.match(read(path.join(dir, 'var/log/init.log')), /stopping logwrite last/);
});

test('a bad config file is a one-line error naming the file, line and field', async (t) => {
  const dir = tmpdir(t);
  const config = writeConfig(dir, `services:\n  - name: x\n    command: [sleep, '1']\n    restart: sometimes\n`);
  const r = await run(process.execPath, [BIN('memlog'), 'init', config]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /boot\.yml:4: services\[0\]\.restart: .*sometimes/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
});

test('the main job runs twice in a row', { timeout: 240_000 }, async (t) => {
  const dir = tmpdir(t);
  // A copy of the project's examples next to its bin/, in a fresh directory: ./run and ./var/log start empty.
  fs.cpSync(path.join(ROOT, 'examples'), path.join(dir, 'examples'), { recursive: true });
  fs.symlinkSync(path.join(ROOT, 'bin'), path.join(dir, 'bin'));
  // The web page's service on a free port, not the example's 8080, which another run may hold.
  const config = path.join(dir, 'examples/boot.yml');
  const url = `http://127.0.0.1:${await freePort()}/`;
  fs.writeFileSync(config, read(config).replace('127.0.0.1:8080', url.slice(7, -1)));
  const logDir = path.join(dir, 'var/log');
  const count = (file: string, pattern: RegExp): number => read(path.join(logDir, file)).split('\n').filter((l) => pattern.test(l)).length;
  const firstActions = (): number => count('onboot.000-hello.out.log', /first on-boot action/);
  const crasherRestarts = (): number => count('init.log', /service crasher: restarting/);
  const chattyRotated = (): boolean => fs.readdirSync(logDir).some((f) => f.startsWith('chatty.out.log.'));
  // Each boot runs until what it is about is on disk, then is stopped as an operator would stop it.
  for (let boot = 1; boot <= 2; boot++) {
    const restartsBefore = boot === 1 ? 0 : crasherRestarts();
    const init = startInit(t, dir, 'examples/boot.yml');
      await waitFor(`boot ${boot}: its first on-boot action on disk, and the crasher restarted`, () => firstActions() === boot && crasherRestarts() > restartsBefore, 60_000);
    // chatty writes 16 KiB (the example's -max-log-size) in a few seconds, by the second boot at the latest.
    if (boot === 2) await waitFor('chatty to rotate', chattyRotated, 120_000);
    // The web page's service: its URL in its log, the page and memlogd's status behind it.
    await waitFor(`boot ${boot}: memlog web's URL in web.out.log`, () => count('web.out.log', new RegExp(` memlog web: ${url.replaceAll('.', '\\.')}$`)) === boot, 60_000);
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    const status = (await (await fetch(new URL('/api/status', url))).json()) as { daemon?: string };
    assert.match(status.daemon ?? '', /^[0-9a-f]{16}$/);
    init.proc.kill('SIGTERM');
    assert.equal(await init.done, 0, init.stderr());
  }
  // Both boots in the same files: the first action's line twice; rotation and the crasher's restarts there to see.
  assert.equal(firstActions(), 2, read(path.join(logDir, 'onboot.000-hello.out.log')));
  assert.match(read(path.join(logDir, 'init.log')), /service crasher: restarting/);
  assert.ok(chattyRotated(), 'chatty rotated');
});

test('memlogd killed with -9 under load: no writer gets EPIPE or dies, and the same streams flow again', async (t) => {
  const dir = tmpdir(t);
  const config = writeConfig(
    dir,
    `memlogd: {}
services:
  - name: counter
    command: [sh, -c, 'i=0; while :; do i=$((i+1)); echo "count $i" || exit 9; echo "err $i" >&2 || exit 9; sleep 0.002; done']
`,
  );
  const init = startInit(t, dir, config);
  const querySocket = path.join(dir, 'run/memlogdq.sock');
  const { dump, messagesOf } = await import('./helpers.js');
  await waitFor('the counter in memlogd', async () => messagesOf(await dump(querySocket), 'counter.out').length > 50);
  const before = await dump(querySocket);
  // memlogd is the init's child that was handed the query socket as fd 4.
  const memlogd = processesWith('-fd-query=4', init.proc.pid);
  assert.equal(memlogd.length, 1);
  process.kill(Number(memlogd[0].split(':')[0]), 'SIGKILL');
  // The new daemon says what happened, and the counter's lines come again under the same names.
  const after = await waitFor('the new memlogd with the counter', async () => {
    try {
      const e = await dump(querySocket);
      return e.some((x) => /memlogd restarted in place of daemon/.test(x.msg)) && messagesOf(e, 'counter.out').length > 20 && messagesOf(e, 'counter').length > 20 && e;
    } catch {
      return false;
    }
  });
  assert.equal(after[0].msg, 'memlogd started');
  assert.match(after[1].msg, /memlogd restarted in place of daemon \S+, which stopped/);
  // The counter was never told the reader was gone: it is still the same process, still counting.
  const lastBefore = Number(messagesOf(before, 'counter.out').at(-1)?.split(' ')[1]);
  const firstAfter = Number(messagesOf(after, 'counter.out')[0].split(' ')[1]);
  assert.ok(firstAfter > lastBefore, `counting on: ${lastBefore} then ${firstAfter}`);
  init.proc.kill('SIGTERM');
  assert.equal(await init.done, 0);
  assert.doesNotMatch(init.stderr(), /service counter: (exited|was killed)[^\n]*\n[^\n]*restarting/);
  assert.match(init.stderr(), /memlogd \(pid \d+\) was killed by SIGKILL; starting a new one on the same sockets/);
  assert.match(init.stderr(), /memlogd restarted \(pid \d+\); \d+ streams handed over again/);
  assert.doesNotMatch(init.stderr(), /service counter: exited with status 9/);
});
