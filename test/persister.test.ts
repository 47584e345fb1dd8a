/** logwrite, the persister, end to end: real memlogd, real logwrite processes, real files. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { BIN, ROOT, dump, fakeUpstream, memTmpdir, messagesOf, openStream, run, startDaemon, startPersister, tmpdir, waitFor } from './helpers.js';
import { cpuMicros } from '../bench/proc-stats.js';
import { queryStatus } from '../src/clients/query-client.js';
import { MODE_RESUME, MODE_STATUS } from '../src/protocol/wire.js';
import { MAX_KEPT_FILES } from '../src/persist/log-files.js';
import { StateStore, STATE_FILES } from '../src/persist/state.js';

const STEADY = path.join(ROOT, 'dist/test/steady-writer.js');



function startWriter(t: { after(fn: () => void | Promise<void>): void }, logSocket: string, name: string, start: number, count: number, batch = 5): ChildProcess {
  const proc = spawn(process.execPath, [BIN('logwrite'), '-socket', logSocket, '-n', name, process.execPath, STEADY, name, String(start), String(count), String(batch)], {
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  t.after(() => {
    proc.kill('SIGKILL');
  });
  return proc;
}

function exited(proc: ChildProcess): Promise<void> {
  return proc.exitCode !== null ? Promise.resolve() : new Promise((r) => proc.once('exit', () => r()));
}

function read(file: string): string {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
}

/** Complete lines in DIR/<file> and its rotated files (a file may be read while it is written: nothing is parsed). */
function linesOnDisk(dir: string, file: string): number {
  let n = 0;
  for (const f of fs.readdirSync(dir).filter((f) => f === file || f.startsWith(file + '.'))) n += read(path.join(dir, f)).split('\n').length - 1;
  return n;
}

const LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) (\S+) (.*)$/;

/** Messages of DIR/<file> and its rotated files, oldest first. */
function messages(dir: string, file: string): string[] {
  const names = fs.readdirSync(dir).filter((f) => f === file || f.startsWith(file + '.'));
  const rotated = names.filter((f) => f !== file).sort((a, b) => Number(b.split('.').at(-1)) - Number(a.split('.').at(-1)));
  const out: string[] = [];
  for (const f of [...rotated, file]) {
    for (const line of read(path.join(dir, f)).split('\n')) {
      if (line === '') continue;
      const m = LINE.exec(line);
      assert.ok(m, `line in upstream format: ${JSON.stringify(line)}`);
      out.push(m[3]);
    }
  }
  return out;
}

/** memlogd in this process (its internals observable), on sockets in dir. */
async function inProcessDaemon(t: { after(fn: () => void | Promise<void>): void }, dir: string): Promise<import('../src/daemon/memlogd.js').Memlogd> {
  const { Memlogd } = await import('../src/daemon/memlogd.js');
  const daemon = await Memlogd.start({ socketLog: path.join(dir, 'l.sock'), socketQuery: path.join(dir, 'q.sock'), maxLines: 100_000 });
  t.after(() => daemon.close());
  return daemon;
}

test('entries land in DIR/<source>.log as "<time> <source> <msg>"; its own output is skipped; a restart appends', async (t) => {
  const dir = tmpdir(t);
  const logDir = path.join(dir, 'log');
  const daemon = await startDaemon(t, dir);
  await run(process.execPath, [BIN('logwrite'), '-socket', daemon.logSocket, '-n', 'svc', 'sh', '-c', 'echo out line; echo err line >&2']);
  await run(process.execPath, [BIN('logwrite'), '-socket', daemon.logSocket, '-n', 'logwrite-self', 'echo', 'not persisted']);
  await waitFor('the lines in memlogd', async () => messagesOf(await dump(daemon.querySocket), 'svc').length === 1);
  const p = startPersister(t, daemon.querySocket, logDir);
  await waitFor('svc.log', () => read(path.join(logDir, 'svc.log')).includes('err line'));
  await waitFor('svc.out.log', () => read(path.join(logDir, 'svc.out.log')).includes('out line'));
  assert.match(read(path.join(logDir, 'svc.log')), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ svc err line\n$/);
  assert.match(read(path.join(logDir, 'memlogd.log')), / memlogd memlogd started\n/);
  assert.ok(!fs.readdirSync(logDir).some((f) => f.startsWith('logwrite')), 'its own output is skipped');
  await p.stop();
  // A new persister appends to the same files, and writes nothing twice.
  const again = startPersister(t, daemon.querySocket, logDir);
  await run(process.execPath, [BIN('logwrite'), '-socket', daemon.logSocket, '-n', 'svc', 'sh', '-c', 'echo second >&2']);
  await waitFor('the second line', () => read(path.join(logDir, 'svc.log')).includes('second'));
  assert.deepEqual(messages(logDir, 'svc.log'), ['err line', 'second']);
  await again.stop();
});

