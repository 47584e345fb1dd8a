import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileStem, sourceOfStem, isFileStem } from '../src/persist/file-names.js';
import { LogFiles, type FileSnapshot, type LogFilesOptions } from '../src/persist/log-files.js';
import { StateStore, STATE_FILES } from '../src/persist/state.js';
import { memTmpdir } from './helpers.js';

function tmp(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memlog-logfiles-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A 30-byte line: `line 7` padded, then a newline. */
function line(n: number): string {
  return `line ${n}`.padEnd(29, '.') + '\n';
}

function lines(from: number, to: number): string {
  let s = '';
  for (let i = from; i <= to; i++) s += line(i);
  return s;
}

/** The text of a file, gunzipped if its name ends in .gz; undefined if missing. */
function read(file: string): string | undefined {
  if (!fs.existsSync(file)) return undefined;
  const data = fs.readFileSync(file);
  return (file.endsWith('.gz') ? zlib.gunzipSync(data) : data).toString();
}

/** What a snapshot says of each file's contents (its identity apart). */
function contents(snapshot: Record<string, FileSnapshot>): Record<string, { size: number; seq: number }> {
  return Object.fromEntries(Object.entries(snapshot).map(([stem, s]) => [stem, { size: s.size, seq: s.seq }]));
}

interface Harness {
  files: LogFiles;
  warnings: string[];
}

function open(t: { after(fn: () => void | Promise<void>): void }, opts: Partial<LogFilesOptions> & { dir: string }): Harness {
  const warnings: string[] = [];
  const files = new LogFiles({ maxFiles: 10, maxFileSize: 100, warn: (m) => warnings.push(m), ...opts });
  t.after(() => files.close());
  return { files, warnings };
}

// ---- file names ----

test('fileStem: examples', () => {
  const cases: [string, string][] = [
    ['svc', 'svc'],
    ['', '%'],
    ['.hidden', '%2Ehidden'],
    ['..', '%2E.'],
    ['.', '%2E'],
    ['../../x', '%2E.%2F..%2Fx'],
    ['a/b', 'a%2Fb'],
    ['\0', '%00'],
    ['a\nb', 'a%0Ab'],
    ['%', '%25'],
    ['~', '%7E'],
    ['é', '%C3%A9'],
    ['svc.out', 'svc.out'],
    ['a b', 'a%20b'],
  ];
  for (const [source, stem] of cases) {
    assert.equal(fileStem(source), stem, JSON.stringify(source));
    assert.equal(sourceOfStem(stem), source, stem);
  }
  // Not stems fileStem gives: decoding refuses them.
  for (const stem of ['', '.x', '%41', '%2e', 'a/b', 'a%', 'a%4', '%C3', 'a~b']) assert.equal(sourceOfStem(stem), undefined, stem);
});

test('fileStem: a 4 KiB name is hashed to at most 200 bytes, distinct from its neighbours', () => {
  const a = 'a'.repeat(4096);
  const b = 'a'.repeat(4095) + 'b';
  const sa = fileStem(a);
  const sb = fileStem(b);
  assert.ok(sa.length <= 200 && sb.length <= 200);
  assert.notEqual(sa, sb);
  assert.match(sa, /^a{180}~[0-9a-f]{16}$/);
  assert.equal(sourceOfStem(sa), undefined);
  assert.ok(isFileStem(sa));
  // Just under and over the limit.
  assert.equal(fileStem('a'.repeat(200)), 'a'.repeat(200));
  assert.match(fileStem('a'.repeat(201)), /~/);
  assert.match(fileStem('é'.repeat(34)), /~/); // 34 x 6 = 204 encoded bytes
});

test('fileStem: property: one-to-one on UTF-8 bytes, never unsafe, decodes back', () => {
  // A small deterministic generator (no seed worries when a failure must be reproduced).
  let state = 12345;
  const rand = (n: number): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return Math.floor((state / 2 ** 32) * n);
  };
  const pools = [
    () => String.fromCharCode(32 + rand(95)), // printable ASCII
    () => ['.', '/', '%', '~', '\0', '\n', '-', '_'][rand(8)],
    () => String.fromCharCode(rand(32)), // control characters
    () => String.fromCharCode(0x80 + rand(0xd800 - 0x80)), // BMP
    () => String.fromCodePoint(0x10000 + rand(0x100000)), // astral: a surrogate pair
    () => String.fromCharCode(0xd800 + rand(0x800)), // a lone surrogate
  ];
  const byStem = new Map<string, string>();
  for (let i = 0; i < 5000; i++) {
    const len = i % 50 === 0 ? 60 + rand(100) : rand(12);
    let source = '';
    for (let j = 0; j < len; j++) source += pools[rand(pools.length)]();
    const bytes = Buffer.from(source, 'utf8').toString('hex');
    const stem = fileStem(source);
    const seen = byStem.get(stem);
    if (seen !== undefined) assert.equal(seen, bytes, `two names give ${stem}`);
    byStem.set(stem, bytes);
    assert.ok(Buffer.byteLength(stem) <= 200, stem);
    assert.ok(!stem.includes('/') && !stem.includes('\0') && !stem.startsWith('.'), stem);
    assert.match(stem, /^[A-Za-z0-9_.%~-]+$/);
    assert.ok(isFileStem(stem), stem);
    const back = sourceOfStem(stem);
    if (stem.includes('~')) assert.equal(back, undefined);
    else assert.equal(Buffer.from(back as string, 'utf8').toString('hex'), bytes, stem);
  }
  assert.ok(byStem.size > 4000);
});

