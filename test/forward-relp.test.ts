/**
 * The RELP sender (src/forward/senders/relp.ts) against a real rsyslogd
 * (imrelp, imrelp with TLS; test/rsyslog-receiver.ts) and against fake RELP
 * servers in the test that misbehave: what arrives, how rsyslog parsed it,
 * and that every failure is a SendError for each pending send and leaves no
 * socket or timer behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { parseDestination } from '../src/forward/destination.js';
import type { ForwardEntry } from '../src/forward/entry.js';
import { SendError } from '../src/forward/sender.js';
import { RelpSender, type RelpSenderOptions } from '../src/forward/senders/relp.js';
import { fdCount, fdsBackTo, tmpdir, waitFor } from './helpers.js';
import { skipLoudly } from './peers.js';
import { makeCa, receiverPeers, startRsyslog } from './rsyslog-receiver.js';

const MESSAGE = { hostname: 'relp-test-host', facility: 1 };

function entry(seq: number): ForwardEntry {
  return {
    time: '2026-03-04T05:06:07.123456789Z',
    sec: 1772600767,
    nsec: 123456789,
    source: 'relp-app',
    msg: `entry ${seq} says hello`,
    daemon: 'daemon-1',
    seq,
    pid: 4242,
    severity: seq % 8,
    facility: 3,
  };
}

function sender(url: string, extra: Partial<RelpSenderOptions> = {}): RelpSender {
  return new RelpSender({ destination: parseDestination(url), message: MESSAGE, tls: {}, connectTimeoutMs: 20_000, ...extra });
}

/** Sends entries first..first+n-1 in batches of maxBatch, never more than window unanswered; resolves when all are. */
async function sendAll(s: RelpSender, first: number, n: number): Promise<void> {
  let next = first;
  const end = first + n;
  let unanswered = 0;
  await new Promise<void>((resolve, reject) => {
    const pump = (): void => {
      while (next < end && unanswered + Math.min(s.maxBatch, end - next) <= s.window) {
        const count = Math.min(s.maxBatch, end - next);
        const batch = Array.from({ length: count }, (_, k) => entry(next + k));
        next += count;
        unanswered += count;
        s.send(batch).then(() => {
          unanswered -= count;
          if (next >= end && unanswered === 0) resolve();
          else pump();
        }, reject);
      }
    };
    pump();
  });
}

/** Settles every promise; returns the reasons of those that rejected. */
async function rejections(promises: Promise<unknown>[]): Promise<unknown[]> {
  const r = await Promise.allSettled(promises);
  return r.filter((x): x is PromiseRejectedResult => x.status === 'rejected').map((x) => x.reason);
}

/** The TCP sockets and timers this process holds: back to what they were once a sender is gone. */
function handles(): { sockets: number; timers: number } {
  const info = process.getActiveResourcesInfo();
  return { sockets: info.filter((k) => k === 'TCPSocketWrap' || k === 'TLSWrap').length, timers: info.filter((k) => k === 'Timeout').length };
}

test('relp: every entry of 10,000 arrives once, parsed by rsyslog into the right fields', async (t) => {
  const found = await receiverPeers(['relp']);
  if ('why' in found) return skipLoudly(t, found.why);
  const r = await startRsyslog(tmpdir(t), { inputs: ['relp'], rsyslogd: found.rsyslogd, t });
  const s = sender(`relp://127.0.0.1:${r.ports.relp}`);
  t.after(() => s.destroy());
  await s.open();
  await sendAll(s, 0, 10_000);
  await s.close();

  const got = await r.waitForMessages(10_000);
  const seen = new Map<number, (typeof got)[number]>();
  for (const m of got) {
    const seq = Number(/^entry (\d+) says hello$/.exec(m.msg)?.[1]);
    assert.ok(!seen.has(seq), `entry ${seq} arrived twice`);
    seen.set(seq, m);
  }
  assert.equal(seen.size, 10_000);
  for (const seq of [0, 1, 4999, 9999]) {
    assert.deepEqual(seen.get(seq), {
      input: 'relp',
      'app-name': 'relp-app',
      procid: '4242',
      msgid: '-',
      severity: seq % 8,
      facility: 3,
      hostname: 'relp-test-host',
      timereported: '2026-03-04T05:06:07.123456Z',
      'structured-data': `[meta sequenceId="${seq + 1}"][memlog@32473 daemon="daemon-1" seq="${seq}" ns="123456789"]`,
      msg: `entry ${seq} says hello`,
    });
  }
});

