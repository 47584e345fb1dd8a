/**
 * The init's `persist:` section: memlogd's ring written to files by the init
 * itself, with logwrite's persister, in place of a logwrite service. The
 * section's validation; and boots as a user runs them: every on-boot action's
 * and service's lines on disk, once each, rotated as configured, the last
 * lines said at shutdown there too, a second boot resuming in the same files,
 * and no logwrite process anywhere.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, parseConfig } from '../src/init/config.js';
import { BIN, dump, run, tmpdir, waitFor } from './helpers.js';
import { processesWith, readIfThere as read, startInit, writeConfig } from './init-helpers.js';

function errorOf(text: string): string {
  try {
    parseConfig(text, 'boot.yml', '/base');
  } catch (err) {
    assert.ok(err instanceof ConfigError, `not a ConfigError: ${String(err)}`);
    return err.message;
  }
  assert.fail(`parsed without error:\n${text}`);
}

test('persist: every key read, the defaults logwrite has, the top-level log-dir unless set', () => {
  const full = parseConfig(
    'memlogd: {}\npersist:\n  log-dir: disk/log\n  max-log-files: 3\n  max-log-size: 4096\n  compress: true\n  max-source-bytes: 100000\n  max-dir-bytes: 1000000\n  format: json\n  fsync: true\n',
    'boot.yml',
    '/base',
  );
  assert.deepEqual(full.persist, {
    logDir: '/base/disk/log',
    maxFiles: 3,
    maxFileSize: 4096,
    compress: true,
    maxSourceBytes: 100000,
    maxDirBytes: 1000000,
    format: 'json',
    fsync: true,
  });
  const defaults = { logDir: '/base/logs', maxFiles: 10, maxFileSize: 1024 * 1024, compress: false, format: 'text', fsync: false };
  for (const section of ['persist:\n', 'persist: {}\n', 'persist: ~\n']) {
    assert.deepEqual(parseConfig(`log-dir: logs\nmemlogd: {}\n${section}`, 'boot.yml', '/base').persist, defaults, section);
  }
  assert.equal('persist' in parseConfig('memlogd: {}\n', 'boot.yml', '/base'), false);
});

test('persist: each mistake is a one-line error naming the file, line and field', () => {
  const cases: [string, string][] = [
    ['memlogd: {}\npersist:\n  max-log-file: 3\n', "boot.yml:3: persist.max-log-file: unknown key; allowed keys: log-dir, max-log-files, max-log-size, compress, max-source-bytes, max-dir-bytes, format, fsync"],
    ['memlogd: {}\npersist:\n  socket: /run/q.sock\n', "boot.yml:3: persist.socket: unknown key; allowed keys: log-dir, max-log-files, max-log-size, compress, max-source-bytes, max-dir-bytes, format, fsync (the persister reads memlogd's query socket, from the memlogd section)"],
    ['memlogd: {}\npersist:\n  max-log-files: 0\n', 'boot.yml:3: persist.max-log-files: must be a whole number from 1 to 1000000 (got number 0)'],
    ['memlogd: {}\npersist:\n  max-log-size: 1.5\n', 'boot.yml:3: persist.max-log-size: must be a whole number from 1 to 1099511627776 (got number 1.5)'],
    ['memlogd: {}\npersist:\n  max-log-size: "16384"\n', 'boot.yml:3: persist.max-log-size: must be a whole number from 1 to 1099511627776 (got string "16384")'],
    ['memlogd: {}\npersist:\n  format: xml\n', 'boot.yml:3: persist.format: must be text or json (got "xml")'],
    ['memlogd: {}\npersist:\n  compress: yes\n', 'boot.yml:3: persist.compress: must be true or false (got string "yes")'],
    ['memlogd: {}\npersist:\n  log-dir: ""\n', 'boot.yml:3: persist.log-dir: must be a path (got an empty string)'],
    ['memlogd: {}\npersist: [a]\n', 'boot.yml:2: persist: must be a map (got a list)'],
    ["persist:\n  log-dir: /var/log\n", "boot.yml:1: persist: needs a memlogd section (it writes memlogd's ring to files; without memlogd, output goes to files under log-dir already)"],
  ];
  for (const [text, message] of cases) assert.equal(errorOf(text), message, text);
});

const COUNTED = 400;

/**
 * A boot with the persister in the init: an on-boot action, a counter that
 * prints COUNTED numbered lines (each also to a side file, after printing it),
 * and a service that says its last words at SIGTERM.
 */
