/** Reading the persister's directory as one history (src/history): real files, written by the real persister where it matters. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { dump, openStream, startDaemon, startPersister, tmpdir, waitFor } from './helpers.js';
import { queryStatus } from '../src/clients/query-client.js';
import { formatRfc3339Nano, formatRfc3339Seconds } from '../src/entry/rfc3339.js';
import { CompiledFilter, type Filter } from '../src/filter/entry-filter.js';
import { readDiskHistory } from '../src/history/disk-history.js';
import { historyEntryOf, type HistoryEntry } from '../src/history/history-entry.js';
import { mergeHistory } from '../src/history/merge.js';

const T0 = 1_790_000_000; // 2026-09-21T...: any fixed second

const filterOf = (f: Partial<Filter> = {}): CompiledFilter => new CompiledFilter({ sources: [], exclude: [], ...f });

const text = (sec: number, source: string, msg: string): string => `${formatRfc3339Seconds(sec)} ${source} ${msg}\n`;

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function* streamOf(entries: HistoryEntry[]): AsyncGenerator<HistoryEntry> {
  yield* entries;
}

/** The history of dir under a filter, and the warnings it gave. */
async function read(dir: string, f: Partial<Filter> = {}, knownSources?: string[]): Promise<{ entries: HistoryEntry[]; warnings: string[] }> {
  const warnings: string[] = [];
  const entries = await collect(readDiskHistory({ dir, filter: filterOf(f), warn: (m) => warnings.push(m), knownSources }));
  return { entries, warnings };
}

const said = (entries: HistoryEntry[]): string[] => entries.map((e) => `${e.source}: ${e.msg}`);


const fileText = (file: string): string => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '');

test('rotated and gzipped files of several sources come back once each, in time order', async (t) => {
  const dir = tmpdir(t);
  const logDir = path.join(dir, 'log');
  const daemon = await startDaemon(t, dir, ['-max-lines', '10000']);
  const p = startPersister(t, daemon.querySocket, logDir, ['-max-log-files', '50', '-max-log-size', '400', '-compress']);
  for (let round = 0; round < 4; round++) {
    for (const name of ['alpha', 'beta']) {
      const fd = await openStream(daemon.logSocket, name);
      fs.writeSync(fd, Array.from({ length: 25 }, (_, i) => `${name} ${round}-${i}`).join('\n') + '\n');
      fs.closeSync(fd);
    }
    // Rotated and gzipped as it goes: looked for in all the files.
    await waitFor(`round ${round} on disk`, async () => {
      const msgs = new Set((await read(logDir)).entries.map((e) => e.msg));
      return ['alpha', 'beta'].every((n) => msgs.has(`${n} ${round}-24`));
    });
  }
  await p.stop();
  assert.ok(fs.readdirSync(logDir).filter((f) => f.endsWith('.gz')).length > 4, 'gzipped rotated files');
  const { entries, warnings } = await read(logDir);
  assert.deepEqual(warnings, []);
  const times = entries.map((e) => e.sec);
  assert.deepEqual(times, [...times].sort((a, b) => a - b), 'in time order');
  const ring = await dump(daemon.querySocket);
  for (const name of ['alpha', 'beta']) {
    assert.deepEqual(entries.filter((e) => e.source === name).map((e) => e.msg), ring.filter((e) => e.source === name).map((e) => e.msg), name);
  }
  assert.ok(entries.every((e) => e.precision === 's' && e.nsec === 0 && e.seq === undefined));
});

