/**
 * logread's filters and output formats, as a user runs them: against a daemon that filters (a stand-in answering
 * mode 5, to see the request logread sends), against an upstream one (logread filters on its side, with the
 * same output), and against the real memlogd.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { InvalidValueError } from '../src/cli/flags.js';
import { logreadOptions } from '../src/cli/logread-flags.js';
import { BIN, fakeUpstream, messagesOf, openStream, dump, run, startDaemon, tmpdir, waitFor, type RunResult } from './helpers.js';

/** What the ring holds in these tests, as upstream sends it. */
const RING = [
  { time: '2026-12-02T09:00:00.5Z', source: 'memlogd', msg: 'memlogd started' },
  { time: '2026-12-02T09:10:00Z', source: 'sshd', msg: 'Accepted publickey for root' },
  { time: '2026-12-02T09:20:00.123456789Z', source: 'docker;x', msg: 'ERROR: container died' },
  { time: '2026-12-02T09:30:00Z', source: 'sshd.err', msg: 'error: Connection reset' },
  { time: '2026-12-02T09:40:00Z', source: 'kernel', msg: 'eth0: link up' },
];
const SHORT = RING.map((e) => `${e.time};${e.source.replaceAll(';', '\\;')};${e.msg}\n`);
const KOLKATA = { ...process.env, TZ: 'Asia/Kolkata' };

function logread(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<RunResult> {
  return run(process.execPath, [BIN('logread'), ...args], { env });
}

interface FilteringDaemon {
  socket: string;
  /** Every connection's first bytes: the mode byte, and the request line for mode 5. */
  requests: { mode: number; body?: Record<string, unknown> }[];
  /** Follow connections, to send new entries to. */
  followers: net.Socket[];
}

/**
 * A stand-in for a memlogd that filters (mode 5): it answers a hello, then the lines answer() gives (the test
 * plays the daemon's filtering), and closes for a dump. Plain modes get every line of plainRing.
 */
function filteringDaemon(
  t: { after(fn: () => void): void },
  dir: string,
  answer: (body: Record<string, unknown>) => { lines: object[]; hello?: object },
  plainRing: object[] = RING,
): FilteringDaemon {
  const d: FilteringDaemon = { socket: path.join(dir, 'filtering.sock'), requests: [], followers: [] };
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    let got = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      got = Buffer.concat([got, chunk]);
      const mode = got[0];
      if (mode !== 5) {
        socket.off('data', onData);
        d.requests.push({ mode });
        socket.write(plainRing.map((e) => JSON.stringify(e) + '\n').join(''));
        if (mode === 0) socket.end();
        return;
      }
      const nl = got.indexOf(10);
      if (nl < 0) return;
      socket.off('data', onData);
      const body = JSON.parse(got.subarray(1, nl).toString()) as Record<string, unknown>;
      d.requests.push({ mode, body });
      const { lines, hello } = answer(body);
      const first = hello ?? { memlogd: { protocol: 2, daemon: 'd-1', first: 0, next: 40, start: 0, filter: true } };
      socket.write([first, ...lines].map((l) => JSON.stringify(l) + '\n').join(''));
      if (body.mode === 0) socket.end();
      else d.followers.push(socket);
    };
    socket.on('data', onData);
  });
  server.listen(d.socket);
  t.after(() => {
    for (const f of d.followers) f.destroy();
    server.close();
  });
  return d;
}

function upstream(t: { after(fn: () => void): void }, dir: string, name: string, ring: object[] = RING): { socket: string; requests: number[]; followers: net.Socket[] } {
  const u = { socket: path.join(dir, `${name}.sock`), requests: [] as number[], followers: [] as net.Socket[] };
  const server = fakeUpstream(u.socket, ring as typeof RING, u.requests, u.followers);
  t.after(() => {
    for (const f of u.followers) f.destroy();
    server.close();
  });
  return u;
}