// ---- writing ----

test('a source named ../../x is written inside the directory only', (t) => {
  const root = tmp(t);
  const dir = path.join(root, 'logs');
  const { files } = open(t, { dir });
  files.append('../../x', line(0), 0);
  files.append('/etc/passwd', line(1), 1);
  assert.equal(files.flush(), true);
  assert.deepEqual(fs.readdirSync(root), ['logs']);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['%2E.%2F..%2Fx.log', '%2Fetc%2Fpasswd.log']);
  assert.equal(read(path.join(dir, '%2E.%2F..%2Fx.log')), line(0));
});

test('rotation: right after the line that takes X.log past maxFileSize; X.log.1 is the newest', (t) => {
  for (const batch of [1, 3, 10]) {
    const dir = tmp(t);
    const { files } = open(t, { dir });
    for (let i = 0; i < 10; i++) {
      files.append('svc', line(i), i);
      if ((i + 1) % batch === 0) assert.equal(files.flush(), true);
    }
    assert.equal(files.flush(), true);
    // 30-byte lines, limit 100: the 4th line makes 120 bytes, then the file rotates.
    assert.equal(read(path.join(dir, 'svc.log.2')), lines(0, 3), `batch ${batch}`);
    assert.equal(read(path.join(dir, 'svc.log.1')), lines(4, 7), `batch ${batch}`);
    assert.equal(read(path.join(dir, 'svc.log')), lines(8, 9), `batch ${batch}`);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['svc.log', 'svc.log.1', 'svc.log.2']);
    assert.deepEqual(contents(files.snapshot()), { svc: { size: 60, seq: 9 } });
    assert.equal(files.stats.rotations, 2);
  }
});

test('rotation with maxFiles 3: only X.log, X.log.1, X.log.2, holding the newest lines', (t) => {
  const dir = tmp(t);
  const { files } = open(t, { dir, maxFiles: 3 });
  for (let i = 0; i < 50; i++) files.append('svc', line(i), i);
  assert.equal(files.flush(), true);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['svc.log', 'svc.log.1', 'svc.log.2']);
  assert.equal(read(path.join(dir, 'svc.log')), lines(48, 49));
  assert.equal(read(path.join(dir, 'svc.log.1')), lines(44, 47));
  assert.equal(read(path.join(dir, 'svc.log.2')), lines(40, 43));
  assert.equal(files.stats.rotations, 12);
  assert.equal(files.stats.linesWritten, 50);
});

