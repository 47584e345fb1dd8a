/** logwrite -format json, end to end: real memlogd, real logwrite processes, real files. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { BIN, ROOT, dump, openStream, run, startDaemon, startPersister, tmpdir, waitFor, type Persister } from './helpers.js';
import { queryStatus } from '../src/clients/query-client.js';
import { StateStore } from '../src/persist/state.js';
import { CompiledFilter } from '../src/filter/entry-filter.js';
import { readDiskHistory } from '../src/history/disk-history.js';
import type { HistoryEntry } from '../src/history/history-entry.js';

/** The persister writing json. */
const jsonPersister = (t: { after(fn: () => void | Promise<void>): void }, querySocket: string, dir: string, flags: string[] = []): Persister =>
  startPersister(t, querySocket, dir, ['-format', 'json', ...flags]);

const STEADY = path.join(ROOT, 'dist/test/steady-writer.js');



function read(file: string): string {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
}

/** The complete json lines of a file (it may be read while it is written). */
function jsonLines(file: string): Record<string, unknown>[] {
  const text = read(file);
  return text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function history(dir: string, warn: (m: string) => void = (m) => assert.fail(m)): Promise<HistoryEntry[]> {
  const out: HistoryEntry[] = [];
  for await (const e of readDiskHistory({ dir, filter: new CompiledFilter({ sources: [], exclude: [] }), warn })) out.push(e);
  return out;
}

test('json: each line holds every field, the wire\'s nanosecond time, seq and daemon id', async (t) => {
  const dir = tmpdir(t);
  const logDir = path.join(dir, 'log');
  const daemon = await startDaemon(t, dir);
  const daemonId = (await queryStatus(daemon.querySocket)).daemon;
  // Through the launcher: memlogd knows the sender (pid, uid, gid). Quotes and a tab go the slow way.
  await run(process.execPath, [BIN('logwrite'), '-socket', daemon.logSocket, '-n', 'svc', 'sh', '-c', 'echo plain line >&2; printf \'with "quotes"\\tand tab\\n\' >&2']);
  await waitFor('the lines in memlogd', async () => (await dump(daemon.querySocket)).filter((e) => e.source === 'svc').length === 2);
  jsonPersister(t, daemon.querySocket, logDir);
  await waitFor('svc.log', () => jsonLines(path.join(logDir, 'svc.log')).length === 2);
  const ring = (await dump(daemon.querySocket)) as unknown as Record<string, unknown>[];
  const lines = jsonLines(path.join(logDir, 'svc.log'));
  for (const line of lines) {
    const wire = ring.find((e) => e.seq === line.seq);
    assert.ok(wire, `seq ${String(line.seq)} in the ring`);
    assert.deepEqual(Object.keys(line).slice(0, 5), ['time', 'source', 'msg', 'seq', 'daemon']);
    assert.equal(typeof line.pid, 'number');
    assert.match(line.time as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/);
    assert.deepEqual(line, { ...wire, daemon: daemonId });
  }
  assert.deepEqual(lines.map((l) => l.msg), ['plain line', 'with "quotes"\tand tab']);
  assert.match(read(path.join(logDir, 'memlogd.log')), /^\{"time":"[^"]+","source":"memlogd","msg":"memlogd started","seq":\d+,"daemon":"/);
});

test('json: a syslog entry keeps its severity, facility and header fields on disk; text stays upstream\'s line', async (t) => {
  const dir = tmpdir(t);
  const logDir = path.join(dir, 'log');
  const textDir = path.join(dir, 'text');
  const devLog = path.join(dir, 'devlog');
  const daemon = await startDaemon(t, dir, ['-socket-syslog', devLog]);
  const sent = await run('logger', ['-u', devLog, '-t', 'cron', '-p', 'cron.err', '--rfc5424', '--msgid', 'JOB', 'job failed']);
  assert.equal(sent.code, 0, sent.stderr);
  await waitFor('the syslog entry in memlogd', async () => (await dump(daemon.querySocket)).some((e) => e.source === 'cron'));
  jsonPersister(t, daemon.querySocket, logDir);
  startPersister(t, daemon.querySocket, textDir);
  await waitFor('cron.log in json', () => jsonLines(path.join(logDir, 'cron.log')).length === 1);
  const [line] = jsonLines(path.join(logDir, 'cron.log'));
  assert.equal(line.msg, 'job failed');
  assert.equal(line.severity, 3);
  assert.equal(line.facility, 9);
  assert.equal(line.transport, 'syslog');
  assert.equal(line.msgid, 'JOB');
  await waitFor('cron.log in text', () => read(path.join(textDir, 'cron.log')).length > 0);
  assert.match(read(path.join(textDir, 'cron.log')), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ cron job failed\n$/);
  // And logread -log-dir -o json shows the same fields from the file.
  const shown = await run(process.execPath, [BIN('logread'), '-socket', path.join(dir, 'none.sock'), '-log-dir', logDir, '-source', 'cron', '-o', 'json']);
  const fromDisk = JSON.parse(shown.stdout) as Record<string, unknown>;
  assert.equal(fromDisk.facility, 9);
  assert.equal(fromDisk.msgid, 'JOB');
  assert.equal(fromDisk.severity, 3);
});

test('json: -format takes text or json only', async () => {
  const r = await run(process.execPath, [BIN('logwrite'), '-format', 'xml']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /-format must be text or json, not "xml"/);
});

test('json: rotation and -compress work, and the reader gets every line back in order', async (t) => {
  const dir = tmpdir(t);
  const logDir = path.join(dir, 'log');
  const daemon = await startDaemon(t, dir, ['-max-lines', '10000']);
  jsonPersister(t, daemon.querySocket, logDir, ['-max-log-files', '20', '-max-log-size', '1000', '-compress']);
  const fd = await openStream(daemon.logSocket, 'rot');
  fs.writeSync(fd, Array.from({ length: 100 }, (_, i) => `line ${i}`).join('\n') + '\n');
  fs.closeSync(fd);
  // In whichever file it is (the line that makes rot.log rotate is in rot.log.1).
  await waitFor('line 99', async () => (await history(logDir)).some((e) => e.msg === 'line 99'));
  await waitFor('rotated files gzipped', () => {
    const names = fs.readdirSync(logDir).filter((f) => f.startsWith('rot.log.'));
    return names.length >= 3 && names.every((f) => f.endsWith('.gz'));
  });
  const gz = zlib.gunzipSync(fs.readFileSync(path.join(logDir, 'rot.log.1.gz'))).toString();
  for (const line of gz.trim().split('\n')) assert.equal((JSON.parse(line) as { source: string }).source, 'rot');
  const got = (await history(logDir)).filter((e) => e.source === 'rot');
  assert.deepEqual(got.map((e) => e.msg), Array.from({ length: 100 }, (_, i) => `line ${i}`));
  const seqs = got.map((e) => e.seq as number);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
  assert.ok(got.every((e) => e.precision === 'ns' && e.daemon !== undefined));
});

test('json: kill -9 of logwrite in a steady stream: after restarts every line is on disk exactly once', async (t) => {
  const dir = tmpdir(t);
  const logDir = path.join(dir, 'log');
  const daemon = await startDaemon(t, dir, ['-max-lines', '100000']);
  const writer = spawn(process.execPath, [BIN('logwrite'), '-socket', daemon.logSocket, '-n', 'steady', process.execPath, STEADY, 'steady', '0', '4000', '5'], { stdio: 'ignore' });
  t.after(() => void writer.kill('SIGKILL'));
  // About six files of json lines: rotated, and none deleted yet.
  const flags = ['-max-log-size', '100000'];
  let p = jsonPersister(t, daemon.querySocket, logDir, flags);
  const onDisk = (): number => fs.readdirSync(logDir).filter((f) => f.startsWith('steady.out.log')).reduce((n, f) => n + (read(path.join(logDir, f)).split('\n').length - 1), 0);
  for (let round = 0, seen = 0; round < 3; round++) {
    seen = await waitFor('more lines on disk', () => {
      const n = onDisk();
      return n > seen && n;
    });
    if (round === 0) await waitFor('the file in the saved state', () => new StateStore(logDir).load(() => {}).files['steady.out'] !== undefined);
    await p.stop('SIGKILL');
    p = jsonPersister(t, daemon.querySocket, logDir, flags);
  }
  await waitFor('the last line on disk', async () => (await history(logDir)).some((e) => e.msg === 'steady 3999'));
  const got = (await history(logDir)).filter((e) => e.source === 'steady.out');
  assert.deepEqual(got.map((e) => e.msg), Array.from({ length: 4000 }, (_, i) => `steady ${i}`));
});

test('json: a restart of memlogd leaves a marker object (no seq) in the files; a text directory restarted in json holds both', async (t) => {
  const dir = tmpdir(t);
  const logDir = path.join(dir, 'log');
  const first = await startDaemon(t, dir);
  const textPersister = startPersister(t, first.querySocket, logDir);
  const fd = await openStream(first.logSocket, 'svc');
  fs.writeSync(fd, 'in text\n');
  fs.closeSync(fd);
  await waitFor('the text line', () => read(path.join(logDir, 'svc.log')).includes(' svc in text\n'));
  await textPersister.stop('SIGKILL');
  first.proc.kill('SIGKILL');
  await new Promise((r) => (first.proc.exitCode !== null || first.proc.signalCode !== null ? r(undefined) : first.proc.once('exit', r)));
  const second = await startDaemon(t, dir);
  const p = jsonPersister(t, second.querySocket, logDir);
  await waitFor('the restart marker', () => read(path.join(logDir, 'svc.log')).includes('memlogd restarted'));
  const fd2 = await openStream(second.logSocket, 'svc');
  fs.writeSync(fd2, 'in json\n');
  fs.closeSync(fd2);
  await waitFor('the json line', () => read(path.join(logDir, 'svc.log')).includes('"in json"'));
  await p.stop();
  const lines = read(path.join(logDir, 'svc.log')).trim().split('\n');
  assert.match(lines[0], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ svc in text$/);
  const marker = JSON.parse(lines[1]) as Record<string, unknown>;
  assert.equal(marker.memlog, 'restarted');
  assert.equal(marker.source, 'svc');
  assert.equal(marker.seq, undefined);
  assert.match(marker.msg as string, /^\[memlog: memlogd restarted/);
  assert.equal((JSON.parse(lines[2]) as Record<string, unknown>).msg, 'in json');
  const got = (await history(logDir)).filter((e) => e.source === 'svc');
  assert.deepEqual(got.map((e) => [e.msg.slice(0, 25), e.precision]), [
    ['in text', 's'],
    ['[memlog: memlogd restarte', 'ns'],
    ['in json', 'ns'],
  ]);
});

test('json: lines the ring dropped while logwrite was stopped are marked by an object with "memlog":"lost" and no seq', async (t) => {
  const dir = tmpdir(t);
  const logDir = path.join(dir, 'log');
  const daemon = await startDaemon(t, dir, ['-max-lines', '1000']);
  const p = jsonPersister(t, daemon.querySocket, logDir);
  await waitFor('memlogd.log', () => read(path.join(logDir, 'memlogd.log')).length > 0);
  p.proc.kill('SIGSTOP');
  const fd = await openStream(daemon.logSocket, 'burst');
  fs.writeSync(fd, Array.from({ length: 20_000 }, (_, i) => `b ${i}`).join('\n') + '\n');
  fs.closeSync(fd);
  await waitFor('the burst in the ring', async () => (await dump(daemon.querySocket)).some((e) => e.msg === 'b 19999'));
  p.proc.kill('SIGCONT');
  await waitFor('the last line on disk', async () => (await history(logDir)).some((e) => e.msg === 'b 19999'));
  const lines = fs
    .readdirSync(logDir)
    .filter((f) => f.startsWith('burst.log'))
    .flatMap((f) => jsonLines(path.join(logDir, f)));
  const markers = lines.filter((l) => l.memlog !== undefined);
  assert.ok(markers.length >= 1, 'a marker');
  for (const m of markers) {
    assert.equal(m.memlog, 'lost');
    assert.equal(m.source, 'burst');
    assert.equal(m.seq, undefined);
    assert.match(m.msg as string, /^\[memlog: \d+ lines lost here \(between seq \d+ and \d+\)/);
    assert.match(m.time as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/);
  }
  const lost = markers.reduce((n, m) => n + Number(/(\d+) lines lost/.exec(m.msg as string)?.[1]), 0);
  assert.equal(lost + lines.filter((l) => l.seq !== undefined).length, 20_000, 'every line is on disk or counted by a marker');
});