test('files rotate in upstream order: X.log, X.log.1 newest, ..., at most -max-log-files', async (t) => {
  const dir = tmpdir(t);
  const logDir = path.join(dir, 'log');
  const daemon = await startDaemon(t, dir, ['-max-lines', '10000']);
  startPersister(t, daemon.querySocket, logDir, ['-max-log-files', '3', '-max-log-size', '200']);
  const fd = await openStream(daemon.logSocket, 'rot');
  // Each file line is "<20-byte time> rot line NN\n" = 33 bytes: 7 lines make 231 > 200, so a file holds 7 lines.
  fs.writeSync(fd, Array.from({ length: 30 }, (_, i) => `line ${String(i).padStart(2, '0')}`).join('\n') + '\n');
  fs.closeSync(fd);
  await waitFor('line 29', () => read(path.join(logDir, 'rot.log')).includes('line 29'));
  // The oldest files are deleted once the newest is written: wait for that too.
  const rotFiles = (): string => fs.readdirSync(logDir).filter((f) => f.startsWith('rot.')).sort().join(' ');
  await waitFor('three files', () => {
    if (rotFiles() !== 'rot.log rot.log.1 rot.log.2') throw new Error(`files: ${rotFiles()}`);
    return true;
  });
  const ids = (f: string): number[] => read(path.join(logDir, f)).trim().split('\n').map((l) => Number(l.slice(-2)));
  // 30 lines: 0-6, 7-13, 14-20, 21-27 rotated out in turn (the oldest two dropped); X.log holds 28-29.
  assert.deepEqual(ids('rot.log'), [28, 29]);
  assert.deepEqual(ids('rot.log.1'), [21, 22, 23, 24, 25, 26, 27]);
  assert.deepEqual(ids('rot.log.2'), [14, 15, 16, 17, 18, 19, 20]);
});

test('-compress gzips rotated files', async (t) => {
  const dir = tmpdir(t);
  const logDir = path.join(dir, 'log');
  const daemon = await startDaemon(t, dir);
  startPersister(t, daemon.querySocket, logDir, ['-max-log-size', '100', '-compress']);
  const fd = await openStream(daemon.logSocket, 'gz');
  fs.writeSync(fd, 'first line of many\nsecond line of many\nthird line of many\nfourth\n');
  fs.closeSync(fd);
  await waitFor('gz.log.1.gz', () => fs.existsSync(path.join(logDir, 'gz.log.1.gz')));
  const text = zlib.gunzipSync(fs.readFileSync(path.join(logDir, 'gz.log.1.gz'))).toString();
  assert.match(text, / gz first line of many\n.* gz second line of many\n/s);
});

test('a source named ../../x stays inside the log directory', async (t) => {
  const dir = tmpdir(t);
  const logDir = path.join(dir, 'a', 'log');
  const daemon = await startDaemon(t, dir);
  startPersister(t, daemon.querySocket, logDir);
  for (const name of ['../../x', '/etc/passwd', '.hidden', '..']) {
    const fd = await openStream(daemon.logSocket, name);
    fs.writeSync(fd, `from ${name}\n`);
    fs.closeSync(fd);
  }
  await waitFor('four files', () => fs.readdirSync(logDir).filter((f) => f.includes('%')).length === 4);
  assert.deepEqual(fs.readdirSync(path.join(dir, 'a')), ['log']);
  assert.ok(!fs.existsSync(path.join(dir, 'x.log')));
  const names = fs.readdirSync(logDir).filter((f) => f.includes('%')).sort();
  // The documented rule: [A-Za-z0-9_.-] kept except a leading dot, every other byte as %XX.
  assert.deepEqual(names, ['%2E.%2F..%2Fx.log', '%2E..log', '%2Ehidden.log', '%2Fetc%2Fpasswd.log']);
});