test('maxFiles 1: X.log is replaced when it passes the limit', (t) => {
  const dir = tmp(t);
  const { files } = open(t, { dir, maxFiles: 1 });
  for (let i = 0; i < 6; i++) files.append('svc', line(i), i);
  assert.equal(files.flush(), true);
  assert.deepEqual(fs.readdirSync(dir), ['svc.log']);
  assert.equal(read(path.join(dir, 'svc.log')), lines(4, 5));
});

test('a flush is one write per file when no rotation falls in it', (t) => {
  const dir = tmp(t);
  const { files } = open(t, { dir, maxFileSize: 1 << 30 });
  for (let i = 0; i < 1000; i++) {
    for (let s = 0; s < 10; s++) files.append(`svc${s}`, s % 2 ? line(i) : Buffer.from(line(i)), i);
  }
  const realWrite = fs.writeSync;
  let writes = 0;
  // Counting the syscalls: log-files.ts calls fs.writeSync through the same module object.
  (fs as { writeSync: unknown }).writeSync = (...args: Parameters<typeof fs.writeSync>) => {
    writes++;
    return realWrite(...args);
  };
  try {
    assert.equal(files.flush(), true);
  } finally {
    fs.writeSync = realWrite;
  }
  assert.equal(writes, 10);
  assert.equal(files.pendingBytes, 0);
  assert.equal(read(path.join(dir, 'svc3.log')), lines(0, 999));
});

test('compress: rotated files become X.log.N.gz holding the right lines', async (t) => {
  const dir = tmp(t);
  const { files, warnings } = open(t, { dir, maxFiles: 4, compress: true });
  // Some rotations in one flush, some with the gzips of earlier ones running in between.
  for (let i = 0; i < 12; i++) files.append('svc', line(i), i);
  files.flush();
  for (let i = 12; i < 26; i++) {
    files.append('svc', line(i), i);
    files.flush();
    if (i % 3 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  await files.close();
  assert.deepEqual(fs.readdirSync(dir).sort(), ['svc.log', 'svc.log.1.gz', 'svc.log.2.gz', 'svc.log.3.gz']);
  assert.equal(read(path.join(dir, 'svc.log')), lines(24, 25));
  assert.equal(read(path.join(dir, 'svc.log.1.gz')), lines(20, 23));
  assert.equal(read(path.join(dir, 'svc.log.2.gz')), lines(16, 19));
  assert.equal(read(path.join(dir, 'svc.log.3.gz')), lines(12, 15));
  assert.ok(files.stats.compressed >= 3);
  assert.deepEqual(warnings, []);
});

test('maxSourceBytes: the oldest rotated files go first', (t) => {
  const dir = tmp(t);
  // Rotated files hold 120 bytes; 400 leaves room for X.log (100) and two of them.
  const { files } = open(t, { dir, maxSourceBytes: 400 });
  for (let i = 0; i < 40; i++) files.append('svc', line(i), i);
  files.append('other', line(0), 0);
  assert.equal(files.flush(), true);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['other.log', 'svc.log', 'svc.log.1', 'svc.log.2']);
  assert.equal(read(path.join(dir, 'svc.log.1')), lines(36, 39));
  assert.equal(read(path.join(dir, 'svc.log.2')), lines(32, 35));
  assert.ok(files.stats.deleted > 0);
});

test('maxDirBytes: the oldest rotated files by mtime go first, across sources', (t) => {
  const dir = tmp(t);
  const first = open(t, { dir });
  for (let i = 0; i < 12; i++) {
    first.files.append('a', line(i), i);
    first.files.append('b', line(i), i);
  }
  assert.equal(first.files.flush(), true);
  // a.log.3, a.log.2, a.log.1, b.log.3 ... hold 120 bytes each; give them interleaved ages.
  const base = Date.now() / 1000 - 1000;
  const ages = ['a.log.3', 'b.log.3', 'a.log.2', 'b.log.2', 'a.log.1', 'b.log.1'];
  ages.forEach((name, i) => fs.utimesSync(path.join(dir, name), base + i, base + i));
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'x'.repeat(10_000)); // not a log: not counted, not deleted
  const second = open(t, { dir, maxDirBytes: 500 });
  second.files.append('c', line(0), 0);
  assert.equal(second.files.flush(), true);
  // 720 + 30 bytes: three files go, oldest first.
  assert.deepEqual(fs.readdirSync(dir).sort(), ['a.log', 'a.log.1', 'b.log', 'b.log.1', 'b.log.2', 'c.log', 'notes.txt']);
  assert.equal(second.files.stats.deleted, 3);
});