test('bad values: one line naming the flag and the value, exit status 2, no connection to the daemon', async (t) => {
  const dir = tmpdir(t);
  const d = filteringDaemon(t, dir, () => ({ lines: [] }));
  const cases: [string[], string, RegExp][] = [
    [['-since', 'soonish'], 'since', /cannot read "soonish" as a time/],
    [['-until', '2026-02-31'], 'until', /no such time/],
    [['--since=-5x'], 'since', /cannot read/],
    [['-grep', 'a(b'], 'grep', /not a valid regular expression/],
    [['-p', 'loud'], 'p', /unknown level: give emerg, alert, crit, err, warning, notice, info, debug, or 0-7/],
    [['-o', 'xml'], 'o', /unknown format: give short, short-iso, json, cat/],
    [['-n', '-1'], 'n', /not a whole number/],
    [['-after-seq', 'x'], 'after-seq', /not a whole number/],
    [['-since', '2026-12-02', '-until', '2026-12-01'], 'until', /earlier than -since "2026-12-02"/],
    [['-log-dir', path.join(dir, 'missing')], 'log-dir', /no such directory/],
    [['-daemon', 'd-1'], 'daemon', /no -after-seq was given/],
  ];
  const results = await Promise.all(cases.map(([args]) => logread(['-socket', d.socket, ...args])));
  cases.forEach(([args, flag, why], i) => {
    const r = results[i];
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '');
    const value = args.at(-1)?.replace(/^--since=/, '') as string;
    const line = `logread: invalid value ${JSON.stringify(value)} for flag -${flag}: `;
    assert.ok(r.stderr.startsWith(line), `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, why);
    assert.equal(r.stderr.split('\n').length, 2, `one line: ${r.stderr}`);
  });
  assert.deepEqual(d.requests, [], 'nothing was sent to the daemon');
  // A NUL cannot be in a command line's argument, but -source's check says so for one that reaches it.
  assert.throws(
    () => logreadOptions({ source: ['ok*', '!a\0b'] }),
    (err: unknown) => err instanceof InvalidValueError && err.message === 'invalid value "!a\\u0000b" for flag -source: a glob cannot contain a NUL character',
  );
});

test('with no new flag logread sends the plain mode byte, whatever the format', async (t) => {
  const d = filteringDaemon(t, tmpdir(t), () => assert.fail('no filter request expected'));
  const plain = await logread(['-socket', d.socket]);
  assert.equal(plain.stdout, SHORT.join(''));
  const cat = await logread(['-socket', d.socket, '-o', 'cat']);
  assert.equal(cat.stdout, RING.map((e) => e.msg + '\n').join(''));
  const iso = await logread(['-socket', d.socket, '--o=short-iso'], KOLKATA);
  assert.equal(
    iso.stdout,
    [
      '2026-12-02T14:30:00+0530 memlogd: memlogd started',
      '2026-12-02T14:40:00+0530 sshd: Accepted publickey for root',
      '2026-12-02T14:50:00+0530 docker;x: ERROR: container died',
      '2026-12-02T15:00:00+0530 sshd.err: error: Connection reset',
      '2026-12-02T15:10:00+0530 kernel: eth0: link up',
    ].join('\n') + '\n',
  );
  assert.deepEqual(d.requests, [{ mode: 0 }, { mode: 0 }, { mode: 0 }]);
  for (const r of [plain, cat, iso]) assert.equal(r.stderr, '');
});

test('filters go to the daemon as one mode 5 request, times as RFC 3339 in UTC', async (t) => {
  const d = filteringDaemon(t, tmpdir(t), () => ({ lines: [RING[3]] }));
  const r = await logread(
    [
      '-socket', d.socket, '-n', '3', '-source', 'sshd*', '--source', '!*.err', '-source', 'docker?x',
      '-since', '2026-12-02 14:45', '-until', '2026-12-02T09:30:00Z', '-grep', 'error', '-i', '-p', 'warning',
    ],
    KOLKATA,
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, SHORT[3]);
  assert.deepEqual(d.requests, [
    {
      mode: 5,
      body: {
        mode: 0,
        last: 3,
        sources: ['sshd*', 'docker?x'],
        exclude: ['*.err'],
        since: '2026-12-02T09:15:00Z',
        until: '2026-12-02T09:30:00Z',
        grep: 'error',
        ignoreCase: true,
        priority: 4,
      },
    },
  ]);
});

test('relative times and yesterday are turned into instants before they are sent', async (t) => {
  const d = filteringDaemon(t, tmpdir(t), () => ({ lines: [] }));
  const before = Date.now();
  const r = await logread(['-socket', d.socket, '-since', '-15m', '-until', 'now']);
  const after = Date.now();
  assert.equal(r.code, 0, r.stderr);
  const body = d.requests[0].body as Record<string, string>;
  const since = Date.parse(body.since);
  assert.ok(since >= before - 15 * 60_000 - 1 && since <= after - 15 * 60_000, `${body.since} is 15 minutes before the run`);
  const until = Date.parse(body.until);
  assert.ok(until >= before - 1 && until <= after, `${body.until} is the run's now`);
  const y = await logread(['-socket', d.socket, '-since', 'yesterday', '-until', 'today'], KOLKATA);
  assert.equal(y.code, 0, y.stderr);
  const yBody = d.requests[1].body as Record<string, string>;
  // Local midnights in Kolkata are 18:30 UTC.
  assert.match(yBody.since, /^\d{4}-\d\d-\d\dT18:30:00Z$/);
  assert.equal(Date.parse(yBody.until) - Date.parse(yBody.since), 86_400_000);
});

test('-o json: every field the daemon sent, and its id; a skipped-entries report is a warning on stderr', async (t) => {
  const lines = [
    { time: '2026-12-02T09:10:00Z', source: 'sshd', msg: 'Accepted', seq: 7, pid: 42, uid: 0, gid: 0 },
    { time: '2026-12-02T09:11:00Z', source: 'memlogd', msg: '3 entries skipped: the pattern took too long', skipped: 3 },
    { time: '2026-12-02T09:12:00Z', source: 'kmsg', msg: 'oops', seq: 9, severity: 2 },
  ];
  const d = filteringDaemon(t, tmpdir(t), () => ({ lines }));
  const r = await logread(['-socket', d.socket, '-o', 'json', '-grep', '.']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    '{"time":"2026-12-02T09:10:00Z","source":"sshd","msg":"Accepted","seq":7,"pid":42,"uid":0,"gid":0,"daemon":"d-1"}\n' +
      '{"time":"2026-12-02T09:12:00Z","source":"kmsg","msg":"oops","seq":9,"severity":2,"daemon":"d-1"}\n',
  );
  assert.equal(r.stderr, 'logread: memlogd skipped 3 entries the -grep pattern took too long on: 3 entries skipped: the pattern took too long\n');
  // -o json alone asks mode 5 too: the hello has the daemon id.
  const plain = await logread(['-socket', d.socket, '-o', 'json']);
  assert.equal(plain.code, 0, plain.stderr);
  assert.deepEqual(d.requests[1], { mode: 5, body: { mode: 0 } });
});

test('-after-seq resumes after an entry of the running daemon, or of the one -daemon names', async (t) => {
  const d = filteringDaemon(t, tmpdir(t), (body) => ({
    lines: body.daemon === 'd-1' ? [{ time: '2026-12-02T09:12:00Z', source: 'kmsg', msg: 'after 7', seq: 8 }] : [],
  }));
  const r = await logread(['-socket', d.socket, '-after-seq', '7']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '2026-12-02T09:12:00Z;kmsg;after 7\n');
  // Without -daemon the seq is the running daemon's: its id is learnt from a first hello, then named.
  assert.deepEqual(
    d.requests.map((q) => q.body),
    [
      { mode: 0, after: 7 },
      { mode: 0, daemon: 'd-1', after: 7 },
    ],
  );
  const named = await logread(['-socket', d.socket, '-after-seq', '7', '-daemon', 'd-0', '-n', '5']);
  assert.equal(named.code, 0, named.stderr);
  assert.deepEqual(d.requests[2].body, { mode: 0, daemon: 'd-0', after: 7, last: 5 });
});

test('-f asks mode 1, -f -n and -F mode 2; a follower prints what comes', async (t) => {
  const d = filteringDaemon(t, tmpdir(t), (body) => ({ lines: body.mode === 1 ? [] : [RING[4]] }));
  const p = spawn(process.execPath, [BIN('logread'), '-socket', d.socket, '-f', '-n', '1', '-source', 'kernel']);
  t.after(() => p.kill());
  let out = '';
  p.stdout.on('data', (b: Buffer) => (out += b.toString()));
  await waitFor('the dump part', () => out === SHORT[4]);
  await waitFor('the follower', () => d.followers.length === 1);
  d.followers[0].write(JSON.stringify({ time: '2026-12-02T10:00:00Z', source: 'kernel', msg: 'later', seq: 50 }) + '\n');
  await waitFor('the new entry', () => out === SHORT[4] + '2026-12-02T10:00:00Z;kernel;later\n');
  assert.deepEqual(d.requests[0].body, { mode: 2, last: 1, sources: ['kernel'] });
  const f = spawn(process.execPath, [BIN('logread'), '-socket', d.socket, '-f', '-source', 'x']);
  t.after(() => f.kill());
  await waitFor('the second request', () => d.requests.length === 2);
  assert.deepEqual(d.requests[1].body, { mode: 1, sources: ['x'] });
});

test('a refused filter request is a one-line error, exit status 1', async (t) => {
  const d = filteringDaemon(t, tmpdir(t), () => ({ lines: [], hello: { time: '2026-12-02T09:00:00Z', source: 'memlogd', msg: 'error: filter request: "grep": too slow' } }));
  const r = await logread(['-socket', d.socket, '-grep', 'x']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, `logread: ${d.socket} refused the filter request: error: filter request: "grep": too slow\n`);
});

const FALLBACK = (socket: string): string => `logread: ${socket} cannot filter (an upstream memlogd?): logread filters on its side\n`;

test('against an upstream memlogd logread filters on its side, the same output, and says so once', async (t) => {
  const dir = tmpdir(t);
  const now = Date.now();
  const recent = [
    { time: new Date(now - 3_600_000).toISOString(), source: 'app', msg: 'an hour ago' },
    { time: new Date(now - 60_000).toISOString(), source: 'app', msg: 'a minute ago' },
  ];
  const cases: { args: string[]; env?: NodeJS.ProcessEnv; ring?: object[]; out: string }[] = [
    { args: ['-n', '2'], out: SHORT[3] + SHORT[4] },
    { args: ['-n', '0'], out: '' },
    { args: ['-source', 'sshd*', '-source', '!*.err'], out: SHORT[1] },
    { args: ['--source', 'docker?x', '--source=kernel'], out: SHORT[2] + SHORT[4] },
    { args: ['-since', '2026-12-02 14:45', '-until', '2026-12-02T09:30:00Z'], env: KOLKATA, out: SHORT[2] + SHORT[3] },
    { args: ['-since', '-15m'], ring: recent, out: `${recent[1].time};app;a minute ago\n` },
    { args: ['-grep', 'error'], out: SHORT[3] },
    { args: ['-grep', 'error', '-i'], out: SHORT[2] + SHORT[3] },
    { args: ['-grep', '^e[a-z]+0:'], out: SHORT[4] },
    { args: ['-p', 'info'], out: SHORT.join('') },
    { args: ['-p', '4'], out: '' },
    { args: ['-o', 'cat', '-source', 'sshd'], out: 'Accepted publickey for root\n' },
    { args: ['-o', 'short-iso', '-n', '1'], env: KOLKATA, out: '2026-12-02T15:10:00+0530 kernel: eth0: link up\n' },
    { args: ['-o', 'json', '-n', '1'], out: '{"time":"2026-12-02T09:40:00Z","source":"kernel","msg":"eth0: link up"}\n' },
    { args: ['--n=1', '--grep', 'ssh|ERR', '--o', 'cat'], out: 'ERROR: container died\n' },
  ];
  // Each run waits 2 s for an answer to its filter request: run them side by side.
  const runs = cases.map((c, i) => {
    const u = upstream(t, dir, `up${i}`, c.ring);
    return logread(['-socket', u.socket, ...c.args], c.env).then((r) => ({ r, u }));
  });
  const results = await Promise.all(runs);
  cases.forEach((c, i) => {
    const { r, u } = results[i];
    assert.equal(r.code, 0, `${c.args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, c.out, c.args.join(' '));
    assert.equal(r.stderr, FALLBACK(u.socket), c.args.join(' '));
    assert.deepEqual(u.requests, [5, 0], 'the filter request, then a plain dump');
  });
});

test('against an upstream memlogd, -F -n prints the last n of the dump, then what comes', async (t) => {
  const u = upstream(t, tmpdir(t), 'up');
  const p = spawn(process.execPath, [BIN('logread'), '-socket', u.socket, '-F', '-n', '2', '-source', '!kernel']);
  t.after(() => p.kill());
  let out = '';
  let err = '';
  p.stdout.on('data', (b: Buffer) => (out += b.toString()));
  p.stderr.on('data', (b: Buffer) => (err += b.toString()));
  await waitFor('the dump part', () => out === SHORT[2] + SHORT[3]);
  await waitFor('the follower', () => u.followers.length === 1);
  const later = [
    { time: '2026-12-02T10:00:00Z', source: 'kernel', msg: 'filtered out' },
    { time: '2026-12-02T10:00:01Z', source: 'app', msg: 'new' },
  ];
  u.followers[0].write(later.map((e) => JSON.stringify(e) + '\n').join(''));
  await waitFor('the new entry', () => out === SHORT[2] + SHORT[3] + '2026-12-02T10:00:01Z;app;new\n');
  assert.equal(err, FALLBACK(u.socket));
  // The filter request, the follow (mode 2), and a dump (mode 0) to say where the follow's dump part ends.
  assert.deepEqual(u.requests, [5, 2, 0]);
});

test('against an upstream memlogd, -f with a filter follows new entries only', async (t) => {
  const u = upstream(t, tmpdir(t), 'up');
  const p = spawn(process.execPath, [BIN('logread'), '-socket', u.socket, '-f', '-grep', 'new']);
  t.after(() => p.kill());
  let out = '';
  p.stdout.on('data', (b: Buffer) => (out += b.toString()));
  await waitFor('the follower', () => u.followers.length === 1);
  u.followers[0].write(JSON.stringify({ time: '2026-12-02T10:00:01Z', source: 'app', msg: 'old' }) + '\n' + JSON.stringify({ time: '2026-12-02T10:00:02Z', source: 'app', msg: 'new' }) + '\n');
  await waitFor('the new entry', () => out === '2026-12-02T10:00:02Z;app;new\n');
  assert.deepEqual(u.requests, [5, 1]);
});

test('against an upstream memlogd, -after-seq is an error: its entries have no seq', async (t) => {
  const u = upstream(t, tmpdir(t), 'up');
  const r = await logread(['-socket', u.socket, '-after-seq', '3']);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, `logread: ${u.socket} cannot resume (an upstream memlogd?): its entries carry no seq, so -after-seq cannot be used\n`);
});

test('filters against the real memlogd', async (t) => {
  const daemon = await startDaemon(t, tmpdir(t));
  // One stream after the other, so that the ring holds them in this order.
  for (const [name, text] of [['web', 'GET /index\nGET /login\n'], ['web.err', 'Timeout on /login\n'], ['db', 'checkpoint\n']]) {
    const fd = await openStream(daemon.logSocket, name);
    fs.writeSync(fd, text);
    fs.closeSync(fd);
    const lines = text.split('\n').length - 1;
    await waitFor(`the lines of ${name}`, async () => messagesOf(await dump(daemon.querySocket), name).length === lines);
  }
  const r = await logread(['-socket', daemon.querySocket, '-source', 'web*', '-grep', 'LOGIN', '-i', '-o', 'cat']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'GET /login\nTimeout on /login\n');
  // (memlogd's own entries are left out: one from before mode 5 logs each filter request it refuses.)
  const last = await logread(['-socket', daemon.querySocket, '-n', '2', '-source', '!db', '-source', '!memlogd', '-o', 'cat']);
  assert.equal(last.code, 0, last.stderr);
  assert.equal(last.stdout, 'GET /login\nTimeout on /login\n');
});
