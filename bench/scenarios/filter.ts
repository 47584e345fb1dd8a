/**
 * filter: query mode 5 against a ring of 1,000,000 entries (--ring N) of real
 * log text (LogHub samples, lines cut to 99 bytes) from 100 sources. From
 * connect to the end of output, best of 3, with a client that only counts
 * lines: the last 100 entries of one source; a since/until window holding
 * 1% of the ring; a grep for a literal found in about 0.1% of the entries,
 * as message bytes scanned per second, next to `grep -F -c` over a file of
 * the same text (best of 3, the file in the page cache); an unfiltered dump.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Scope } from '../children.js';
import { Daemon } from '../daemon.js';
import type { FigureSpec, Values } from '../figures.js';
import { corpusLines, fillFromCorpus, sourceName, wordWithFrequency } from '../corpus.js';
import { ringSettled } from '../ring-settled.js';
import { ringConfig } from './load.js';
import { FULL_RING } from './memory.js';
import { MB, type Context, type Scenario } from './types.js';
import { encodeFilterRequest, type FilterRequest } from '../../src/protocol/filter-request.js';
import type { Filter } from '../../src/filter/entry-filter.js';
import { parseRfc3339 } from '../../src/entry/rfc3339.js';

const TRIES = 3;

export interface Answer {
  ms: number;
  /** Lines after the hello. */
  entries: number;
  bytes: number;
  text: Buffer;
}

/** Sends one request and reads to the end: time from connect to the close. keep: keep the text (small answers only). */
export function ask(querySocket: string, request: Buffer, keep = false): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const socket = net.connect(querySocket);
    let lines = 0;
    let bytes = 0;
    const kept: Buffer[] = [];
    socket.on('data', (d: Buffer) => {
      bytes += d.length;
      for (let i = d.indexOf(10); i >= 0; i = d.indexOf(10, i + 1)) lines++;
      if (keep) kept.push(d);
    });
    socket.once('error', reject);
    socket.once('connect', () => socket.write(request));
    socket.once('close', () => resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, entries: lines - 1, bytes, text: Buffer.concat(kept) }));
  });
}

export function filterRequest(filter: Partial<Filter>, last?: number): Buffer {
  const req: FilterRequest = { mode: 0, last, filter: { sources: [], exclude: [], ...filter } };
  return encodeFilterRequest(req);
}

async function best(querySocket: string, request: Buffer): Promise<Answer> {
  let top: Answer | undefined;
  for (let i = 0; i < TRIES; i++) {
    const a = await ask(querySocket, request);
    if (!top || a.ms < top.ms) top = a;
  }
  return top as Answer;
}

/** grep -F -c over file: the best of TRIES runs, in ms, and its count. */
function timeGrep(literal: string, file: string): { ms: number; count: number } {
  let ms = Infinity;
  let count = NaN;
  for (let i = 0; i < TRIES; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync('grep', ['-F', '-c', literal, file], { encoding: 'utf8' });
    const t = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0 && r.status !== 1) throw new Error(`grep failed: ${r.stderr}`);
    ms = Math.min(ms, t);
    count = Number(r.stdout.trim());
  }
  return { ms, count };
}

export const filter: Scenario = {
  name: 'filter',
  description:
    'query mode 5 on a full ring of real log lines (LogHub, <= 99 bytes) from 100 sources: last 100 of one source, a 1% time window, a 0.1% literal grep (MB/s of message text, next to grep -F -c on the same text), an unfiltered dump; connect to end, best of 3',
  figures: (ctx: Context): FigureSpec[] => {
    const full = ctx.ring === FULL_RING;
    const issue = (value: number, op: '<=' | '>=' = '<='): FigureSpec['target'] => (full ? { op, value, note: 'issue, with 1,000,000 entries' } : undefined);
    return [
      { key: 'lastMs', label: 'last 100 of one source ms', format: 'ms', target: issue(50) },
      { key: 'windowMs', label: 'since/until 1% ms', format: 'ms', target: issue(50) },
      { key: 'windowEntries', label: 'since/until entries sent', format: 'count' },
      { key: 'grepMBps', label: 'grep literal 0.1%: MB/s scanned', format: 'mbps', target: { op: '>=', value: 1000, note: 'issue: 1 GB/s' } },
      { key: 'grepFMBps', label: '  grep -F -c, same text: MB/s', format: 'mbps' },
      { key: 'ofGrepF', label: '  ours / grep -F -c', format: 'pct', target: { op: '>=', value: 100, note: 'issue: at least as fast as grep' } },
      { key: 'grepMs', label: '  grep literal 0.1%: ms', format: 'ms' },
      { key: 'grepEntries', label: '  grep matches (grep -F -c found)', format: 'count' },
      { key: 'grepFCount', label: '  grep -F -c count', format: 'count' },
      { key: 'dumpMs', label: 'unfiltered dump ms (for comparison)', format: 'ms' },
    ];
  },
  async run(ctx: Context): Promise<Values> {
    const scope = new Scope();
    try {
      const n = ctx.ring;
      const daemon = await Daemon.start(scope, { template: ctx.template, ...ringConfig(n) });
      const query = daemon.requireQuery();
      const lines = corpusLines();
      const literal = wordWithFrequency(lines, 0.001);
      ctx.note(`filling ${n.toLocaleString('en-US')} entries from ${lines.length} corpus lines; literal "${literal}"`);
      const text = await fillFromCorpus(daemon.logSocket, lines, n);
      // Everything written is in once the ring has taken n entries of the sources (and the daemon's own).
      const ringBytes = (await ringSettled(daemon, n)).ring.bytes;
      const textFile = path.join(scope.dir, 'messages.txt');
      fs.writeFileSync(textFile, text);

      const dump = await best(query, Buffer.from([0]));
      const last = await best(query, filterRequest({ sources: [sourceName(42)] }, 100));
      if (last.entries !== 100) throw new Error(`last 100 of one source sent ${last.entries} entries`);

      // A window of 1%: the times of one source's entries at 49.5% and 50.5% of its list.
      const one = await ask(query, filterRequest({ sources: [sourceName(7)] }), true);
      const times = one.text.toString('utf8').trim().split('\n').slice(1).map((l) => (JSON.parse(l) as { time: string }).time);
      const since = parseRfc3339(times[Math.floor(times.length * 0.495)]);
      const until = parseRfc3339(times[Math.floor(times.length * 0.505)]);
      const window = await best(query, filterRequest({ since, until }));

      const grep = await best(query, filterRequest({ grep: literal }));
      const grepF = timeGrep(literal, textFile);
      daemon.assertAlive();
      await daemon.stop();
      const grepMBps = ringBytes / MB / (grep.ms / 1000);
      const grepFMBps = text.length / MB / (grepF.ms / 1000);
      return {
        lastMs: last.ms,
        windowMs: window.ms,
        windowEntries: window.entries,
        grepMBps,
        grepFMBps,
        ofGrepF: (100 * grepMBps) / grepFMBps,
        grepMs: grep.ms,
        grepEntries: grep.entries,
        grepFCount: grepF.count,
        dumpMs: dump.ms,
      };
    } finally {
      await scope.close();
    }
  },
};