test('after a restart, an existing X.log is appended to and its size counts toward rotation', async (t) => {
  const dir = tmp(t);
  const first = new LogFiles({ dir, maxFiles: 10, maxFileSize: 100, warn: () => undefined });
  first.append('svc', line(0), 0);
  first.append('svc', line(1), 1);
  assert.equal(first.flush(), true);
  await first.close();
  const { files } = open(t, { dir });
  for (let i = 2; i < 6; i++) files.append('svc', line(i), i);
  assert.equal(files.flush(), true);
  assert.equal(read(path.join(dir, 'svc.log.1')), lines(0, 3));
  assert.equal(read(path.join(dir, 'svc.log')), lines(4, 5));
});

test('a symlink planted as X.log is not followed, and is reported once', (t) => {
  const dir = tmp(t);
  const outside = path.join(tmp(t), 'outside');
  fs.writeFileSync(outside, 'secret\n');
  fs.symlinkSync(outside, path.join(dir, 'svc.log'));
  const { files, warnings } = open(t, { dir });
  for (let round = 0; round < 3; round++) {
    files.append('svc', line(round), round);
    files.append('ok', line(round), round);
    assert.equal(files.flush(), true);
  }
  assert.equal(fs.readFileSync(outside, 'utf8'), 'secret\n');
  assert.equal(read(path.join(dir, 'ok.log')), lines(0, 2));
  assert.equal(files.stats.refused, 3);
  assert.equal(files.pendingBytes, 0);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /svc\.log is a symbolic link/);
  // A symlink swapped in for an open file is not followed either.
  fs.rmSync(path.join(dir, 'ok.log'));
  fs.symlinkSync(outside, path.join(dir, 'ok.log'));
  files.append('ok', line(9), 9);
  files.flush();
  assert.equal(fs.readFileSync(outside, 'utf8'), 'secret\n');
  assert.equal(files.stats.refused, 4);
});

test('a FIFO planted as X.log does not block and is refused', (t) => {
  const dir = tmp(t);
  try {
    execFileSync('mkfifo', [path.join(dir, 'svc.log')]); // coreutils; skipped where missing
  } catch {
    t.skip('no mkfifo');
    return;
  }
  const { files, warnings } = open(t, { dir });
  files.append('svc', line(0), 0);
  assert.equal(files.flush(), true);
  assert.equal(files.stats.refused, 1);
  assert.equal(warnings.length, 1);
});

test('a file removed by someone else is made again, and reported once', (t) => {
  const dir = tmp(t);
  const { files, warnings } = open(t, { dir });
  files.append('svc', line(0), 0);
  files.flush();
  fs.rmSync(path.join(dir, 'svc.log'));
  for (let i = 1; i < 4; i++) {
    files.append('svc', line(i), i);
    assert.equal(files.flush(), true);
  }
  assert.equal(read(path.join(dir, 'svc.log')), lines(1, 3));
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /svc\.log was removed/);
  // Renamed away (a foreign logrotate): the same.
  fs.renameSync(path.join(dir, 'svc.log'), path.join(dir, 'svc.old'));
  files.append('svc', line(4), 4);
  files.flush();
  assert.equal(read(path.join(dir, 'svc.log')), line(4));
  assert.equal(warnings.length, 2);
});