test('relp+tls: verified with the test CA; another CA fails with a clear, permanent error; insecure connects', async (t) => {
  const found = await receiverPeers(['relp+tls']);
  if ('why' in found) return skipLoudly(t, found.why);
  const dir = tmpdir(t);
  const r = await startRsyslog(dir, { inputs: ['relp+tls'], rsyslogd: found.rsyslogd, t });
  const url = `relp+tls://127.0.0.1:${r.ports['relp+tls']}`;
  // imrelp asks for a client certificate too: the one the harness made.
  const client = { cert: r.certs.clientCertFile, key: r.certs.clientKeyFile };

  const good = sender(url, { tls: { ca: r.caFile, ...client } });
  t.after(() => good.destroy());
  await good.open();
  await sendAll(good, 0, 100);
  await good.close();

  const other = makeCa(`${dir}/other`, 'other', 'not the receiver CA');
  const bad = sender(url, { tls: { ca: other.caFile, ...client } });
  t.after(() => bad.destroy());
  const err = await bad.open().then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof SendError, `expected a SendError, got ${String(err)}`);
  assert.match(err.message, /certificate does not verify/);
  assert.equal(err.message.includes('\n'), false);
  assert.equal(err.permanent, true);

  const reports: string[] = [];
  const insecure = sender(url, { tls: { ca: other.caFile, insecure: true, ...client } });
  insecure.onReport = (msg) => reports.push(msg);
  t.after(() => insecure.destroy());
  await insecure.open();
  await sendAll(insecure, 100, 100);
  await insecure.close();
  assert.ok(reports.some((m) => /not verifying/.test(m)), `no word of insecurity in ${JSON.stringify(reports)}`);

  const got = await r.waitForMessages(200);
  assert.equal(new Set(got.map((m) => m.msg)).size, 200);
  assert.ok(got.every((m) => m.input === 'relp+tls'));
});

test('relp: kill -9 of rsyslog mid-stream rejects the pending sends with SendError; after restart a new sender works', async (t) => {
  const found = await receiverPeers(['relp']);
  if ('why' in found) return skipLoudly(t, found.why);
  const r = await startRsyslog(tmpdir(t), { inputs: ['relp'], rsyslogd: found.rsyslogd, t });
  const url = `relp://127.0.0.1:${r.ports.relp}`;
  const s = sender(url);
  t.after(() => s.destroy());
  await s.open();
  await sendAll(s, 0, 1000);
  // rsyslog answers once a message is queued, and kill -9 loses its queue: the count at the end needs these written first.
  await r.waitForMessages(1000);

  // The window full of sends, then the receiver dies before (some of) them are answered.
  const pending: Promise<void>[] = [];
  for (let k = 0; k < s.window / s.maxBatch; k++) pending.push(s.send(Array.from({ length: s.maxBatch }, (_, i) => entry(1000 + k * s.maxBatch + i))));
  const outcome = Promise.allSettled(pending);
  await r.kill9();
  const failed = await rejections(pending);
  // Sends answered before the kill resolved; the rest rejected, each with a SendError, and nothing after.
  const settled = await outcome;
  const firstRejected = settled.findIndex((x) => x.status === 'rejected');
  if (firstRejected !== -1) assert.ok(settled.slice(firstRejected).every((x) => x.status === 'rejected'), 'a send resolved after an earlier one rejected');
  for (const e of failed) assert.ok(e instanceof SendError, `not a SendError: ${String(e)}`);
  // Whether or not the kill came before the answers, the sender is finished: the next send says why.
  await waitFor('the sender to notice', async () => {
    const e = await s.send([entry(99_999)]).then(
      () => undefined,
      (x: unknown) => x,
    );
    return e instanceof SendError ? e : undefined;
  });

  await r.restart();
  const again = sender(url);
  t.after(() => again.destroy());
  await again.open();
  await sendAll(again, 5000, 500);
  await again.close();
  // Waited for by content, not count: how many of the window's sends rsyslog wrote before the kill varies.
  const wanted = Array.from({ length: 500 }, (_, i) => `entry ${5000 + i} says hello`);
  await waitFor('every entry sent after the restart', () => {
    const got = new Set(r.messages().map((m) => m.msg));
    return wanted.every((w) => got.has(w));
  }, 60_000);
});

