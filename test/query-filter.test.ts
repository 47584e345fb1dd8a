/** Query mode 5: memlogd filters (sources, time, grep, last n, priority) and sends only what matches. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { queryStatus } from '../src/clients/query-client.js';
import { LineReader } from '../src/clients/query-client.js';
import { encodeFilterRequest, type FilterRequest } from '../src/protocol/filter-request.js';
import type { Filter } from '../src/filter/entry-filter.js';
import { parseRfc3339 } from '../src/entry/rfc3339.js';
import { dump, fdCount, fdsBackTo, follow, messagesOf, openStream, startDaemon, tmpdir, waitFor } from './helpers.js';

interface Line {
  time?: string;
  source?: string;
  msg?: string;
  seq?: number;
  skipped?: number;
  lost?: { count: number };
  memlogd?: { protocol: number; daemon: string; first: number; next: number; start: number; filter?: boolean };
}

interface Client {
  /** Every line got, the hello first. */
  lines: Line[];
  ended: Promise<void>;
  isEnded(): boolean;
  close(): void;
}

/** A minimal mode 5 client: sends the request, parses each line it gets. */
function request(path: string, req: Omit<FilterRequest, 'filter'> & { filter?: Partial<Filter> }, raw?: Buffer): Promise<Client> {
  const bytes = raw ?? encodeFilterRequest({ ...req, filter: { sources: [], exclude: [], ...req.filter } });
  return new Promise((resolve, reject) => {
    const socket = net.connect(path);
    const lines: Line[] = [];
    const reader = new LineReader();
    let ended = false;
    socket.on('data', (d: Buffer) => reader.push(d, (l) => lines.push(JSON.parse(l.toString()) as Line)));
    const endedP = new Promise<void>((r) => socket.once('close', () => ((ended = true), r())));
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.write(bytes);
      resolve({ lines, ended: endedP, isEnded: () => ended, close: () => socket.destroy() });
    });
  });
}

/** Mode 0 with a filter: the hello and the entries, once the daemon has closed. */
async function filteredDump(path: string, filter: Partial<Filter>, extra: { last?: number; daemon?: string; after?: number } = {}): Promise<{ hello: Line['memlogd']; entries: Line[] }> {
  const c = await request(path, { mode: 0, ...extra, filter });
  await c.ended;
  return { hello: c.lines[0].memlogd, entries: c.lines.slice(1) };
}

async function write(logSocket: string, name: string, lines: string[]): Promise<number> {
  const fd = await openStream(logSocket, name);
  fs.writeSync(fd, lines.map((l) => l + '\n').join(''));
  return fd;
}

const msgs = (entries: Line[]): string[] => entries.map((e) => e.msg as string);
const pairs = (entries: Line[]): string[] => entries.map((e) => `${e.source}:${e.msg}`);

test('mode 5 answers a hello with "filter":true, then only the entries of the sources asked for (globs, ?, ! excluded)', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t));
  for (const name of ['web-1', 'web-2', 'web-10', 'db']) fs.closeSync(await write(daemon.logSocket, name, [`from ${name}`]));
  await waitFor('the lines', async () => messagesOf(await dump(daemon.querySocket), 'db').length === 1);
  const { hello, entries } = await filteredDump(daemon.querySocket, { sources: ['web-?'] });
  assert.ok(hello);
  assert.equal(hello.protocol, 2);
  assert.equal(hello.filter, true);
  assert.equal(hello.start, hello.first);
  assert.deepEqual(pairs(entries), ['web-1:from web-1', 'web-2:from web-2']);
  assert.deepEqual(pairs((await filteredDump(daemon.querySocket, { sources: ['web*'], exclude: ['web-2'] })).entries), ['web-1:from web-1', 'web-10:from web-10']);
  const allButOwn = (await filteredDump(daemon.querySocket, { exclude: ['memlogd'] })).entries;
  assert.deepEqual(pairs(allButOwn), ['web-1:from web-1', 'web-2:from web-2', 'web-10:from web-10', 'db:from db']);
  // The same wire form as an unfiltered dump.
  const plain = (await dump(daemon.querySocket)).find((e) => e.source === 'db');
  assert.deepEqual(allButOwn[3], plain);
});