/** Lines 0-4 of svc written and the state saved, then lines 5 and 6 written and the crash: returns the state saved. */
async function crashAfterUnsavedWrites(dir: string): Promise<Record<string, FileSnapshot>> {
  const first = new LogFiles({ dir, maxFiles: 10, maxFileSize: 1000, warn: () => undefined });
  for (let i = 0; i < 5; i++) first.append('svc', line(i), i);
  first.flush();
  const saved = first.snapshot();
  for (let i = 5; i < 7; i++) first.append('svc', line(i), i);
  first.flush(); // written, but the crash comes before the state is saved
  await first.close();
  return saved;
}

test('recover() cuts X.log back to the saved size and skips lines already on disk', async (t) => {
  const dir = tmp(t);
  const saved = await crashAfterUnsavedWrites(dir);
  assert.deepEqual(contents(saved), { svc: { size: 150, seq: 4 } });

  const { files } = open(t, { dir, maxFileSize: 1000 });
  const did = files.recover({ ...saved, 'gone%20one': { size: 10, seq: 1 }, '../etc': { size: 0, seq: 0 } });
  assert.equal(did.length, 2);
  assert.match(did[0], /svc\.log: cut from 210 to 150 bytes/);
  assert.match(did[1], /ignored "\.\.\/etc"/);
  assert.equal(fs.statSync(path.join(dir, 'svc.log')).size, 150);
  assert.ok(!fs.existsSync(path.join(dir, 'gone%20one.log')));
  // memlogd sends again from somewhat before: what is on disk is skipped, markers (seq -1) are not.
  for (let i = 3; i < 9; i++) files.append('svc', line(i), i);
  files.append('svc', 'marker\n', -1);
  assert.equal(files.flush(), true);
  assert.equal(read(path.join(dir, 'svc.log')), lines(0, 8) + 'marker\n');
  assert.equal(files.stats.skipped, 2);
  assert.deepEqual(contents(files.snapshot()).svc, { size: 277, seq: 8 });
});

test('recover() cuts only the file the state describes: another file at that name is left alone, and reported', async (t) => {
  const dir = tmp(t);
  const saved = await crashAfterUnsavedWrites(dir);
  // Meanwhile the admin moved the file away, and something else made a new one at its name.
  fs.renameSync(path.join(dir, 'svc.log'), path.join(dir, 'svc.log.old'));
  const theirs = 'x'.repeat(400) + '\n';
  fs.writeFileSync(path.join(dir, 'svc.log'), theirs);

  const { files } = open(t, { dir, maxFileSize: 1000 });
  const did = files.recover(saved);
  assert.equal(read(path.join(dir, 'svc.log')), theirs);
  assert.equal(read(path.join(dir, 'svc.log.old')), lines(0, 6));
  assert.equal(did.length, 1, did.join('\n'));
  assert.match(did[0], /svc\.log: not the file the saved state describes .*moved away or replaced since; left as is/);
});

