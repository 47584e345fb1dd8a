/**
 * logread end to end against the real memlogd, the real persister and real
 * files: filters done by the daemon (no fallback), cursors from -o json, and
 * -log-dir reading the disk and the ring as one history, each entry once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { queryStatus } from '../src/clients/query-client.js';
import { BIN, dump, messagesOf, openStream, run, startDaemon, startPersister, tmpdir, waitFor, type RunResult } from './helpers.js';

function logread(args: string[]): Promise<RunResult> {
  return run(process.execPath, [BIN('logread'), ...args]);
}

/** Writes lines to a new stream named name, in one write, and waits until the ring holds them all. */
async function write(socketDir: { logSocket: string; querySocket: string }, name: string, lines: string[]): Promise<void> {
  const fd = await openStream(socketDir.logSocket, name);
  fs.writeSync(fd, lines.map((l) => l + '\n').join(''));
  fs.closeSync(fd);
  await waitFor(`the lines of ${name}`, async () => messagesOf(await dump(socketDir.querySocket), name).includes(lines[lines.length - 1]));
}

/** Everything in the files of one source, rotated and gzipped ones included. */
function onDisk(logDir: string, stem: string): string {
  return fs
    .readdirSync(logDir)
    .filter((f) => f.startsWith(`${stem}.log`))
    .map((f) => {
      const bytes = fs.readFileSync(path.join(logDir, f));
      return (f.endsWith('.gz') ? zlib.gunzipSync(bytes) : bytes).toString('utf8');
    })
    .join('');
}

const numbered = (prefix: string, from: number, to: number): string[] => Array.from({ length: to - from }, (_, i) => `${prefix} ${from + i}`);

test('the daemon does the filtering: no fallback, json carries seq and the daemon id, -after-seq resumes after an entry', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t));
  await write(daemon, 'web', numbered('request', 0, 50));
  await write(daemon, 'db', ['checkpoint', 'timeout waiting for lock', 'checkpoint']);
  const id = (await queryStatus(daemon.querySocket)).daemon;

  const json = await logread(['-socket', daemon.querySocket, '-source', 'web', '-n', '3', '-o', 'json']);
  assert.equal(json.code, 0, json.stderr);
  assert.equal(json.stderr, '', 'the daemon filters: nothing said about filtering on our side');
  const objects = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(objects.map((o) => o.msg), ['request 47', 'request 48', 'request 49']);
  for (const o of objects) {
    assert.equal(o.daemon, id);
    assert.equal(o.source, 'web');
    assert.equal(typeof o.seq, 'number');
    assert.match(o.time as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    assert.equal(o.pid, process.pid, 'the sender, as the kernel told it');
  }
  // A script's cursor: the seq of request 47, then only what came after it.
  const after = await logread(['-socket', daemon.querySocket, '-after-seq', String(objects[0].seq), '-daemon', id, '-source', 'web', '-o', 'cat']);
  assert.equal(after.stdout, 'request 48\nrequest 49\n');

  const grep = await logread(['-socket', daemon.querySocket, '-grep', 'TIMEOUT', '-i', '-o', 'cat']);
  assert.equal(grep.stdout, 'timeout waiting for lock\n');
  // The window: from the time of request 10 to the time of request 12 (times as the daemon stamped them).
  const all = (await logread(['-socket', daemon.querySocket, '-source', 'web', '-o', 'json'])).stdout.trim().split('\n').map((l) => JSON.parse(l) as { time: string; msg: string });
  const since = all.find((e) => e.msg === 'request 10')?.time as string;
  const until = all.find((e) => e.msg === 'request 12')?.time as string;
  const window = await logread(['-socket', daemon.querySocket, '-source', 'web', '-since', since, '-until', until, '-o', 'cat']);
  const expected = all.filter((e) => e.time >= since && e.time <= until).map((e) => e.msg + '\n').join('');
  assert.ok(expected.includes('request 11'), 'the window holds the middle entry');
  assert.equal(window.stdout, expected);
  // Nothing has a severity yet: each counts as info.
  assert.equal((await logread(['-socket', daemon.querySocket, '-source', 'db', '-p', 'info', '-o', 'cat'])).stdout.split('\n').length - 1, 3);
  assert.equal((await logread(['-socket', daemon.querySocket, '-source', 'db', '-p', 'warning', '-o', 'cat'])).stdout, '');
});