/** alpha over three files (the oldest gzipped), beta, c/d, a json source, and a source whose name holds the grep word. */
function handMade(dir: string): void {
  fs.writeFileSync(path.join(dir, 'alpha.log.2.gz'), zlib.gzipSync(text(T0, 'alpha', 'err disk 1') + text(T0 + 3, 'alpha', 'boot needle here')));
  fs.writeFileSync(path.join(dir, 'alpha.log.1'), text(T0 + 6, 'alpha', 'ok') + text(T0 + 9, 'alpha', 'err disk 2'));
  fs.writeFileSync(path.join(dir, 'alpha.log'), text(T0 + 12, 'alpha', 'NEEDLE upper') + text(T0 + 15, 'alpha', 'last'));
  fs.writeFileSync(path.join(dir, 'beta.log'), text(T0 + 1, 'beta', 'needle in beta') + text(T0 + 10, 'beta', 'err 7'));
  fs.writeFileSync(path.join(dir, 'c%2Fd.log'), text(T0 + 2, 'c/d', 'slash source'));
  fs.writeFileSync(path.join(dir, 'needle-src.log'), text(T0 + 4, 'needle-src', 'nothing to see'));
  const json = (sec: number, nsec: number, msg: string, seq: number): string =>
    JSON.stringify({ time: formatRfc3339Nano(sec, nsec), source: 'js', msg, seq, daemon: 'd1', pid: 5, uid: 0, gid: 0 }) + '\n';
  fs.writeFileSync(path.join(dir, 'js.log'), json(T0 + 5, 500, 'say "needle" twice', 7) + json(T0 + 5, 900, 'plain', 8));
}

test('filters: source globs, time window, grep literal, regexp and ignore case; json and text files alike', async (t) => {
  const dir = tmpdir(t);
  handMade(dir);
  const all = await read(dir);
  assert.deepEqual(all.warnings, []);
  assert.deepEqual(said(all.entries), [
    'alpha: err disk 1',
    'beta: needle in beta',
    'c/d: slash source',
    'alpha: boot needle here',
    'needle-src: nothing to see',
    'js: say "needle" twice',
    'js: plain',
    'alpha: ok',
    'alpha: err disk 2',
    'beta: err 7',
    'alpha: NEEDLE upper',
    'alpha: last',
  ]);
  const js = all.entries.find((e) => e.source === 'js' && e.msg === 'plain');
  assert.deepEqual(js, { sec: T0 + 5, nsec: 900, source: 'js', msg: 'plain', seq: 8, daemon: 'd1', pid: 5, uid: 0, gid: 0, precision: 'ns' });
  assert.deepEqual(said((await read(dir, { sources: ['alpha'] })).entries), ['alpha: err disk 1', 'alpha: boot needle here', 'alpha: ok', 'alpha: err disk 2', 'alpha: NEEDLE upper', 'alpha: last']);
  assert.deepEqual(said((await read(dir, { sources: ['c/*', 'b?ta'] })).entries), ['beta: needle in beta', 'c/d: slash source', 'beta: err 7']);
  assert.deepEqual(said((await read(dir, { exclude: ['alpha', 'needle*', 'js'] })).entries), ['beta: needle in beta', 'c/d: slash source', 'beta: err 7']);
  // The window is on receipt time; json lines keep their nanoseconds.
  assert.deepEqual(said((await read(dir, { since: { sec: T0 + 5, nsec: 600 }, until: { sec: T0 + 9, nsec: 0 } })).entries), ['js: plain', 'alpha: ok', 'alpha: err disk 2']);
  // A literal is looked for in the message only (not in the source name), in text and json lines (escaped there).
  assert.deepEqual(said((await read(dir, { grep: 'needle' })).entries), ['beta: needle in beta', 'alpha: boot needle here', 'js: say "needle" twice']);
  assert.deepEqual(said((await read(dir, { grep: '"needle"' })).entries), ['js: say "needle" twice']);
  assert.deepEqual(said((await read(dir, { grep: 'needle', ignoreCase: true })).entries), ['beta: needle in beta', 'alpha: boot needle here', 'js: say "needle" twice', 'alpha: NEEDLE upper']);
  assert.deepEqual(said((await read(dir, { grep: '^err.*[0-9]$' })).entries), ['alpha: err disk 1', 'alpha: err disk 2', 'beta: err 7']);
  // Text lines have no severity: they count as info.
  assert.deepEqual((await read(dir, { priority: 3 })).entries, []);
});