test('since/until send exactly the entries received in the window', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t));
  const fd = await openStream(daemon.logSocket, 'svc');
  for (let batch = 0; batch < 3; batch++) {
    fs.writeSync(fd, Array.from({ length: 5 }, (_, i) => `batch ${batch} line ${i}\n`).join(''));
    await waitFor(`batch ${batch}`, async () => messagesOf(await dump(daemon.querySocket), 'svc').length === 5 * (batch + 1));
  }
  const all = await dump(daemon.querySocket);
  const times = all.map((e) => parseRfc3339(e.time) as { sec: number; nsec: number });
  const ns = (t: { sec: number; nsec: number }): bigint => BigInt(t.sec) * 1_000_000_000n + BigInt(t.nsec);
  const batch1 = all.findIndex((e) => e.msg === 'batch 1 line 0');
  const since = times[batch1];
  const until = times[all.findIndex((e) => e.msg === 'batch 1 line 4')];
  const expected = all.filter((_, i) => ns(times[i]) >= ns(since) && ns(times[i]) <= ns(until)).map((e) => e.msg);
  const { entries } = await filteredDump(daemon.querySocket, { since, until });
  assert.deepEqual(msgs(entries), expected);
  assert.ok(expected.includes('batch 1 line 2') && !expected.includes('batch 0 line 4') && !expected.includes('batch 2 line 0'));
  // Open-ended on either side.
  assert.deepEqual(msgs((await filteredDump(daemon.querySocket, { since, sources: ['svc'] })).entries), all.slice(batch1).filter((e) => e.source === 'svc').map((e) => e.msg));
  assert.ok(!msgs((await filteredDump(daemon.querySocket, { until })).entries).includes('batch 2 line 0'));
});

test('grep: a literal, a regular expression, ignoring case (ASCII and not)', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t));
  const lines = ['Error: disk full', 'error: net down', 'all ok', 'ERROR again', 'über alles', 'errors: 3 links down', 'Fehler: ÜBER'];
  fs.closeSync(await write(daemon.logSocket, 'svc', lines));
  await waitFor('the lines', async () => messagesOf(await dump(daemon.querySocket), 'svc').length === lines.length);
  const grep = async (pattern: string, ignoreCase = false): Promise<string[]> => msgs((await filteredDump(daemon.querySocket, { grep: pattern, ignoreCase })).entries);
  assert.deepEqual(await grep('Error'), ['Error: disk full']);
  assert.deepEqual(await grep('error'), ['error: net down', 'errors: 3 links down']);
  assert.deepEqual(await grep('^err\\w*: .* down$'), ['error: net down', 'errors: 3 links down']);
  assert.deepEqual(await grep('error', true), ['Error: disk full', 'error: net down', 'ERROR again', 'errors: 3 links down']);
  assert.deepEqual(await grep('ÜBER', true), ['über alles', 'Fehler: ÜBER']);
  assert.deepEqual(await grep('nowhere'), []);
});

test('last n keeps the last n matching entries of the dump, with and without a source filter', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t), ['-max-lines', '100000']);
  const fd = await openStream(daemon.logSocket, 'busy');
  const quiet = await openStream(daemon.logSocket, 'quiet');
  // Enough entries that the search goes back over several chunks.
  for (let round = 0; round < 5; round++) {
    fs.writeSync(fd, Array.from({ length: 2000 }, (_, i) => `busy ${round * 2000 + i}\n`).join(''));
    fs.writeSync(quiet, `quiet ${round}\n`);
  }
  await waitFor('the lines', async () => messagesOf(await dump(daemon.querySocket), 'quiet').length === 5);
  const all = (await dump(daemon.querySocket)).map((e) => e.msg);
  assert.deepEqual(msgs((await filteredDump(daemon.querySocket, {}, { last: 3 })).entries), all.slice(-3));
  assert.deepEqual(msgs((await filteredDump(daemon.querySocket, { sources: ['quiet'] }, { last: 2 })).entries), ['quiet 3', 'quiet 4']);
  assert.deepEqual(msgs((await filteredDump(daemon.querySocket, { sources: ['quiet'] }, { last: 50 })).entries), ['quiet 0', 'quiet 1', 'quiet 2', 'quiet 3', 'quiet 4']);
  assert.deepEqual(msgs((await filteredDump(daemon.querySocket, { grep: 'busy 1' }, { last: 2 })).entries), ['busy 1998', 'busy 1999']);
  assert.deepEqual(msgs((await filteredDump(daemon.querySocket, { sources: ['quiet'] }, { last: 0 })).entries), []);
  // A follower with last n: the last n held, then what comes.
  const f = await request(daemon.querySocket, { mode: 1, last: 1, filter: { sources: ['quiet'] } });
  await waitFor('the last one held', () => f.lines.length === 2);
  fs.writeSync(fd, 'busy more\n');
  fs.writeSync(quiet, 'quiet 5\n');
  await waitFor('the new one', () => f.lines.length === 3);
  assert.deepEqual(msgs(f.lines.slice(1)), ['quiet 4', 'quiet 5']);
  f.close();
});