test('a file the saved state does not describe is described before it is first written: a crash right after the write cuts it back', async (t) => {
  const dir = tmp(t);
  let saved: Record<string, FileSnapshot> | undefined;
  let asked = 0;
  const holder: { files?: LogFiles } = {};
  const files = new LogFiles({
    dir,
    maxFiles: 10,
    maxFileSize: 1000,
    warn: () => undefined,
    describe: () => {
      const f = holder.files as LogFiles;
      asked++;
      saved = f.snapshot();
      f.saved(saved);
      return true;
    },
  });
  holder.files = files;
  fs.writeFileSync(path.join(dir, 'old.log'), line(99)); // there before: it is described with what it holds
  files.append('svc', line(0), 0);
  files.append('old', line(0), 0);
  assert.equal(files.flush(), true);
  assert.equal(asked, 1, 'one save for both files');
  assert.deepEqual(contents(saved ?? {}), { svc: { size: 0, seq: -1 }, old: { size: 30, seq: -1 } });
  // Described now: the next flush does not ask again.
  files.append('svc', line(1), 1);
  assert.equal(files.flush(), true);
  assert.equal(asked, 1);
  await files.close();
  // The crash comes before the state after these writes is saved: recovery cuts what memlogd will send again.
  const after = open(t, { dir, maxFileSize: 1000 });
  assert.deepEqual(after.files.recover(saved ?? {}).length, 2);
  assert.equal(read(path.join(dir, 'svc.log')), '');
  assert.equal(read(path.join(dir, 'old.log')), line(99));
});

test('at most maxKeptFiles files are remembered: 3,000 sources pass through, the saved state stays small', (t) => {
  // The default bound is MAX_KEPT_FILES; a small one here, for speed (making a file costs most of the time).
  const kept = 100;
  const dir = memTmpdir(t);
  const store = new StateStore(dir);
  t.after(() => store.close());
  let safe = -1;
  let describes = 0;
  const holder: { files?: LogFiles } = {};
  const save = (): boolean => {
    const f = holder.files as LogFiles;
    const snapshot = f.snapshot(safe);
    store.save({ seq: safe, files: snapshot });
    f.saved(snapshot);
    return true;
  };
  const { files } = open(t, { dir, maxFileSize: 1 << 20, maxKeptFiles: kept, describe: () => (describes++, save()) });
  holder.files = files;
  let seq = 0;
  let largest = 0;
  for (let round = 0; round < 300; round++) {
    // Ten names used once (job-$RANDOM style), and one source that writes every time.
    for (let k = 0; k < 10; k++) files.append(`job-${round * 10 + k}`, line(round * 10 + k), seq++);
    files.append('live', line(round), seq++);
    assert.equal(files.flush(), true);
    safe = seq - 1; // everything is on disk up to here
    save();
    for (const slot of STATE_FILES) largest = Math.max(largest, fs.statSync(path.join(dir, slot), { throwIfNoEntry: false })?.size ?? 0);
  }
  const state = new StateStore(dir).load(() => undefined);
  assert.ok(Object.keys(state.files).length <= kept, `${Object.keys(state.files).length} files in the state`);
  assert.ok(largest <= kept * 100, `${largest} bytes of state`);
  assert.ok('live' in state.files, 'the source written at every flush stays');
  assert.ok(files.kept <= kept);
  assert.equal(files.stats.forgotten, 3001 - files.kept);
  assert.equal(read(path.join(dir, 'job-0.log')), line(0));
  assert.equal(read(path.join(dir, 'job-2999.log')), line(2999));
  assert.equal(read(path.join(dir, 'live.log')), lines(0, 299));
  // A forgotten file written again is described again first, with what it holds.
  const before = describes;
  files.append('job-0', line(0), seq++);
  assert.equal(files.flush(), true);
  assert.equal(describes, before + 1);
  assert.deepEqual(contents(new StateStore(dir).load(() => undefined).files)['job-0'], { size: 30, seq: -1 });
  assert.equal(read(path.join(dir, 'job-0.log')), lines(0, 0) + line(0));
});