test('a file whose mtime is before -since is not read at all', async (t) => {
  const dir = tmpdir(t);
  handMade(dir);
  // Its lines say later than -since, its mtime says earlier: the mtime decides, the file is not opened.
  fs.writeFileSync(path.join(dir, 'alpha.log.1'), text(T0 + 100, 'alpha', 'inconsistent'));
  fs.utimesSync(path.join(dir, 'alpha.log.1'), T0 + 20, T0 + 20);
  const { entries } = await read(dir, { since: { sec: T0 + 50, nsec: 0 } });
  assert.deepEqual(said(entries), []);
  fs.utimesSync(path.join(dir, 'alpha.log.1'), T0 + 60, T0 + 60);
  assert.deepEqual(said((await read(dir, { since: { sec: T0 + 50, nsec: 0 } })).entries), ['alpha: inconsistent']);
});

test('a hashed stem is named by knownSources, else by the first word of its lines', async (t) => {
  const dir = tmpdir(t);
  const long = 'x'.repeat(150) + ' ' + 'y'.repeat(150); // a long name with a space: a hashed stem
  const { fileStem } = await import('../src/persist/file-names.js');
  fs.writeFileSync(path.join(dir, `${fileStem(long)}.log`), text(T0, long, 'from the long one'));
  assert.deepEqual(said((await read(dir, {}, [long, 'other'])).entries), [`${long}: from the long one`]);
  assert.deepEqual(said((await read(dir)).entries), [`${'x'.repeat(150)}: ${'y'.repeat(150)} from the long one`]);
});

test('damaged, unreadable and planted files are reported once each, by name; everything else is read', async (t) => {
  const dir = tmpdir(t);
  const outside = tmpdir(t);
  const lines = Array.from({ length: 2000 }, (_, i) => text(T0 + i, 'gz', `line ${i}`)).join('');
  const gz = zlib.gzipSync(lines);
  fs.writeFileSync(path.join(dir, 'gz.log.2.gz'), gz.subarray(0, Math.floor(gz.length * 0.6))); // truncated
  fs.writeFileSync(path.join(dir, 'gz.log.1'), text(T0 + 5000, 'gz', 'after the damage'));
  fs.writeFileSync(path.join(dir, 'junk.log.1.gz'), Buffer.from('this is not gzip at all\n'.repeat(10)));
  fs.writeFileSync(path.join(dir, 'junk.log'), text(T0 + 5001, 'junk', 'junk survives'));
  fs.mkdirSync(path.join(dir, 'dir.log.1')); // cannot be read, whoever runs the test (root included)
  fs.writeFileSync(path.join(dir, 'dir.log'), text(T0 + 5002, 'dir', 'dir survives'));
  fs.writeFileSync(path.join(outside, 'secret'), text(T0, 'secret', 'must not be read'));
  fs.symlinkSync(path.join(outside, 'secret'), path.join(dir, 'link.log'));
  fs.writeFileSync(path.join(dir, 'bad.log'), text(T0 + 5003, 'bad', 'good one') + 'garbage line\n' + 'more garbage\n' + text(T0 + 5004, 'bad', 'good two'));
  const { entries, warnings } = await read(dir);
  assert.equal(warnings.length, 5, warnings.join('\n'));
  const about = (name: string): string[] => warnings.filter((w) => w.startsWith(path.join(dir, name) + ':'));
  assert.match(about('gz.log.2.gz').join(), /truncated gzip file .*read up to the damage/);
  assert.match(about('junk.log.1.gz').join(), /damaged gzip file/);
  assert.match(about('dir.log.1').join(), /a directory; skipped/);
  assert.match(about('link.log').join(), /a symbolic link: not followed/);
  assert.match(about('bad.log').join(), /not a log line \("garbage line"\)/);
  const gzLines = entries.filter((e) => e.source === 'gz').map((e) => e.msg);
  const before = gzLines.length - 1;
  assert.ok(before > 100 && before < 2000, `${before} lines before the damage`);
  assert.deepEqual(gzLines, [...Array.from({ length: before }, (_, i) => `line ${i}`), 'after the damage']);
  assert.deepEqual(said(entries.slice(-5)), ['gz: after the damage', 'junk: junk survives', 'dir: dir survives', 'bad: good one', 'bad: good two']);
  assert.ok(!entries.some((e) => e.msg.includes('must not be read')));
});