test('kill -9 of logwrite in a steady stream: after a restart every line is on disk exactly once', async (t) => {
  const dir = tmpdir(t);
  const logDir = path.join(dir, 'log');
  const daemon = await startDaemon(t, dir, ['-max-lines', '100000']);
  const writer = startWriter(t, daemon.logSocket, 'steady', 0, 4000);
  let p = startPersister(t, daemon.querySocket, logDir, ['-max-log-size', '20000']);
  for (let round = 0, onDisk = 0; round < 3; round++) {
    // Killed once this persister has written something (and the writer is still writing).
    onDisk = await waitFor('more lines on disk', () => {
      const n = linesOnDisk(logDir, 'steady.out.log');
      return n > onDisk && n;
    });
    // The first one only once its state names the file. (Killed after its first write and before its first save,
    // logwrite has no size to cut the file back to, and its successor writes those lines again: not covered here.)
    if (round === 0) await waitFor('the file in the saved state', () => new StateStore(logDir).load(() => {}).files['steady.out'] !== undefined);
    await p.stop('SIGKILL');
    p = startPersister(t, daemon.querySocket, logDir, ['-max-log-size', '20000']);
  }
  await exited(writer);
  await waitFor('the last line on disk', () => messages(logDir, 'steady.out.log').includes('steady 3999'));
  const got = messages(logDir, 'steady.out.log');
  assert.deepEqual(got, Array.from({ length: 4000 }, (_, i) => `steady ${i}`));
});

test('kill -9 of memlogd in a steady stream: nothing twice, and a marker where lines were lost', async (t) => {
  const dir = tmpdir(t);
  const logDir = path.join(dir, 'log');
  const first = await startDaemon(t, dir, ['-max-lines', '100000']);
  const p = startPersister(t, first.querySocket, logDir);
  const writer = startWriter(t, first.logSocket, 'steady', 0, 1_000_000);
  await waitFor('lines on disk', () => messages(logDir, 'steady.out.log').length > 500);
  first.proc.kill('SIGKILL');
  await exited(first.proc);
  writer.kill('SIGKILL');
  await waitFor('the persister to see memlogd gone', () => p.stderr().includes('lost the connection'));
  const second = await startDaemon(t, dir, ['-max-lines', '100000']);
  const before = messages(logDir, 'steady.out.log').length;
  const resumed = startWriter(t, second.logSocket, 'steady', 2_000_000, 500);
  await exited(resumed);
  await waitFor('the new lines', () => messages(logDir, 'steady.out.log').includes('steady 2000499'));
  const got = messages(logDir, 'steady.out.log');
  const markerAt = got.findIndex((m) => m.startsWith('[memlog: memlogd restarted'));
  assert.ok(markerAt >= before - 1, `the restart marker follows the old lines (at ${markerAt} of ${got.length})`);
  const numbers = got.filter((m) => !m.startsWith('[memlog')).map((m) => Number(m.split(' ')[1]));
  assert.equal(new Set(numbers).size, numbers.length, 'no line twice');
  const old = numbers.filter((n) => n < 2_000_000);
  assert.deepEqual(old, Array.from({ length: old.length }, (_, i) => i), 'the old daemon\'s lines, in order, none missing before the kill');
  assert.deepEqual(numbers.slice(old.length), Array.from({ length: 500 }, (_, i) => 2_000_000 + i));
  assert.match(p.stderr(), /memlogd restarted/);
});