test('fsync: sync() fsyncs each file written since the last sync, then the directory if names changed in it', (t) => {
  const dir = tmp(t);
  const { files } = open(t, { dir, fsync: true });
  const synced: string[] = [];
  const realFsync = fs.fsyncSync;
  (fs as { fsyncSync: unknown }).fsyncSync = (fd: number): void => {
    synced.push(path.basename(fs.readlinkSync(`/proc/self/fd/${fd}`)));
    realFsync(fd);
  };
  try {
    files.append('a', line(0), 0);
    files.append('b', line(0), 0);
    assert.equal(files.flush(), true);
    assert.equal(files.sync(), true);
    assert.deepEqual(synced.sort(), ['a.log', 'b.log', path.basename(dir)].sort());
    synced.length = 0;
    files.append('a', line(1), 1);
    assert.equal(files.flush(), true);
    assert.equal(files.sync(), true);
    assert.deepEqual(synced, ['a.log']);
    synced.length = 0;
    assert.equal(files.sync(), true);
    assert.deepEqual(synced, [], 'nothing written, nothing to sync');
  } finally {
    fs.fsyncSync = realFsync;
  }
});

test('a disk error: flush() returns false, warns once, keeps the lines, writes them all later', (t) => {
  const dir = tmp(t);
  const { files, warnings } = open(t, { dir, maxFileSize: 1000 });
  files.append('svc', line(0), 0);
  files.flush();
  // Works as root too: X.log becomes a directory, so opening it fails with EISDIR.
  fs.rmSync(path.join(dir, 'svc.log'));
  fs.mkdirSync(path.join(dir, 'svc.log'));
  for (let i = 1; i < 6; i++) {
    files.append('svc', line(i), i);
    files.append('other', line(i), i);
    assert.equal(files.flush(), false);
  }
  assert.equal(files.pendingBytes, 5 * 30);
  assert.equal(files.stats.errors, 5);
  const errors = warnings.filter((w) => /EISDIR/.test(w));
  assert.equal(errors.length, 1, warnings.join('\n'));
  assert.deepEqual(contents(files.snapshot()).svc, { size: 30, seq: 0 });
  fs.rmdirSync(path.join(dir, 'svc.log'));
  assert.equal(files.flush(), true);
  assert.equal(files.pendingBytes, 0);
  assert.equal(read(path.join(dir, 'svc.log')), lines(1, 5));
  assert.equal(read(path.join(dir, 'other.log')), lines(1, 5));
  assert.match(warnings[warnings.length - 1], /writing works again \(after EISDIR\)/);
});

test('partial writes and errors mid-way: every line lands once, whole, in order', (t) => {
  const dir = tmp(t);
  const { files, warnings } = open(t, { dir });
  for (let i = 0; i < 18; i++) {
    files.append('a', line(i), i);
    files.append('b', Buffer.from(line(i)), i);
  }
  const realWrite = fs.writeSync;
  let calls = 0;
  // At most 7 bytes per write, and every 4th write fails: lines are cut anywhere, rotations too.
  const shortWrite = (fd: number, buf: Buffer, off: number, len: number): number => {
    if (++calls % 4 === 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
    return realWrite(fd, buf, off, Math.min(len, 7));
  };
  (fs as { writeSync: unknown }).writeSync = shortWrite;
  let failures = 0;
  try {
    while (!files.flush()) {
      failures++;
      assert.ok(failures < 1000);
      // What the snapshot says is on disk is whole lines, and never more than the file holds.
      for (const [stem, snap] of Object.entries(files.snapshot())) {
        const text = read(path.join(dir, `${stem}.log`)) ?? '';
        assert.ok(snap.size <= text.length);
        assert.ok(snap.size === 0 || text[snap.size - 1] === '\n');
      }
    }
  } finally {
    fs.writeSync = realWrite;
  }
  assert.ok(failures > 10);
  for (const stem of ['a', 'b']) {
    let all = '';
    for (const name of [`${stem}.log.4`, `${stem}.log.3`, `${stem}.log.2`, `${stem}.log.1`, `${stem}.log`]) all += read(path.join(dir, name)) ?? '';
    assert.equal(all, lines(0, 17), stem);
    assert.equal(read(path.join(dir, `${stem}.log.1`)), lines(12, 15), stem);
  }
  assert.equal(warnings.filter((w) => /^ENOSPC/.test(w)).length, 2, warnings.join('\n'));
  assert.equal(warnings.filter((w) => /works again/.test(w)).length, 2, warnings.join('\n'));
  assert.equal(files.stats.linesWritten, 36);
  assert.equal(files.pendingBytes, 0);
});

test('a rotation that fails is retried, and lines wait for it', (t) => {
  const dir = tmp(t);
  const { files, warnings } = open(t, { dir, maxFiles: 3 });
  // X.log.2 is a directory with something in it: the rotation cannot delete it.
  fs.mkdirSync(path.join(dir, 'svc.log.2'));
  fs.writeFileSync(path.join(dir, 'svc.log.2', 'x'), '');
  for (let i = 0; i < 6; i++) files.append('svc', line(i), i);
  assert.equal(files.flush(), false);
  assert.equal(files.flush(), false);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /^EISDIR rotating/);
  assert.equal(read(path.join(dir, 'svc.log')), lines(0, 3));
  assert.equal(files.pendingBytes, 60);
  fs.rmSync(path.join(dir, 'svc.log.2'), { recursive: true });
  assert.equal(files.flush(), true);
  assert.equal(read(path.join(dir, 'svc.log.1')), lines(0, 3));
  assert.equal(read(path.join(dir, 'svc.log')), lines(4, 5));
});