test('a filtered follower gets only the rare matches, in order, none missed, and nothing else', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t), ['-max-lines', '100000']);
  const f = await request(daemon.querySocket, { mode: 1, filter: { grep: 'RARE' } });
  await waitFor('the hello', () => f.lines.length === 1);
  const plain = await follow(daemon.querySocket);
  const fd = await openStream(daemon.logSocket, 'noisy');
  const expected: string[] = [];
  for (let round = 0; round < 20; round++) {
    const lines = Array.from({ length: 1000 }, (_, i) => (i === round * 37 ? `RARE ${round}` : `noise ${round} ${i}`));
    expected.push(`RARE ${round}`);
    fs.writeSync(fd, lines.map((l) => l + '\n').join(''));
  }
  fs.writeSync(fd, 'RARE end\n');
  expected.push('RARE end');
  await waitFor('the last rare line', () => f.lines.some((l) => l.msg === 'RARE end'));
  await waitFor('the plain follower to have everything', () => plain.entries.some((e) => e.msg === 'RARE end'));
  assert.deepEqual(msgs(f.lines.slice(1)), expected);
  assert.ok(f.lines.slice(1).every((l) => l.source === 'noisy' && typeof l.seq === 'number'));
  assert.equal(plain.entries.filter((e) => e.source === 'noisy').length, 20_001);
  f.close();
  plain.close();
});

test('dump then follow (mode 2) filtered: every matching entry once, in order', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t));
  const a = await openStream(daemon.logSocket, 'a');
  const b = await openStream(daemon.logSocket, 'b');
  for (let i = 0; i < 500; i++) fs.writeSync(i % 2 ? a : b, `${i % 2 ? 'a' : 'b'} ${i}\n`);
  await waitFor('the first lines', async () => messagesOf(await dump(daemon.querySocket), 'a').length === 250);
  const f = await request(daemon.querySocket, { mode: 2, filter: { sources: ['a'] } });
  for (let i = 500; i < 3000; i++) fs.writeSync(i % 2 ? a : b, `${i % 2 ? 'a' : 'b'} ${i}\n`);
  await waitFor('all of a', () => f.lines.length === 1 + 1500);
  const entries = f.lines.slice(1);
  assert.deepEqual(msgs(entries), Array.from({ length: 1500 }, (_, i) => `a ${2 * i + 1}`));
  for (let i = 1; i < entries.length; i++) assert.ok((entries[i].seq as number) > (entries[i - 1].seq as number));
  f.close();
});

test('daemon/after resume a filtered reader as mode 3 does', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t));
  const fd = await write(daemon.logSocket, 'svc', ['one', 'two', 'three', 'four']);
  await waitFor('the lines', async () => messagesOf(await dump(daemon.querySocket), 'svc').length === 4);
  const first = await filteredDump(daemon.querySocket, { sources: ['svc'] });
  assert.ok(first.hello);
  const two = first.entries[1];
  const again = await filteredDump(daemon.querySocket, { sources: ['svc'] }, { daemon: first.hello.daemon, after: two.seq });
  assert.equal(again.hello?.start, (two.seq as number) + 1);
  assert.deepEqual(msgs(again.entries), ['three', 'four']);
  // Another daemon's id: everything this one has, from seq 0.
  const other = await filteredDump(daemon.querySocket, { sources: ['svc'] }, { daemon: 'someone-else', after: 3 });
  assert.equal(other.hello?.start, 0);
  assert.deepEqual(msgs(other.entries), ['one', 'two', 'three', 'four']);
  // A follower resuming gets what it missed, then what comes.
  const f = await request(daemon.querySocket, { mode: 2, daemon: first.hello.daemon, after: first.entries[2].seq, filter: { grep: 'f' } });
  fs.writeSync(fd, 'five\nsix\n');
  await waitFor('four and five', () => f.lines.length === 3);
  assert.deepEqual(msgs(f.lines.slice(1)), ['four', 'five']);
  f.close();
});

