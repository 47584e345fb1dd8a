/**
 * memlog bundle: the archive's listing and contents against a real memlogd
 * and a persister-like log directory; memlogd down; usage errors; a log file
 * that grows while it is bundled.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { extract } from 'tar-stream';
import { BIN, dump, fakeUpstream, openStream, run, startDaemon, tmpdir, waitFor } from './helpers.js';

interface Member {
  type: string;
  size: number;
  data: Buffer;
}

/** Every member of a .tar.gz, read back with gunzip and tar-stream's extract. */
async function readArchive(file: string): Promise<Map<string, Member>> {
  const ex = extract();
  const members = new Map<string, Member>();
  const reading = (async () => {
    for await (const entry of ex) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      const data = Buffer.concat(chunks);
      assert.equal(data.length, entry.header.size, `${entry.header.name}: data as long as its header says`);
      members.set(entry.header.name, { type: entry.header.type, size: entry.header.size, data });
    }
  })();
  ex.end(zlib.gunzipSync(fs.readFileSync(file)));
  await reading;
  return members;
}

/** The members' names without the top directory, which must be the same for all. */
function names(members: Map<string, Member>): string[] {
  const all = [...members.keys()];
  const top = all[0];
  assert.match(top, /^memlog-bundle-\d{8}T\d{6}Z\/$/);
  for (const name of all) assert.ok(name.startsWith(top), `${name} is under ${top}`);
  return all.map((n) => n.slice(top.length)).sort();
}

function member(members: Map<string, Member>, rel: string): Member {
  const top = [...members.keys()][0];
  const m = members.get(top + rel);
  assert.ok(m, `${rel} in the archive`);
  return m;
}