test('files that are not log files are left alone', async (t) => {
  const dir = tmpdir(t);
  fs.writeFileSync(path.join(dir, 'svc.log'), text(T0, 'svc', 'the one line'));
  fs.writeFileSync(path.join(dir, '.logwrite-state.0'), 'state');
  fs.writeFileSync(path.join(dir, 'svc.log.gz-tmp'), 'half a gzip');
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'notes');
  fs.writeFileSync(path.join(dir, 'not a stem.log'), 'not ours');
  fs.mkdirSync(path.join(dir, 'memlogd-down'));
  const { entries, warnings } = await read(dir);
  assert.deepEqual(warnings, []);
  assert.deepEqual(said(entries), ['svc: the one line']);
});

test('stopping early closes every file', async (t) => {
  const dir = tmpdir(t);
  // Files of several chunks each, some gzipped: every source has one open when the first entry comes.
  for (let s = 0; s < 8; s++) {
    const body = Array.from({ length: 40_000 }, (_, i) => text(T0 + i, `s${s}`, `line ${i} ${'x'.repeat(40)}`)).join('');
    if (s % 2 === 0) fs.writeFileSync(path.join(dir, `s${s}.log`), body);
    else fs.writeFileSync(path.join(dir, `s${s}.log.1.gz`), zlib.gzipSync(body));
  }
  const fds = (): number => fs.readdirSync('/proc/self/fd').length;
  const baseline = fds();
  let n = 0;
  for await (const e of readDiskHistory({ dir, filter: filterOf(), warn: (m) => assert.fail(m) })) {
    assert.equal(e.msg.slice(0, 7), 'line 0 ');
    if (++n === 3) break;
  }
  await waitFor(`fds back to ${baseline}`, () => fds() <= baseline);
});

const ringEntries = (wire: unknown[], daemon: string): HistoryEntry[] => wire.map((w) => historyEntryOf(w, daemon) as HistoryEntry);

for (const format of ['json', 'text']) {
  test(`${format}: the disk and the ring as one history, each entry once, none missing between them`, async (t) => {
    const dir = tmpdir(t);
    const logDir = path.join(dir, 'log');
    // A small ring: its oldest entries are gone by the end, the disk has them; its newest are not on disk.
    const daemon = await startDaemon(t, dir, ['-max-lines', '150']);
    const daemonId = (await queryStatus(daemon.querySocket)).daemon;
    const p = startPersister(t, daemon.querySocket, logDir, ['-format', format, '-max-log-size', '5000']);
    await waitFor('the persister writing', () => fileText(path.join(logDir, 'memlogd.log')).includes('memlogd started'));
    const write = async (from: number, to: number): Promise<void> => {
      const fd = await openStream(daemon.logSocket, 'svc');
      fs.writeSync(fd, Array.from({ length: to - from }, (_, i) => `line ${from + i}`).join('\n') + '\n');
      fs.closeSync(fd);
    };
    // In batches the ring holds, each on disk before the next: the disk has them all.
    for (let i = 0; i < 200; i += 20) {
      await write(i, i + 20);
      // In svc.log, or in svc.log.1 if it was the line that made the file rotate.
      await waitFor(`line ${i + 19} on disk`, () => ['svc.log', 'svc.log.1'].some((f) => fileText(path.join(logDir, f)).includes(`line ${i + 19}`)));
    }
    await p.stop();
    await write(200, 300);
    await waitFor('line 299 in the ring', async () => (await dump(daemon.querySocket)).some((e) => e.msg === 'line 299'));
    const ring = ringEntries(await dump(daemon.querySocket), daemonId);
    assert.ok(!ring.some((e) => e.msg === 'line 0'), 'the ring has lost the oldest');
    assert.ok(ring.some((e) => e.msg === 'line 180'), 'the ring and the disk overlap');
    const warnings: string[] = [];
    const merged = await collect(mergeHistory(readDiskHistory({ dir: logDir, filter: filterOf(), warn: (m) => warnings.push(m) }), streamOf(ring)));
    assert.deepEqual(warnings, []);
    assert.deepEqual(merged.filter((e) => e.source === 'svc').map((e) => e.msg), Array.from({ length: 300 }, (_, i) => `line ${i}`));
    // memlogd's own lines too: each once.
    const own = merged.filter((e) => e.source === 'memlogd').map((e) => e.msg);
    assert.equal(new Set(own).size, own.length, own.join('\n'));
  });
}