test('priority: entries without a severity count as info', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t));
  fs.closeSync(await write(daemon.logSocket, 'svc', ['x', 'y']));
  await waitFor('the lines', async () => messagesOf(await dump(daemon.querySocket), 'svc').length === 2);
  assert.deepEqual(msgs((await filteredDump(daemon.querySocket, { sources: ['svc'], priority: 6 })).entries), ['x', 'y']);
  assert.deepEqual(msgs((await filteredDump(daemon.querySocket, { sources: ['svc'], priority: 7 })).entries), ['x', 'y']);
  assert.deepEqual((await filteredDump(daemon.querySocket, { priority: 5 })).entries, []);
});

test('a malformed filter request gets one error entry and is closed; the others are served and no fd stays', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t));
  fs.closeSync(await write(daemon.logSocket, 'svc', ['fine']));
  await waitFor('the line', async () => messagesOf(await dump(daemon.querySocket), 'svc').length === 1);
  const follower = await request(daemon.querySocket, { mode: 1, filter: { sources: ['svc'] } });
  await waitFor('the follower hello', () => follower.lines.length === 1);
  const baseline = fdCount(daemon.pid);
  const bad: [string, RegExp][] = [
    ['not json', /filter request is not JSON/],
    ['{"mode":7}', /"mode" must be 0/],
    ['{"mode":0,"sources":["a\\u0000b"]}', /"sources": a glob cannot contain a NUL/],
    ['{"mode":0,"exclude":"x"}', /"exclude" must be a list/],
    ['{"mode":0,"grep":"(unclosed"}', /"grep": not a valid regular expression/],
    ['{"mode":0,"since":"yesterday"}', /"since" must be an RFC 3339 time/],
    ['{"mode":0,"last":-1}', /"last" must be a whole number/],
    ['{"mode":1,"priority":9}', /"priority" must be a whole number from 0 to 7/],
    [`{"mode":0,"grep":"${'x'.repeat(70_000)}"}`, /filter request longer than 65536 bytes/],
  ];
  for (const [body, expected] of bad) {
    const c = await request(daemon.querySocket, { mode: 0 }, Buffer.concat([Buffer.from([5]), Buffer.from(body + '\n')]));
    await c.ended;
    assert.equal(c.lines.length, 1, body.slice(0, 80));
    assert.equal(c.lines[0].source, 'memlogd');
    assert.match(c.lines[0].msg as string, /^error: /);
    assert.match(c.lines[0].msg as string, expected);
  }
  // A request that never ends its line is refused once it is too long.
  const endless = await request(daemon.querySocket, { mode: 0 }, Buffer.concat([Buffer.from([5]), Buffer.alloc(70_000, 0x20)]));
  await endless.ended;
  assert.match(endless.lines[0].msg as string, /^error: filter request longer than/);
  await fdsBackTo(daemon.pid, baseline);
  assert.deepEqual(msgs((await filteredDump(daemon.querySocket, { sources: ['svc'] })).entries), ['fine']);
  const fd = await write(daemon.logSocket, 'svc', ['still followed']);
  await waitFor('the follower served', () => follower.lines.some((l) => l.msg === 'still followed'));
  fs.closeSync(fd);
  follower.close();
});

test('a catastrophic pattern does not stop ingestion or other clients; it says how many entries it skipped', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t));
  const evilLines = 300;
  fs.closeSync(await write(daemon.logSocket, 'evil', Array.from({ length: evilLines }, () => 'a'.repeat(40) + '!')));
  await waitFor('the evil lines', async () => messagesOf(await dump(daemon.querySocket), 'evil').length === evilLines);
  const plain = await follow(daemon.querySocket);
  // Dump then follow: the scan of the evil lines takes seconds, and this reader never ends, so
  // what follows happens while it is under way whatever the machine's speed.
  const evil = await request(daemon.querySocket, { mode: 2, filter: { grep: '(a+)+$' } });
  await waitFor('the evil reader under way', () => evil.lines.length >= 1);
  // Meanwhile: a writer's new lines reach a follower, and a normal dump completes with them.
  const fd = await write(daemon.logSocket, 'writer', ['written during the evil scan']);
  await waitFor('the follower to get the new line', () => plain.entries.some((e) => e.msg === 'written during the evil scan'));
  assert.deepEqual(messagesOf(await dump(daemon.querySocket), 'writer'), ['written during the evil scan']);
  const filtered = await filteredDump(daemon.querySocket, { sources: ['writer'] });
  assert.deepEqual(msgs(filtered.entries), ['written during the evil scan']);
  // Each evil entry is interrupted on three turns in a row, then skipped and reported.
  const skipped = (): number => evil.lines.reduce((n, l) => n + (typeof l.skipped === 'number' ? l.skipped : 0), 0);
  await waitFor(`all ${evilLines} evil entries reported skipped`, () => skipped() === evilLines, 120_000);
  const reports = evil.lines.slice(1);
  for (const r of reports) {
    assert.equal(r.source, 'memlogd');
    assert.match(r.msg as string, /^skipped \d+ (entry|entries): matching the pattern took over 5 ms on each of 3 tries$/);
  }
  evil.close();
  fs.closeSync(fd);
  plain.close();
});