/** A RELP server in the test: answers open as librelp does, then does what `behave` says with each frame. */
interface FakeServer {
  url: string;
  /** Syslog frames received so far (transaction numbers). */
  frames: number[];
  connections: number;
  closedConnections: number;
  close(): Promise<void>;
}

type Behaviour = (frame: { txnr: number; command: string }, socket: net.Socket, server: FakeServer) => void;

const OPEN_ANSWER = '200 OK\nrelp_version=0\nrelp_software=fake,1,none\ncommands=syslog';

async function fakeServer(t: { after(fn: () => void | Promise<void>): void }, behave: Behaviour): Promise<FakeServer> {
  const sockets = new Set<net.Socket>();
  const state: FakeServer = { url: '', frames: [], connections: 0, closedConnections: 0, close: async () => {} };
  const server = net.createServer((socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => {
      state.closedConnections++;
      sockets.delete(socket);
    });
    socket.on('error', () => {});
    let buf = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const m = /^(\d+) ([a-z]+) (\d+)[ \n]/.exec(buf.toString('latin1', 0, Math.min(buf.length, 40)));
        if (!m) break;
        const len = Number(m[3]);
        const total = m[0].length + len + (len > 0 ? 1 : 0);
        if (buf.length < total) break;
        buf = buf.subarray(total);
        const frame = { txnr: Number(m[1]), command: m[2] };
        if (frame.command === 'open') socket.write(`${frame.txnr} rsp ${OPEN_ANSWER.length} ${OPEN_ANSWER}\n`);
        else {
          if (frame.command === 'syslog') state.frames.push(frame.txnr);
          behave(frame, socket, state);
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `relp://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  t.after(() => state.close());
  return state;
}

for (const [name, behave, expected] of [
  ['answering 500', (f, s) => s.write(`${f.txnr} rsp 17 500 queue is full\n`), /refused a message: 500 queue is full/],
  ['answering garbage', (_f, s) => s.write('this is not RELP\n'), /malformed RELP frame/],
  ['answering an oversized frame', (f, s) => s.write(`${f.txnr} rsp 999999999 200 OK`), /malformed RELP frame: frame of more than/],
  ['answering out of order', (f, s) => s.write(`${f.txnr + 5} rsp 6 200 OK\n`), /answered transaction \d+ where \d+ was next/],
  ['closing the connection', (_f, s) => s.end('0 serverclose 0\n'), /serverclose/],
  ['answering nothing', () => {}, /no answer from the server for 0.3 s/],
] as [string, Behaviour, RegExp][]) {
  test(`relp: a server ${name} makes every pending send reject with a SendError, and nothing is left behind`, async (t) => {
    const fake = await fakeServer(t, behave);
    const fdsBefore = fdCount(process.pid);
    const before = handles();
    const s = sender(fake.url, { ackTimeoutMs: 300, window: 16, maxBatch: 4 });
    await s.open();
    const sends = [0, 1, 2].map((k) => s.send([entry(k * 2), entry(k * 2 + 1)]));
    const failed = await rejections(sends);
    assert.equal(failed.length, 3);
    for (const e of failed) {
      assert.ok(e instanceof SendError, `not a SendError: ${String(e)}`);
      assert.match(e.message, expected);
      assert.match(e.message, new RegExp(`^${fake.url.replace(/[.+]/g, '\\$&')}: `));
      assert.equal(e.message.includes('\n'), false);
    }
    // Finished: later sends say so at once; destroy is harmless.
    await assert.rejects(s.send([entry(9)]), SendError);
    s.destroy();
    await waitFor('the server to see the connection closed', () => fake.closedConnections === fake.connections);
    await waitFor('no socket or timer of the sender left', () => {
      const now = handles();
      return now.sockets <= before.sockets && now.timers <= before.timers;
    });
    await fdsBackTo(process.pid, fdsBefore);
  });
}

test('relp: a server that never answers open makes open() reject within connectTimeoutMs, leaving nothing', async (t) => {
  // Reading (resume) so that the end of the sender's connection is seen and this side closes too.
  const server = net.createServer((socket) => socket.on('error', () => {}).resume());
  const sockets = new Set<net.Socket>();
  server.on('connection', (c) => sockets.add(c));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => {
    for (const c of sockets) c.destroy();
    server.close(() => resolve());
  }));
  const before = handles();
  const s = sender(`relp://127.0.0.1:${(server.address() as net.AddressInfo).port}`, { connectTimeoutMs: 300 });
  await assert.rejects(s.open(), (e: unknown) => e instanceof SendError && /RELP open \(no answer from the server\) took longer than 0.3 s/.test(e.message));
  await waitFor('no socket or timer of the sender left', () => {
    const now = handles();
    return now.sockets <= before.sockets && now.timers <= before.timers;
  });
});

test('relp: connection refused is a one-line SendError', async () => {
  // A port that was free a moment ago: nothing listens there.
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const s = sender(`relp://127.0.0.1:${port}`);
  await assert.rejects(s.open(), (e: unknown) => e instanceof SendError && e.message === `relp://127.0.0.1:${port}: connection refused`);
});

test('relp: no more than `window` frames are ever unanswered, and everything resolves once answered', async (t) => {
  const window = 8;
  let answered = 0;
  let most = 0;
  const held: { txnr: number; socket: net.Socket }[] = [];
  const fake = await fakeServer(t, (f, socket, server) => {
    held.push({ txnr: f.txnr, socket });
    most = Math.max(most, server.frames.length - answered);
  });
  // The window alone decides what is written.
  const s = sender(fake.url, { window, maxBatch: 4, ackTimeoutMs: 60_000 });
  t.after(() => s.destroy());
  await s.open();
  // Five batches of four: twenty entries, more than twice the window.
  const sends = [0, 1, 2, 3, 4].map((k) => s.send([0, 1, 2, 3].map((i) => entry(k * 4 + i))));
  const done: boolean[] = [false, false, false, false, false];
  sends.forEach((p, k) => p.then(() => (done[k] = true)));

  // The server answers nothing until the window is full: exactly `window` frames come, and no send is done.
  await waitFor(`${window} frames at the server`, () => fake.frames.length >= window);
  // Answering the first batch lets exactly one more batch (four frames) in.
  const answer = (n: number): void => {
    for (const { txnr, socket } of held.splice(0, n)) socket.write(`${txnr} rsp 6 200 OK\n`);
    answered += n;
  };
  answer(4);
  await waitFor('the first send to resolve', () => done[0]);
  await waitFor('the third batch to arrive', () => fake.frames.length >= 12);
  assert.deepEqual(done, [true, false, false, false, false]);
  answer(8);
  await waitFor('all twenty frames at the server', () => fake.frames.length === 20);
  answer(8);
  await Promise.all(sends);
  assert.ok(most <= window, `${most} frames were unanswered at once, more than the window of ${window}`);
  assert.deepEqual(fake.frames, Array.from({ length: 20 }, (_, k) => k + 2));
});