function persistConfig(dir: string, truth: string): string {
  return writeConfig(
    dir,
    `memlogd: {}
shutdown-grace: 5
persist:
  log-dir: ./var/log
  max-log-size: 2048
  max-log-files: 16
onboot:
  - name: first
    command: [sh, -c, 'echo "from the very first action"; echo "and its stderr" >&2']
services:
  - name: counter
    command: [sh, -c, 'i=0; while [ $i -lt ${COUNTED} ]; do i=$((i+1)); echo "counted line $i"; echo $i >> ${truth}; done; exec sleep 1000']
  - name: talker
    command: [sh, -c, 'trap "echo \\"talker: last words\\"; exit 0" TERM; echo "talker: up"; while :; do sleep 0.05; done']
`,
  );
}

/** counter.out.log and its rotated files, oldest first. */
function counterFiles(logDir: string): string[] {
  const rotated = fs
    .readdirSync(logDir)
    .map((f) => /^counter\.out\.log\.(\d+)$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => b - a)
    .map((n) => `counter.out.log.${n}`);
  return [...rotated, 'counter.out.log'];
}

test('a boot with persist: every line on disk once, rotated as configured, the last words at shutdown too, and no logwrite process', async (t) => {
  const dir = tmpdir(t);
  const truth = path.join(dir, 'printed.txt');
  const logDir = path.join(dir, 'var/log');
  const config = persistConfig(dir, truth);
  const init = startInit(t, dir, config);
  await waitFor('the talker and the whole count on disk', () => {
    if (init.proc.exitCode !== null) throw new Error(`the init exited with ${init.proc.exitCode}: ${init.stderr()}`);
    return read(path.join(logDir, 'talker.out.log')).includes('talker: up') && read(path.join(logDir, 'counter.out.log')).includes(`counted line ${COUNTED}\n`);
  });
  // The persister is the init's: no process of its own.
  assert.deepEqual(processesWith('logwrite', init.proc.pid), []);
  init.proc.kill('SIGTERM');
  assert.equal(await init.done, 0, init.stderr());

  // The on-boot action's two streams, from before the persister started.
  assert.match(read(path.join(logDir, 'onboot.000-first.out.log')), /^\S+Z onboot\.000-first\.out from the very first action\n$/);
  assert.match(read(path.join(logDir, 'onboot.000-first.log')), /^\S+Z onboot\.000-first and its stderr\n$/);
  // Every counted line, once, in order, across the rotated files: none lost, none twice.
  const files = counterFiles(logDir);
  const numbers = files.flatMap((f) => read(path.join(logDir, f)).trim().split('\n')).map((l) => Number(l.split(' ').at(-1)));
  assert.deepEqual(numbers, Array.from({ length: COUNTED }, (_, i) => i + 1));
  assert.equal(read(truth).trim().split('\n').length, COUNTED);
  // Rotation as configured: files of at most 2048 bytes (rotated once a line takes them past it), at most 16 per source.
  assert.ok(files.length >= 3 && files.length <= 16, `files: ${files.join(', ')}`);
  for (const f of files.slice(0, -1)) {
    const size = fs.statSync(path.join(logDir, f)).size;
    assert.ok(size > 2048 && size < 2048 + 100, `${f}: ${size} bytes`);
  }
  // What the talker said as it was stopped, after every service stopped: on disk.
  assert.match(read(path.join(logDir, 'talker.out.log')), /talker: last words\n$/);
  // The init's own story, persisted by itself.
  const initLog = read(path.join(logDir, 'init.log'));
  assert.match(initLog, /persist: writing memlogd's ring to /);
  assert.match(init.stderr(), /persist: wrote everything memlogd held \(up to seq \d+\) before stopping/);
});

test('persist: a second boot resumes in the same files, and a full one keeps only max-log-files', async (t) => {
  const dir = tmpdir(t);
  const logDir = path.join(dir, 'var/log');
  const config = writeConfig(
    dir,
    `memlogd: {}
persist:
  log-dir: ./var/log
  max-log-size: 1024
  max-log-files: 3
onboot:
  - name: first
    command: [sh, -c, 'echo "boot line"']
services:
  - name: filler
    command: [sh, -c, 'i=0; while [ $i -lt 300 ]; do i=$((i+1)); echo "filler line $i"; done; exec sleep 1000']
`,
  );
  for (let boot = 1; boot <= 2; boot++) {
    const init = startInit(t, dir, config);
    // The filler's last line in this boot's memlogd (the file may still end with the boot before's):
    // the persister writes all memlogd holds before it stops.
    await waitFor(`boot ${boot}: the boot line on disk and the filler's last line in memlogd`, async () => {
      if (init.proc.exitCode !== null) throw new Error(`the init exited with ${init.proc.exitCode}: ${init.stderr()}`);
      if (read(path.join(logDir, 'onboot.000-first.out.log')).split('\n').filter((l) => l.endsWith('boot line')).length !== boot) return false;
      try {
        return (await dump(path.join(dir, 'run/memlogdq.sock'))).some((e) => e.source === 'filler.out' && e.msg === 'filler line 300');
      } catch {
        return false; // memlogd not answering yet
      }
    });
    init.proc.kill('SIGTERM');
    assert.equal(await init.done, 0, init.stderr());
    // Resumed: the previous memlogd was written out at its shutdown, so nothing is marked lost.
    if (boot === 2) assert.match(init.stderr(), /persist: a new memlogd \(.+\); the previous one was written out completely before it stopped/);
  }
  // Each boot's line once, in one file.
  assert.equal(read(path.join(logDir, 'onboot.000-first.out.log')).split('\n').filter((l) => l.endsWith('boot line')).length, 2);
  // 600 lines of ~40 bytes: far more than 3 files of 1 KiB; only X.log, X.log.1 and X.log.2 are kept, ending at the last line.
  const kept = fs.readdirSync(logDir).filter((f) => f.startsWith('filler.out.log')).sort();
  assert.deepEqual(kept, ['filler.out.log', 'filler.out.log.1', 'filler.out.log.2']);
  assert.match(read(path.join(logDir, 'filler.out.log')), /filler line 300\n$/);
  assert.doesNotMatch(read(path.join(logDir, 'filler.out.log')), /lost|restarted/);
});

test('memlog init -check prints the config as the init reads it; the init reads it that way, apart, and refuses a bad one in one line', async (t) => {
  const dir = tmpdir(t);
  const config = writeConfig(dir, 'memlogd: {}\npersist:\n  max-log-files: 2\nservices:\n  - name: a\n    command: [sleep, "1"]\n');
  const checked = await run(process.execPath, [BIN('memlog'), 'init', '-check', config]);
  assert.equal(checked.code, 0, checked.stderr);
  assert.deepEqual(JSON.parse(checked.stdout), parseConfig(fs.readFileSync(config, 'utf8'), config, process.cwd()));
  const bad = writeConfig(dir, 'memlogd: {}\npersist:\n  format: xml\n');
  for (const flags of [['-check'], []]) {
    const r = await run(process.execPath, [BIN('memlog'), 'init', ...flags, bad]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `memlog: ${bad}:3: persist.format: must be text or json (got "xml")\n`);
  }
});