test('memlog status lists per source the entries and bytes the ring holds', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t), ['-max-lines', '50']);
  const svc = ['a', 'bb', 'ccc', 'dddd', 'eeeee', 'ffffff', 'g', 'hh', 'iii', 'jjjj'];
  fs.closeSync(await write(daemon.logSocket, 'svc', svc));
  fs.closeSync(await write(daemon.logSocket, 'other', ['12345']));
  await waitFor('the lines', async () => messagesOf(await dump(daemon.querySocket), 'other').length === 1);
  type Held = { source: string; pid?: number; uid?: number; gid?: number; entries: number; bytes: number };
  const held = async (): Promise<Held[]> => (await queryStatus(daemon.querySocket)).ringSources as Held[];
  let list = await held();
  assert.deepEqual(list.map((s) => s.source), ['memlogd', 'other', 'svc']);
  const s = list.find((x) => x.source === 'svc') as Held;
  assert.deepEqual({ entries: s.entries, bytes: s.bytes }, { entries: 10, bytes: svc.join('').length });
  assert.equal(s.pid, process.pid);
  assert.equal(s.uid, process.getuid?.());
  assert.deepEqual(list.find((x) => x.source === 'other'), { source: 'other', pid: process.pid, uid: process.getuid?.(), gid: process.getgid?.(), entries: 1, bytes: 5 });
  // A flood pushes svc out: its counts go with its entries.
  fs.closeSync(await write(daemon.logSocket, 'flood', Array.from({ length: 60 }, (_, i) => `flood ${i}`)));
  await waitFor('the flood', async () => messagesOf(await dump(daemon.querySocket), 'flood').includes('flood 59'));
  list = await held();
  assert.equal(list.find((x) => x.source === 'svc'), undefined);
  const entries = await dump(daemon.querySocket);
  const flood = list.find((x) => x.source === 'flood') as Held;
  assert.equal(flood.entries, messagesOf(entries, 'flood').length);
  assert.equal(flood.bytes, messagesOf(entries, 'flood').join('').length);
  assert.equal(list.reduce((n, x) => n + x.entries, 0), 50);
});

test('grep over an arena that has wrapped finds what filtering a dump finds', async (t) => {
  // A few KiB of arena: the messages wrap around it many times, and a dump's part of it is in two pieces.
  const daemon = await startDaemon(t, tmpdir(t), ['-max-bytes', '3000', '-max-lines', '1000']);
  const fd = await openStream(daemon.logSocket, 'svc');
  for (let round = 0; round < 10; round++) {
    fs.writeSync(fd, Array.from({ length: 97 }, (_, i) => `${i % 7 === 0 ? 'needle' : 'hay'} ${round} ${i}${i % 11 === 0 ? ' NEEDLE' : ''}\n`).join(''));
  }
  await waitFor('the last line', async () => messagesOf(await dump(daemon.querySocket), 'svc').includes('hay 9 96'));
  const held = messagesOf(await dump(daemon.querySocket), 'svc');
  assert.deepEqual(msgs((await filteredDump(daemon.querySocket, { grep: 'needle' })).entries), held.filter((m) => m.includes('needle')));
  assert.deepEqual(msgs((await filteredDump(daemon.querySocket, { grep: 'needle', ignoreCase: true })).entries), held.filter((m) => /needle/i.test(m)));
  assert.deepEqual(msgs((await filteredDump(daemon.querySocket, { grep: 'e{2}dle \\d' })).entries), held.filter((m) => /e{2}dle \d/.test(m)));
});