test('text: second precision, what is deduplicated and what is not', async (t) => {
  const dir = tmpdir(t);
  const S = T0;
  fs.writeFileSync(path.join(dir, 'a.log'), text(S - 1, 'a', 'old') + text(S, 'a', 'x') + text(S, 'a', 'x') + text(S, 'a', 'y'));
  const r = (sec: number, nsec: number, source: string, msg: string): HistoryEntry => ({ sec, nsec, source, msg, seq: 0, daemon: 'd', precision: 'ns' });
  const ring = [
    r(S - 1, 5, 'a', 'old'), // on disk
    r(S, 1, 'a', 'x'), // on disk (twice)
    r(S, 2, 'a', 'x'),
    r(S, 3, 'a', 'y'), // on disk
    r(S, 4, 'a', 'x'), // a third x in that second: the disk has two
    r(S, 5, 'a', 'z'), // not on disk
    r(S, 6, 'logwrite-self', 'x'), // never on disk
    r(S + 1, 0, 'a', 'new'),
  ];
  const merged = await collect(mergeHistory(readDiskHistory({ dir, filter: filterOf(), warn: (m) => assert.fail(m) }), streamOf(ring)));
  assert.deepEqual(
    merged.map((e) => `${e.sec - S} ${e.precision} ${e.source}: ${e.msg}`),
    ['-1 s a: old', '0 s a: x', '0 s a: x', '0 s a: y', '0 ns a: x', '0 ns a: z', '0 ns logwrite-self: x', '1 ns a: new'],
  );
});

test('json: a ring entry is on disk when the disk holds its daemon and seq; another daemon\'s seqs are its own', async (t) => {
  const dir = tmpdir(t);
  const line = (sec: number, seq: number, daemon: string, msg: string): string => JSON.stringify({ time: formatRfc3339Nano(sec, 7), source: 'a', msg, seq, daemon }) + '\n';
  fs.writeFileSync(path.join(dir, 'a.log'), line(T0, 10, 'd1', 'ten') + line(T0 + 1, 12, 'd1', 'twelve'));
  const r = (sec: number, seq: number, daemon: string, msg: string): HistoryEntry => ({ sec, nsec: 7, source: 'a', msg, seq, daemon, precision: 'ns' });
  const ring = [r(T0, 10, 'd1', 'ten'), r(T0 + 1, 12, 'd1', 'twelve'), r(T0 + 2, 14, 'd1', 'fourteen'), r(T0 + 3, 12, 'd2', 'twelve of d2')];
  const merged = await collect(mergeHistory(readDiskHistory({ dir, filter: filterOf(), warn: (m) => assert.fail(m) }), streamOf(ring)));
  assert.deepEqual(merged.map((e) => e.msg), ['ten', 'twelve', 'fourteen', 'twelve of d2']);
});
