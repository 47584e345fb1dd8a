/** Rate limits per source: a flood no longer pushes everyone else out of the ring, and what it lost is said. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { RateLimiter, parseDuration, type SuppressionReport } from '../src/inputs/rate-limit.js';
import { SourceTable } from '../src/ring/sources.js';
import { sendFdsAsync } from '../src/native.js';
import type { WireEntry } from '../src/clients/query-client.js';
import { BIN, dump, messagesOf, openStream, run, startDaemon, tmpdir, waitFor } from './helpers.js';

type Entry = WireEntry & Record<string, unknown>;

test('a window admits burst entries; the rest are counted and reported when it ends, on the next entry or by the sweep', () => {
  let now = 0;
  const reports: SuppressionReport[] = [];
  const limiter = new RateLimiter({ burst: 2, intervalMs: 1000 }, (r) => reports.push(r), () => now);
  const sources = new SourceTable();
  const chatty = limiter.acquire(sources.acquire('chatty', [7, 0, 0]));
  const quiet = limiter.acquire(sources.acquire('quiet'));
  assert.deepEqual([0, 10, 20, 30, 40].map((ms) => chatty.admit(ms)), [true, true, false, false, false]);
  assert.equal(quiet.admit(50), true);
  assert.equal(reports.length, 0);
  // The next entry after the window: the report comes first.
  assert.equal(chatty.admit(1000), true);
  assert.equal(reports.length, 1);
  assert.equal(reports[0].source.name, 'chatty');
  assert.equal(reports[0].count, 3);
  // A source that stops: the sweep reports it.
  chatty.admit(1001);
  chatty.admit(1002);
  limiter.release(chatty);
  now = 1500;
  limiter.sweep();
  assert.equal(reports.length, 1, 'not before its window ends');
  now = 2000;
  limiter.sweep();
  assert.equal(reports.length, 2);
  assert.equal(reports[1].count, 1);
  const described = limiter.describe();
  assert.equal(described.total, 4);
  assert.deepEqual(described.sources, [{ source: 'chatty', pid: 7, uid: 0, gid: 0, count: 4 }]);
  limiter.close();
});

test('durations: 30s, 500ms, 1m, 2h, a bare number of seconds; nonsense refused', () => {
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('1m'), 60_000);
  assert.equal(parseDuration('2h'), 7_200_000);
  assert.equal(parseDuration('5'), 5000);
  for (const bad of ['', 's', '-1s', '1d', '0ms', '30 s']) assert.throws(() => parseDuration(bad), RangeError, bad);
});

async function floodRun(t: Parameters<typeof tmpdir>[0] & { after(fn: () => void | Promise<void>): void }, limited: boolean): Promise<{ entries: Entry[]; status: Record<string, any> }> {
  const dir = tmpdir(t);
  const flags = ['-max-lines', '1000', ...(limited ? ['-rate-limit-burst', '200', '-rate-limit-interval', '3s'] : [])];
  const daemon = await startDaemon(t, dir, flags);
  const quiet = await openStream(daemon.logSocket, 'quiet');
  fs.writeSync(quiet, Array.from({ length: 20 }, (_, i) => `quiet ${i}`).join('\n') + '\n');
  await waitFor('the quiet lines', async () => messagesOf(await dump(daemon.querySocket), 'quiet').length === 20);
  const flood = await openStream(daemon.logSocket, 'flood');
  // One big write (a blocking socketpair: it returns once memlogd has read most of it).
  fs.writeSync(flood, Array.from({ length: 100_000 }, (_, i) => `flood ${i}`).join('\n') + '\n');
  fs.closeSync(flood);
  const statusOf = async (): Promise<Record<string, any>> => JSON.parse((await run(process.execPath, [BIN('memlog'), 'status', '-socket', daemon.querySocket])).stdout) as Record<string, any>;
  if (!limited) {
    await waitFor('the flood in', async () => messagesOf(await dump(daemon.querySocket), 'flood').includes('flood 99999'));
    return { entries: (await dump(daemon.querySocket)) as Entry[], status: await statusOf() };
  }
  // Every flood line is either in the ring or in a report: wait for the reports to account for all of them.
  const entries = await waitFor('the flood accounted for', async () => {
    const got = (await dump(daemon.querySocket)) as Entry[];
    const kept = messagesOf(got, 'flood').length;
    const reported = got.reduce((n, e) => n + (e.source === 'memlogd' && e.suppressed ? (e.suppressed as { count: number }).count : 0), 0);
    return kept + reported === 100_000 ? got : undefined;
  });
  fs.closeSync(quiet);
  return { entries, status: await statusOf() };
}

test('with a rate limit, a flood of 100,000 lines leaves a quiet service its history, and the suppression entry has the exact count', async (t) => {
  const { entries, status } = await floodRun(t, true);
  assert.equal(messagesOf(entries, 'quiet').length, 20, 'the quiet lines are still in the ring');
  const reports = entries.filter((e) => e.source === 'memlogd' && e.suppressed);
  assert.ok(reports.length >= 1);
  const kept = messagesOf(entries, 'flood').length;
  const total = reports.reduce((n, e) => n + (e.suppressed as { count: number }).count, 0);
  assert.equal(kept + total, 100_000);
  for (const r of reports) {
    const s = r.suppressed as { source: string; count: number; pid: number };
    assert.equal(s.source, 'flood');
    assert.equal(s.pid, process.pid);
    assert.match(r.msg, new RegExp(`suppressed ${s.count} entries of "flood"`));
  }
  assert.equal(status.rateLimit.suppressed.total, total);
  assert.equal(status.rateLimit.suppressed.sources[0].source, 'flood');
  assert.equal(status.rateLimit.suppressed.sources[0].count, total);
});

test('without a rate limit, the same flood pushes the quiet service out of the ring', async (t) => {
  const { entries, status } = await floodRun(t, false);
  assert.equal(messagesOf(entries, 'quiet').length, 0);
  assert.equal(status.rateLimit, undefined);
});

test('syslog messages are rate-limited per source too', async (t) => {
  const dir = tmpdir(t);
  const devLog = path.join(dir, 'dev-log');
  const daemon = await startDaemon(t, dir, ['-socket-syslog', devLog, '-rate-limit-burst', '5', '-rate-limit-interval', '500ms']);
  for (let i = 0; i < 50; i++) await sendFdsAsync(devLog, Buffer.from(`<14>noisy: message ${i}`), []);
  for (let i = 0; i < 3; i++) await sendFdsAsync(devLog, Buffer.from(`<14>calm: message ${i}`), []);
  const entries = await waitFor('the noisy source accounted for', async () => {
    const got = (await dump(daemon.querySocket)) as Entry[];
    const kept = messagesOf(got, 'noisy').length;
    const reported = got.reduce((n, e) => n + (e.source === 'memlogd' && (e.suppressed as { source?: string } | undefined)?.source === 'noisy' ? (e.suppressed as { count: number }).count : 0), 0);
    return kept + reported === 50 && kept < 50 ? got : undefined;
  });
  assert.equal(messagesOf(entries, 'calm').length, 3);
});