function kmsgReadable(): boolean {
  try {
    fs.accessSync('/dev/kmsg', fs.constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

function bundleTmpDirs(): string[] {
  return fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('memlog-bundle-'));
}

/** A directory like the persister's: current, rotated, compressed, a state file, a subdirectory, and a symlink. */
function makeLogDir(dir: string): string {
  const logs = path.join(dir, 'logs');
  fs.mkdirSync(path.join(logs, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(logs, 'svc.log'), '2026-11-28T10:00:02Z svc now\n');
  fs.writeFileSync(path.join(logs, 'svc.log.1'), '2026-11-28T10:00:01Z svc before\n');
  fs.writeFileSync(path.join(logs, 'svc.log.2.gz'), zlib.gzipSync('2026-11-28T10:00:00Z svc long ago\n'));
  fs.writeFileSync(path.join(logs, '.logwrite-state.0'), '{"gen":1}\n');
  fs.writeFileSync(path.join(logs, 'sub', 'inner.log'), 'inner\n');
  fs.symlinkSync(path.join(logs, 'svc.log'), path.join(logs, 'link.log'));
  return logs;
}

const LOG_NAMES = ['logs/', 'logs/.logwrite-state.0', 'logs/sub/', 'logs/sub/inner.log', 'logs/svc.log', 'logs/svc.log.1', 'logs/svc.log.2.gz'];

test('bundle of a running memlogd: ring, log files, config, kmsg, summary', async (t) => {
  const dir = tmpdir(t);
  const daemon = await startDaemon(t, dir);
  const svc = await openStream(daemon.logSocket, 'svc');
  const web = await openStream(daemon.logSocket, 'web');
  fs.writeSync(svc, 'svc line 1\nsvc line 2\nsvc line 3\n');
  fs.writeSync(web, 'web line 1\nweb line 2\n');
  fs.closeSync(svc);
  fs.closeSync(web);
  await waitFor('the lines in the ring', async () => (await dump(daemon.querySocket)).filter((e) => e.source === 'svc' || e.source === 'web').length === 5);
  const logs = makeLogDir(dir);
  const config = path.join(dir, 'init.yml');
  fs.writeFileSync(config, 'onboot: []\nservices: []\n');
  const out = path.join(dir, 'out.tar.gz');
  const tmpBefore = bundleTmpDirs();

  const r = await run(process.execPath, [BIN('memlog'), 'bundle', '-o', out, '-socket', daemon.querySocket, '-log-dir', logs, '-config', config]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^bundle: wrote .*out\.tar\.gz \(\d+ entries, 5 files, [\d.]+ MB\)\n$/);
  assert.match(r.stderr, /1 entries under .* are not regular files/);
  assert.ok(!fs.existsSync(out + '.tmp'), 'no temporary output left');
  assert.deepEqual(bundleTmpDirs(), tmpBefore, 'temporary files removed');

  const members = await readArchive(out);
  const kmsg = kmsgReadable();
  const expected = ['', 'README.txt', 'config.yml', 'ring.jsonl', 'ring.txt', 'summary.json', ...LOG_NAMES, ...(kmsg ? ['kmsg.txt'] : [])];
  assert.deepEqual(names(members), expected.sort());

  // The ring, both ways.
  const text = member(members, 'ring.txt').data.toString();
  for (const msg of ['svc line 1', 'svc line 2', 'svc line 3']) assert.match(text, new RegExp(`^[^;]+;svc;${msg}$`, 'm'));
  for (const msg of ['web line 1', 'web line 2']) assert.match(text, new RegExp(`^[^;]+;web;${msg}$`, 'm'));
  const jsonl = member(members, 'ring.jsonl').data.toString().trimEnd().split('\n').map((l) => JSON.parse(l) as { source: string; msg: string; seq?: number });
  assert.deepEqual(jsonl.filter((e) => e.source === 'svc').map((e) => e.msg), ['svc line 1', 'svc line 2', 'svc line 3']);
  assert.deepEqual(jsonl.filter((e) => e.source === 'web').map((e) => e.msg), ['web line 1', 'web line 2']);
  assert.equal(text.split('\n').length - 1, jsonl.length, 'one text line per entry');
  assert.match(r.stdout, new RegExp(`\\(${jsonl.length} entries`));

  // The files, byte for byte.
  for (const rel of ['svc.log', 'svc.log.1', 'svc.log.2.gz', '.logwrite-state.0', 'sub/inner.log']) {
    assert.deepEqual(member(members, `logs/${rel}`).data, fs.readFileSync(path.join(logs, rel)), rel);
  }
  assert.deepEqual(member(members, 'config.yml').data, fs.readFileSync(config));
  if (kmsg) assert.ok(member(members, 'kmsg.txt').data.length > 0, 'kmsg.txt not empty');

  const summary = JSON.parse(member(members, 'summary.json').data.toString()) as {
    memlogd: { reachable: boolean; daemon?: string; first?: number; next?: number; dropped?: number; startedAt?: string };
    sources: Record<string, { lines: number; bytes: number }>;
    lossMarkers: number;
    files: { count: number; bytes: number };
    kmsg: { included: boolean; records?: number };
    host: { hostname: string; kernel: string; node: string; memlog: string };
    config?: string;
  };
  assert.equal(summary.memlogd.reachable, true);
  assert.equal(typeof summary.memlogd.daemon, 'string');
  assert.equal(summary.memlogd.first, 0);
  assert.equal(summary.memlogd.dropped, 0);
  assert.ok((summary.memlogd.next ?? 0) >= jsonl.length);
  assert.equal(typeof summary.memlogd.startedAt, 'string');
  assert.deepEqual(summary.sources.svc, { lines: 3, bytes: 30 });
  assert.deepEqual(summary.sources.web, { lines: 2, bytes: 20 });
  assert.equal(summary.lossMarkers, 0);
  const fileBytes = ['svc.log', 'svc.log.1', 'svc.log.2.gz', '.logwrite-state.0', 'sub/inner.log'].reduce((n, rel) => n + fs.statSync(path.join(logs, rel)).size, 0);
  assert.deepEqual(summary.files, { count: 5, bytes: fileBytes });
  assert.equal(summary.kmsg.included, kmsg);
  if (kmsg) assert.ok((summary.kmsg.records ?? 0) > 0);
  assert.equal(summary.host.hostname, os.hostname());
  assert.equal(summary.host.kernel, os.release());
  assert.equal(summary.host.node, process.version);
  assert.match(summary.host.memlog, /^\d+\.\d+\.\d+/);
  assert.equal(summary.config, config);
  assert.match(member(members, 'README.txt').data.toString(), /ring\.jsonl/);
});

test('bundle with memlogd down: files and summary, and a note', async (t) => {
  const dir = tmpdir(t);
  const daemon = await startDaemon(t, dir);
  await daemon.stop();
  const logs = makeLogDir(dir);
  const out = path.join(dir, 'down.tar.gz');
  const r = await run(process.execPath, [BIN('memlog'), 'bundle', '-o', out, '-socket', daemon.querySocket, '-log-dir', logs, '-kmsg', path.join(dir, 'no-kmsg')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^bundle: wrote .*down\.tar\.gz \(0 entries, 5 files, [\d.]+ MB\)\n$/);
  assert.ok(r.stderr.includes(`bundle: memlogd not reachable at ${daemon.querySocket} (`), r.stderr);
  assert.match(r.stderr, /files only/);
  assert.match(r.stderr, /kmsg not included: cannot read .*no-kmsg/);
  const members = await readArchive(out);
  assert.deepEqual(names(members), ['', 'README.txt', 'summary.json', ...LOG_NAMES].sort());
  assert.deepEqual(member(members, 'logs/svc.log.2.gz').data, fs.readFileSync(path.join(logs, 'svc.log.2.gz')));
  const summary = JSON.parse(member(members, 'summary.json').data.toString()) as {
    memlogd: { reachable: boolean; error?: string };
    sources: Record<string, unknown>;
    files: { count: number };
    kmsg: { included: boolean; note?: string };
  };
  assert.equal(summary.memlogd.reachable, false);
  assert.match(summary.memlogd.error ?? '', /cannot connect to/);
  assert.deepEqual(summary.sources, {});
  assert.equal(summary.files.count, 5);
  assert.equal(summary.kmsg.included, false);
  assert.match(summary.kmsg.note ?? '', /no-kmsg/);
});

test('bundle of an upstream memlogd: the ring from one dump, a note, and nothing asked that it does not need', async (t) => {
  const dir = tmpdir(t);
  const sock = path.join(dir, 'upstream.sock');
  const requests: number[] = [];
  const server = fakeUpstream(sock, [{ time: '2019-02-22T16:04:23.123456789Z', source: 'docker', msg: 'hello from upstream' }], requests);
  t.after(() => server.close());
  const out = path.join(dir, 'up.tar.gz');
  const r = await run(process.execPath, [BIN('memlog'), 'bundle', '-o', out, '-socket', sock, '-log-dir', path.join(dir, 'none'), '-kmsg', path.join(dir, 'none')]);
  assert.equal(r.code, 0, r.stderr);
  // Its status (which an upstream daemon leaves unanswered), then one dump: no follow, no resume, nothing twice.
  assert.deepEqual(requests, [4, 0]);
  assert.match(r.stderr, /sent no status within \d+ ms \(an upstream memlogd has no status\): no daemon id or sequence numbers/);
  const members = await readArchive(out);
  assert.equal(member(members, 'ring.txt').data.toString(), '2019-02-22T16:04:23.123456789Z;docker;hello from upstream\n');
  const summary = JSON.parse(member(members, 'summary.json').data.toString()) as { memlogd: { reachable: boolean; daemon?: string } };
  assert.deepEqual(summary.memlogd, { reachable: true });
});

test('bundle: -o is required (usage error); a missing output directory is a one-line error', async (t) => {
  const dir = tmpdir(t);
  const r = await run(process.execPath, [BIN('memlog'), 'bundle', '-socket', path.join(dir, 'q.sock')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /-o FILE is required/);
  const missing = path.join(dir, 'nope', 'x.tar.gz');
  const r2 = await run(process.execPath, [BIN('memlog'), 'bundle', '-o', missing, '-socket', path.join(dir, 'q.sock'), '-log-dir', dir]);
  assert.equal(r2.code, 1);
  assert.equal(r2.stderr, `bundle: cannot write ${missing}: directory ${path.join(dir, 'nope')} does not exist\n`);
  assert.ok(!fs.existsSync(path.join(dir, 'nope')));
});

test('bundle: a log file growing while it is bundled still gives a valid archive', async (t) => {
  const dir = tmpdir(t);
  const logs = path.join(dir, 'logs');
  fs.mkdirSync(logs);
  const big = path.join(logs, 'busy.log');
  const line = (i: number): string => `2026-11-28T10:00:00Z busy line ${i} ${'x'.repeat(60)}\n`;
  const lines: string[] = [];
  for (let i = 0; i < 200_000; i++) lines.push(line(i));
  fs.writeFileSync(big, lines.join(''));
  const before = fs.statSync(big).size;
  let n = 0;
  const timer = setInterval(() => {
    for (let i = 0; i < 50; i++) fs.appendFileSync(big, line(1_000_000 + n++));
  }, 1);
  let r;
  try {
    r = await run(process.execPath, [BIN('memlog'), 'bundle', '-o', path.join(dir, 'busy.tar.gz'), '-socket', path.join(dir, 'q.sock'), '-log-dir', logs, '-kmsg', path.join(dir, 'none')]);
  } finally {
    clearInterval(timer);
  }
  assert.equal(r.code, 0, r.stderr);
  const after = fs.readFileSync(big);
  assert.ok(after.length > before, 'the file grew meanwhile');
  const members = await readArchive(path.join(dir, 'busy.tar.gz'));
  const got = member(members, 'logs/busy.log').data;
  assert.ok(got.length >= before, `at least what was there at the start (${got.length} >= ${before})`);
  assert.ok(got.equals(after.subarray(0, got.length)), 'a prefix of the file');
  const summary = JSON.parse(member(members, 'summary.json').data.toString()) as { files: { count: number; bytes: number } };
  assert.deepEqual(summary.files, { count: 1, bytes: got.length });
});