for (const format of ['json', 'text'] as const) {
  test(`-log-dir (${format} files): the disk and the ring as one history, each entry once, then following`, async (t) => {
    const dir = tmpdir(t);
    const logDir = path.join(dir, 'log');
    // A ring of 40 entries: most of what is written survives only on disk, in rotated and gzipped files.
    const daemon = await startDaemon(t, dir, ['-max-lines', '40']);
    startPersister(t, daemon.querySocket, logDir, ['-format', format, '-max-log-size', '2000', '-max-log-files', '50', '-compress']);
    const lines = numbered('line', 0, 300);
    for (let i = 0; i < lines.length; i += 20) {
      await write(daemon, 'svc', lines.slice(i, i + 20));
      // The persister keeps up with the small ring: no entry is lost between the two.
      await waitFor(`line ${i + 19} on disk`, () => onDisk(logDir, 'svc').includes(`line ${i + 19}${format === 'json' ? '"' : '\n'}`));
    }
    assert.ok(fs.readdirSync(logDir).some((f) => f.endsWith('.gz')), 'some of the history is in gzipped files');

    const merged = await logread(['-socket', daemon.querySocket, '-log-dir', logDir, '-source', 'svc', '-o', 'cat']);
    assert.equal(merged.code, 0, merged.stderr);
    assert.equal(merged.stdout, lines.map((l) => l + '\n').join(''), 'every line once, in order: the ring adds nothing the disk holds');
    const last = await logread(['-socket', daemon.querySocket, '-log-dir', logDir, '-source', 'svc', '-n', '3', '-o', 'cat']);
    assert.equal(last.stdout, 'line 297\nline 298\nline 299\n');
    const grep = await logread(['-socket', daemon.querySocket, '-log-dir', logDir, '-grep', '^line 1[0-9]$', '-o', 'cat']);
    assert.equal(grep.stdout, numbered('line', 10, 20).map((l) => l + '\n').join(''), 'old lines come from the disk, filtered');

    // Dump then follow: the history, then what arrives, none missed or repeated.
    const follower = spawn(process.execPath, [BIN('logread'), '-socket', daemon.querySocket, '-log-dir', logDir, '-source', 'svc', '-F', '-o', 'cat'], { stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => void follower.kill());
    let out = '';
    follower.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor('the history from the follower', () => out.includes('line 299\n'));
    await write(daemon, 'svc', numbered('line', 300, 310));
    await waitFor('the new lines at the follower', () => out.includes('line 309\n'));
    assert.equal(out, numbered('line', 0, 310).map((l) => l + '\n').join(''));
    follower.kill();

    // Without memlogd: the disk alone, and it says so.
    await daemon.stop();
    const alone = await logread(['-socket', daemon.querySocket, '-log-dir', logDir, '-source', 'svc', '-o', 'cat']);
    assert.equal(alone.code, 0, alone.stderr);
    assert.match(alone.stderr, /alone/);
    assert.equal(alone.stderr.trim().split('\n').length, 1, 'said once');
    assert.ok(alone.stdout.startsWith('line 0\nline 1\n') && alone.stdout.includes('line 299\n'), 'what the persister wrote');
  });
}

test('-log-dir: a damaged gzip is reported once by name, everything else is read', async (t) => {
  const dir = tmpdir(t);
  const logDir = path.join(dir, 'log');
  fs.mkdirSync(logDir);
  fs.writeFileSync(path.join(logDir, 'svc.log'), '2026-12-02T10:00:01Z svc second\n');
  fs.writeFileSync(path.join(logDir, 'svc.log.2.gz'), 'this is not gzip at all');
  fs.writeFileSync(path.join(logDir, 'other.log'), '2026-12-02T10:00:00Z other first\n');
  const r = await logread(['-socket', path.join(dir, 'none.sock'), '-log-dir', logDir, '-o', 'cat']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'first\nsecond\n');
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.filter((l) => l.includes('svc.log.2.gz')).length, 1, r.stderr);
});