test('lines the ring dropped while logwrite was stopped are marked in the file where they are missing', async (t) => {
  const dir = tmpdir(t);
  const logDir = path.join(dir, 'log');
  const daemon = await startDaemon(t, dir, ['-max-lines', '1000']);
  const p = startPersister(t, daemon.querySocket, logDir);
  await waitFor('memlogd.log', () => read(path.join(logDir, 'memlogd.log')).length > 0);
  p.proc.kill('SIGSTOP');
  const fd = await openStream(daemon.logSocket, 'burst');
  fs.writeSync(fd, Array.from({ length: 50_000 }, (_, i) => `b ${i}`).join('\n') + '\n');
  fs.closeSync(fd);
  await waitFor('the burst in the ring', async () => messagesOf(await dump(daemon.querySocket), 'burst').includes('b 49999'));
  p.proc.kill('SIGCONT');
  await waitFor('the last line on disk', () => messages(logDir, 'burst.log').includes('b 49999'));
  const got = messages(logDir, 'burst.log');
  const markers = got.filter((m) => m.startsWith('[memlog:'));
  assert.ok(markers.length >= 1, 'a marker');
  const lines = got.filter((m) => !m.startsWith('[memlog:')).map((m) => Number(m.slice(2)));
  // Whatever is missing is announced by a marker standing exactly where it is missing, with its count.
  let expected = 0;
  for (const m of got) {
    const marker = /^\[memlog: (\d+) lines lost here/.exec(m);
    if (marker) {
      expected += Number(marker[1]);
      continue;
    }
    assert.equal(Number(m.slice(2)), expected, 'no gap without a marker');
    expected++;
  }
  assert.equal(expected, 50_000);
  assert.ok(lines.length < 50_000);
});

test('with memlogd absent it retries quietly: no busy loop, no flood of messages', async (t) => {
  const dir = tmpdir(t);
  const sock = path.join(dir, 'nothing.sock');
  const p = startPersister(t, sock, path.join(dir, 'log'));
  // From its first failed attempt on (its start-up is not what is measured), two seconds of retrying.
  await waitFor('the first attempt', () => p.stderr().includes('retrying'));
  const cpuBefore = cpuMicros(p.proc.pid as number);
  // A window to measure over, not a wait for something to happen: a busy machine only lowers the CPU the persister gets in it.
  await new Promise((r) => setTimeout(r, 2000));
  const cpu = cpuMicros(p.proc.pid as number) - cpuBefore;
  // A busy loop would burn close to 2 s of CPU here; retrying with backoff costs next to nothing.
  assert.ok(cpu < 200_000, `${cpu} us of CPU in 2 s`);
  assert.equal(p.stderr().trim().split('\n').length, 1, p.stderr());
  assert.match(p.stderr(), /cannot connect to .*nothing\.sock.*retrying/);
  // And once memlogd is there, it connects by itself.
  const daemon = await (async () => {
    const { Memlogd } = await import('../src/daemon/memlogd.js');
    return Memlogd.start({ socketLog: path.join(dir, 'l.sock'), socketQuery: sock });
  })();
  t.after(() => daemon.close());
  await waitFor('memlogd.log', () => read(path.join(dir, 'log', 'memlogd.log')).includes('memlogd started'));
});

test('against an upstream daemon: plain mode 2, one warning that resuming is not available', async (t) => {
  const dir = tmpdir(t);
  const sock = path.join(dir, 'upstream.sock');
  const server = fakeUpstream(sock, [
    { time: '2019-02-22T16:04:23.123456789Z', source: 'docker', msg: 'hello from upstream' },
    { time: '2019-02-22T16:04:24Z', source: 'docker', msg: 'second' },
  ]);
  t.after(() => server.close());
  const p = startPersister(t, sock, path.join(dir, 'log'));
  await waitFor('docker.log', () => read(path.join(dir, 'log', 'docker.log')).includes('second'));
  assert.equal(read(path.join(dir, 'log', 'docker.log')), '2019-02-22T16:04:23Z docker hello from upstream\n2019-02-22T16:04:24Z docker second\n');
  assert.equal(p.stderr().match(/does not offer resuming/g)?.length, 1);
});

test('an unusable log directory is reported once, its lines are kept, and they are written once it is usable', async (t) => {
  const dir = tmpdir(t);
  const daemon = await startDaemon(t, dir);
  const notADir = path.join(dir, 'file');
  fs.writeFileSync(notADir, '');
  const logDir = path.join(notADir, 'log');
  const p = startPersister(t, daemon.querySocket, logDir);
  await waitFor('the problem reported', () => p.stderr().includes('cannot make'));
  // More lines, in turns, while it cannot write them: more flushes that fail the same way.
  for (let i = 0; i < 3; i++) {
    const fd = await openStream(daemon.logSocket, 'svc');
    fs.writeSync(fd, `line ${i}\n`);
    fs.closeSync(fd);
    await waitFor(`line ${i} in memlogd`, async () => messagesOf(await dump(daemon.querySocket), 'svc').length === i + 1);
  }
  fs.rmSync(notADir);
  await waitFor('the lines on disk once the directory can be made', () => read(path.join(logDir, 'svc.log')).includes('line 2'));
  assert.deepEqual(messages(logDir, 'svc.log'), ['line 0', 'line 1', 'line 2']);
  assert.equal(p.proc.exitCode, null, `still running: ${p.stderr()}`);
  assert.equal(p.stderr().match(/cannot make/g)?.length, 1, p.stderr());
  assert.match(p.stderr(), /is usable again/);
});

test('a dropped connection is resumed: every line once, no marker', async (t) => {
  const dir = tmpdir(t);
  const logDir = path.join(dir, 'log');
  const daemon = await inProcessDaemon(t, dir);
  const p = startPersister(t, daemon.opts.socketQuery, logDir);
  const writer = startWriter(t, daemon.opts.socketLog, 'steady', 0, 3000);
  for (let drop = 0, onDisk = 0; drop < 4; drop++) {
    await waitFor('the persister connected', () => daemon.query.readers.size === 1);
    // Dropped once lines flow again (or the writer is done).
    onDisk = await waitFor('more lines on disk', () => {
      const n = linesOnDisk(logDir, 'steady.out.log');
      return (n > onDisk || writer.exitCode !== null) && n;
    });
    for (const reader of daemon.query.readers) reader.socket.destroy(); // the daemon side hangs up
  }
  await exited(writer);
  await waitFor('the last line', () => messages(logDir, 'steady.out.log').includes('steady 2999'));
  assert.deepEqual(messages(logDir, 'steady.out.log'), Array.from({ length: 3000 }, (_, i) => `steady ${i}`));
  assert.match(p.stderr(), /lost the connection/);
});

test('a shutdown whose last flush fails does not count the old memlogd as written out: the next one gets its restart marker', async (t) => {
  const dir = tmpdir(t);
  const logDir = path.join(dir, 'log');
  const first = await startDaemon(t, dir);
  const p = startPersister(t, first.querySocket, logDir);
  await waitFor('memlogd.log', () => read(path.join(logDir, 'memlogd.log')).includes('memlogd started'));
  // svc.log is a directory: opening it fails (EISDIR) whoever runs the test, root included, as a full disk would.
  fs.mkdirSync(path.join(logDir, 'svc.log'));
  const fd = await openStream(first.logSocket, 'svc');
  fs.writeSync(fd, 'the last words\n');
  fs.closeSync(fd);
  await waitFor('the write failing', () => /EISDIR .*svc\.log/.test(p.stderr()));
  await p.stop(); // SIGTERM: the drain, then the last flush, which fails as well
  assert.doesNotMatch(p.stderr(), /wrote everything memlogd held/);
  assert.match(p.stderr(), /could not write everything memlogd held/);
  await first.stop();
  fs.rmdirSync(path.join(logDir, 'svc.log'));
  const second = await startDaemon(t, dir);
  const again = startPersister(t, second.querySocket, logDir);
  await waitFor('the restart marker', () => read(path.join(logDir, 'memlogd.log')).includes('memlogd restarted'));
  assert.doesNotMatch(again.stderr(), /written out completely/);
});

test('the drain at shutdown asks memlogd for its status, not for a dump of its ring', async (t) => {
  const dir = tmpdir(t);
  const logDir = path.join(dir, 'log');
  const daemon = await inProcessDaemon(t, dir);
  // The mode byte of every query connection memlogd gets.
  const modes: number[] = [];
  daemon.query.server.on('connection', (socket: import('node:net').Socket) => socket.once('data', (d: Buffer) => modes.push(d[0])));
  const fd = await openStream(daemon.opts.socketLog, 'svc');
  // Within what the socket buffers: memlogd reads in this same process, after this write.
  fs.writeSync(fd, Array.from({ length: 5000 }, (_, i) => `line ${i}`).join('\n') + '\n');
  fs.closeSync(fd);
  const p = startPersister(t, daemon.opts.socketQuery, logDir);
  await waitFor('every line on disk', () => read(path.join(logDir, 'svc.log')).includes(' svc line 4999\n'));
  assert.deepEqual(modes, [MODE_RESUME], 'the persister resumed once');
  modes.length = 0;
  await p.stop();
  assert.match(p.stderr(), /wrote everything memlogd held/);
  assert.deepEqual(modes, [MODE_STATUS], 'one status request, no resume request (which would start a dump)');
});

test('20,000 source names pass through: the state stays bounded, and kill -9 writes no line twice and loses none', async (t) => {
  const dir = tmpdir(t);
  const logDir = path.join(memTmpdir(t), 'log'); // 20,000 files: in memory where possible, for speed
  const daemon = await startDaemon(t, dir, ['-max-lines', '100000', '-max-bytes', String(64 << 20)]);
  const writer = startWriter(t, daemon.logSocket, 'steady', 0, 20_000);
  let p = startPersister(t, daemon.querySocket, logDir);
  const NAMES = 20_000;
  const BATCH = 1000;
  for (let n = 0; n < NAMES; n += BATCH) {
    const accepted = (await queryStatus(daemon.querySocket)).streamsAccepted as number;
    for (let i = n; i < n + BATCH; i++) {
      const fd = await openStream(daemon.logSocket, `job-${i}`);
      fs.writeSync(fd, `job ${i}\n`);
      fs.closeSync(fd);
    }
    // memlogd has read them all (and closed them) before the next batch: it never holds more than a batch of streams.
    await waitFor('the batch read', async () => {
      const s = await queryStatus(daemon.querySocket);
      return (s.streamsAccepted as number) >= accepted + BATCH && !(s.streams as { source: string }[]).some((x) => x.source.startsWith('job-'));
    });
    if (n % 5000 === 2000) {
      await p.stop('SIGKILL');
      p = startPersister(t, daemon.querySocket, logDir);
    }
  }
  await exited(writer);
  await waitFor('the last lines on disk', () => read(path.join(logDir, `job-${NAMES - 1}.log`)) !== '' && messages(logDir, 'steady.out.log').includes('steady 19999'), 60_000);
  await p.stop();
  assert.deepEqual(messages(logDir, 'steady.out.log'), Array.from({ length: 20_000 }, (_, i) => `steady ${i}`));
  const names = new Set(fs.readdirSync(logDir));
  for (let i = 0; i < NAMES; i++) {
    assert.ok(!names.has(`job-${i}.log.1`), `job-${i}.log was not rotated`);
    assert.match(read(path.join(logDir, `job-${i}.log`)), new RegExp(`^\\S+ job-${i} job ${i}\\n$`), `job-${i}.log`);
  }
  const state = new StateStore(logDir).load(() => undefined);
  assert.ok(Object.keys(state.files).length <= MAX_KEPT_FILES, `${Object.keys(state.files).length} files in the state`);
  for (const slot of STATE_FILES) assert.ok(fs.statSync(path.join(logDir, slot)).size <= MAX_KEPT_FILES * 100, `${slot}: ${fs.statSync(path.join(logDir, slot)).size} bytes`);
});

test('-fsync writes the same files as without it', async (t) => {
  const dir = tmpdir(t);
  const daemon = await startDaemon(t, dir, ['-max-lines', '10000']);
  const plain = startPersister(t, daemon.querySocket, path.join(dir, 'plain'), ['-max-log-size', '500']);
  const synced = startPersister(t, daemon.querySocket, path.join(dir, 'synced'), ['-max-log-size', '500', '-fsync']);
  for (const name of ['svc', 'other']) {
    const fd = await openStream(daemon.logSocket, name);
    fs.writeSync(fd, Array.from({ length: 100 }, (_, i) => `${name} line ${i}`).join('\n') + '\n');
    fs.closeSync(fd);
  }
  const done = (d: string): boolean => ['svc', 'other'].every((name) => read(path.join(dir, d, `${name}.log`)).includes(`${name} line 99`));
  await waitFor('both persisters done', () => done('plain') && done('synced'));
  await plain.stop();
  await synced.stop();
  const files = (d: string): string[] => fs.readdirSync(path.join(dir, d)).filter((f) => /^(svc|other)\.log/.test(f)).sort();
  assert.ok(files('plain').length > 4, 'rotated');
  assert.deepEqual(files('synced'), files('plain'));
  for (const f of files('plain')) assert.equal(read(path.join(dir, 'synced', f)), read(path.join(dir, 'plain', f)), f);
  assert.equal(synced.stderr(), plain.stderr());
});

test('with -fsync, every file a state counts on is fsynced before that state is written, and the state after', async (t) => {
  const dir = tmpdir(t);
  const logDir = path.join(dir, 'log');
  const { Persister } = await import('../src/persist/persister.js');
  const daemon = await inProcessDaemon(t, dir);
  // Every write and fsync to a file in logDir, by file identity (a rotation renames an open file).
  const events: { op: 'write' | 'fsync'; file: string; state: boolean }[] = [];
  const note = (op: 'write' | 'fsync', fd: number): void => {
    const where = fs.readlinkSync(`/proc/self/fd/${fd}`);
    if (!where.startsWith(logDir + '/')) return;
    const s = fs.fstatSync(fd);
    events.push({ op, file: `${s.dev}:${s.ino}`, state: path.basename(where).startsWith('.logwrite-state') });
  };
  const realWrite = fs.writeSync;
  const realFsync = fs.fsyncSync;
  (fs as { writeSync: unknown }).writeSync = (fd: number, ...rest: unknown[]): number => {
    note('write', fd);
    return (realWrite as (fd: number, ...rest: unknown[]) => number)(fd, ...rest);
  };
  (fs as { fsyncSync: unknown }).fsyncSync = (fd: number): void => {
    note('fsync', fd);
    realFsync(fd);
  };
  t.after(() => {
    fs.writeSync = realWrite;
    fs.fsyncSync = realFsync;
  });
  const abort = new AbortController();
  const persister = new Persister({ socket: daemon.opts.socketQuery, dir: logDir, maxFiles: 3, maxFileSize: 300, fsync: true, warn: () => undefined, info: () => undefined, signal: abort.signal });
  const running = persister.run();
  for (let round = 0; round < 5; round++) {
    for (const name of ['svc', 'other']) {
      const fd = await openStream(daemon.opts.socketLog, name);
      fs.writeSync(fd, Array.from({ length: 20 }, (_, i) => `${name} round ${round} line ${i}`).join('\n') + '\n');
      fs.closeSync(fd);
    }
    await waitFor(`round ${round} on disk`, () => ['svc', 'other'].every((name) => read(path.join(logDir, `${name}.log`)).includes(`${name} round ${round} line 19`)));
  }
  abort.abort();
  await running;
  fs.writeSync = realWrite;
  fs.fsyncSync = realFsync;
  assert.ok(persister.files.stats.rotations > 4, 'rotated');
  const unsynced = new Set<string>();
  let stateWrites = 0;
  let stateSynced = 0;
  for (const e of events) {
    if (e.state && e.op === 'write') {
      assert.deepEqual([...unsynced], [], `state write ${stateWrites}: written and not fsynced before it`);
      stateWrites++;
    } else if (e.state) {
      stateSynced++;
    } else if (e.op === 'write') {
      unsynced.add(e.file);
    } else {
      unsynced.delete(e.file);
    }
  }
  assert.ok(stateWrites > 5, `${stateWrites} saves`);
  assert.equal(stateSynced, stateWrites, 'each state fsynced');
});
