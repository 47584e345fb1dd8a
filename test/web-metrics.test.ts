/**
 * GET /metrics: Prometheus' own checker (promtool check metrics, Debian's
 * prometheus package) accepts it, against a memlogd with hostile source
 * names, one name from two senders and a rate limit that suppressed
 * entries; the figures are memlogd's status, label values escaped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { queryStatus } from '../src/clients/query-client.js';
import { openStream, ROOT, run, startDaemon, tmpdir, waitFor } from './helpers.js';
import { peers, skipLoudly } from './peers.js';
import { request, startWeb } from './web-helpers.js';

interface Series {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of an exposition, label values unescaped (a parser of its own, not the server's code). */
function parseExposition(text: string): { series: Series[]; help: Map<string, string>; type: Map<string, string>; lines: string[] } {
  const series: Series[] = [];
  const help = new Map<string, string>();
  const type = new Map<string, string>();
  const lines = text.split('\n');
  assert.equal(lines.pop(), '', 'the text ends with a newline');
  for (const line of lines) {
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      (meta[1] === 'HELP' ? help : type).set(meta[2], meta[3]);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(line);
    assert.ok(m, `a sample line: ${line}`);
    const labels: Record<string, string> = {};
    if (m[2]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\\\|\\"|\\n)*)"(,|\})/gy;
      re.lastIndex = 1;
      let lm: RegExpExecArray | null;
      while ((lm = re.exec(m[2])) !== null) {
        labels[lm[1]] = lm[2].replace(/\\(\\|"|n)/g, (_, c: string) => (c === 'n' ? '\n' : c));
        if (lm[3] === '}') break;
      }
      assert.equal(re.lastIndex, m[2].length, `labels read to the end: ${line}`);
    }
    series.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return { series, help, type, lines };
}

function value(series: Series[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = series.filter((s) => s.name === name && JSON.stringify(s.labels) === JSON.stringify(labels));
  assert.ok(found.length <= 1, `one ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

const HOSTILE = ['we"ird "quoted"', 'back\\slash\\', 'ünï©ødé ✓ 日本語', 'a{b}=c,d # not a comment', 'tab\tin name'];

test('metrics: valid for promtool check metrics, with hostile source names, one name from two senders and rate-limit suppressions', async (t) => {
  const found = await peers(['promtool']);
  if ('why' in found) return skipLoudly(t, found.why);
  const promtool = found.paths.promtool;
  const dir = tmpdir(t);
  const daemon = await startDaemon(t, dir, ['-rate-limit-burst', '3', '-rate-limit-interval', '1s']);
  for (const name of HOSTILE) {
    const fd = await openStream(daemon.logSocket, name);
    fs.writeSync(fd, `first of ${name}\nsecond\n`);
    fs.closeSync(fd);
  }
  // "twice" from this process and from another one: two sources of one name.
  const mine = await openStream(daemon.logSocket, 'twice');
  fs.writeSync(mine, 'a\nb\n');
  fs.closeSync(mine);
  const other = await run(process.execPath, [path.join(ROOT, 'dist/test/flood-writer.js'), daemon.logSocket, 'twice', '3', '10']);
  assert.equal(other.code, 0, other.stderr);
  // 10 lines at most 3 a second: 7 suppressed, reported when the interval ends.
  const noisy = await openStream(daemon.logSocket, 'noisy');
  fs.writeSync(noisy, Array.from({ length: 10 }, (_, i) => `noise ${i}\n`).join(''));
  fs.closeSync(noisy);
  const status = await waitFor('the rate limit to report what it suppressed of noisy', async () => {
    const s = await queryStatus(daemon.querySocket);
    const held = (s.ringSources as { source: string; entries: number }[]).filter((r) => r.source === 'twice');
    const suppressed = (s.rateLimit as { suppressed: { sources: { source: string; count: number }[] } }).suppressed.sources;
    return held.length === 2 && held.every((h) => h.entries >= 2) && suppressed.some((x) => x.source === 'noisy' && x.count === 7) ? s : undefined;
  });

  const web = await startWeb(t, ['-listen', '127.0.0.1:0', '-socket', daemon.querySocket]);
  const got = await request(web.url, '/metrics');
  assert.equal(got.status, 200);
  assert.equal(got.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  assert.equal(got.headers['cache-control'], 'no-store');

  const checked = await run(promtool, ['check', 'metrics'], { input: got.text });
  assert.equal(checked.code, 0, `promtool check metrics: ${checked.stdout}${checked.stderr}\n${got.text}`);
  assert.equal(checked.stdout.trim(), '', checked.stdout);

  const { series, help, type, lines } = parseExposition(got.text);
  // Every family said once, with HELP and TYPE; counters (and only they) end in _total; no series twice.
  const names = new Set(series.map((s) => s.name));
  for (const name of names) {
    assert.ok(name.startsWith('memlog_'), name);
    assert.ok(help.has(name) && type.has(name), `${name} has HELP and TYPE`);
    assert.equal(type.get(name) === 'counter', name.endsWith('_total'), `${name} is a ${type.get(name)}`);
  }
  const keys = series.map((s) => `${s.name}${JSON.stringify(s.labels)}`);
  assert.equal(new Set(keys).size, keys.length, 'no series twice');
  assert.equal(lines.filter((l) => l.startsWith('# TYPE ')).length, names.size);

  for (const name of HOSTILE) {
    assert.equal(value(series, 'memlog_source_entries', { source: name.replace(/\t/g, '\ufffd') }), 2, name);
  }
  assert.equal(value(series, 'memlog_source_entries', { source: 'twice' }), 5);
  assert.equal(value(series, 'memlog_source_entries', { source: 'noisy' }), 3);
  const ownBytes = (status.ringSources as { source: string; bytes: number }[]).find((s) => s.source === 'noisy')?.bytes;
  assert.equal(value(series, 'memlog_source_bytes', { source: 'noisy' }), ownBytes);
  assert.equal(value(series, 'memlog_rate_limit_suppressed_total'), 7);
  assert.equal(value(series, 'memlog_rate_limit_source_suppressed_total', { source: 'noisy' }), 7);
  const ring = status.ring as typeof status.ring & { maxLines: number };
  assert.ok((value(series, 'memlog_entries_total') ?? 0) >= ring.next);
  assert.equal(value(series, 'memlog_ring_max_entries'), ring.maxLines);
  assert.equal(value(series, 'memlog_ring_dropped_total'), 0);
  assert.equal(value(series, 'memlog_streams_accepted_total'), HOSTILE.length + 3);
  assert.equal(value(series, 'memlog_readers_lost_total'), 0);
  assert.equal(value(series, 'memlog_query_clients'), 1);
  assert.equal(value(series, 'memlog_info', { daemon: status.daemon, pid: String(daemon.pid) }), 1);
  for (const name of ['memlog_ring_entries', 'memlog_ring_bytes', 'memlog_streams_open', 'memlog_memory_rss_bytes', 'memlog_memory_heap_used_bytes', 'memlog_uptime_seconds', 'memlog_streams_refused_total']) {
    assert.ok(value(series, name) !== undefined, name);
  }
  assert.ok((value(series, 'memlog_memory_rss_bytes') ?? 0) > 1e6);
});