test('at most 256 files are kept open', (t) => {
  const dir = tmp(t);
  const { files } = open(t, { dir, maxFileSize: 1 << 20 });
  const before = fs.readdirSync('/proc/self/fd').length;
  for (let round = 0; round < 2; round++) {
    for (let s = 0; s < 300; s++) files.append(`s${s}`, line(round), round);
    assert.equal(files.flush(), true);
  }
  const opened = fs.readdirSync('/proc/self/fd').length - before;
  assert.ok(opened <= 256 && opened >= 250, `${opened} fds`);
  assert.equal(read(path.join(dir, 's0.log')), lines(0, 1));
  assert.equal(read(path.join(dir, 's299.log')), lines(0, 1));
});

test('the directory itself made unusable (a file in its place), then usable again', (t) => {
  const root = tmp(t);
  const dir = path.join(root, 'logs');
  const { files, warnings } = open(t, { dir });
  fs.rmdirSync(dir);
  fs.writeFileSync(dir, '');
  files.append('svc', line(0), 0);
  assert.equal(files.flush(), false);
  assert.equal(files.flush(), false);
  files.append('other', line(0), 0);
  assert.equal(files.flush(), false);
  // One warning for the directory, not one per file.
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0], /^cannot make .*logs: (ENOTDIR|EEXIST)/);
  fs.rmSync(dir);
  assert.equal(files.flush(), true); // the directory is made again
  assert.equal(read(path.join(dir, 'svc.log')), line(0));
  assert.equal(read(path.join(dir, 'other.log')), line(0));
  assert.equal(warnings.length, 2, warnings.join('\n'));
  assert.match(warnings[1], /logs is usable again/);
});

test('onRotate is called before and after each rotation, with the files on both sides', (t) => {
  const dir = tmp(t);
  const seen: string[] = [];
  const holder: { files?: LogFiles } = {};
  const { files } = open(t, {
    dir,
    onRotate: (phase) => {
      const snap = (holder.files as LogFiles).snapshot().svc;
      const live = fs.statSync(path.join(dir, 'svc.log'), { throwIfNoEntry: false });
      seen.push(`${phase} size=${snap.size} seq=${snap.seq} disk=${live?.size} rotated=${fs.existsSync(path.join(dir, 'svc.log.1'))}`);
    },
  });
  holder.files = files;
  for (let i = 0; i < 9; i++) files.append('svc', line(i), i);
  files.flush();
  assert.deepEqual(seen, [
    'before size=120 seq=3 disk=120 rotated=false',
    'after size=0 seq=3 disk=0 rotated=true',
    'before size=120 seq=7 disk=120 rotated=true',
    'after size=0 seq=7 disk=0 rotated=true',
  ]);
});
