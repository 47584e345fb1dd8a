/** The init when memlogd is gone for good: it never blocks, nor do its services; it keeps trying, and hands everything back. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { queryStatus } from '../src/clients/query-client.js';
import { BIN, dump, messagesOf, tmpdir, waitFor } from './helpers.js';
import { processesWith, readIfThere, startInit, writeConfig } from './init-helpers.js';
import { outageFile, StreamKeeper } from '../src/init/stream-keeper.js';
import { socketpair } from '../src/native.js';

test('memlogd that cannot be restarted: its streams go to files, no writer blocks, it is retried until it is back, and gets them all again', async (t) => {
  const dir = tmpdir(t);
  const file = (name: string): string => path.join(dir, name);
  const config = writeConfig(
    dir,
    `log-dir: ./var/log
memlogd:
  # While BROKEN exists, memlogd cannot start (as after a bad upgrade).
  command: [sh, -c, '[ -e ${file('BROKEN')} ] && exit 3; exec "$@"', memlogd, ${JSON.stringify(process.execPath)}, ${JSON.stringify(BIN('memlogd'))}]
services:
  - name: flood
    # Far more than a FIFO holds (64 KiB), once told to; then a little more, once told again.
    command: [sh, -c, 'until [ -e ${file('GO1')} ]; do sleep 0.05; done; seq 1 100000; : > ${file('DONE1')}; until [ -e ${file('GO2')} ]; do sleep 0.05; done; seq 100001 100100; exec sleep 1000']
`,
  );
  const init = startInit(t, dir, config);
  const querySocket = file('run/memlogdq.sock');
  await waitFor('the boot done', () => /service flood: started/.test(init.stderr()));
  await waitFor('memlogd up', () => queryStatus(querySocket));
  fs.writeFileSync(file('BROKEN'), '');
  const [memlogd] = processesWith('-fd-query=4', init.proc.pid);
  process.kill(Number(memlogd.split(':')[0]), 'SIGKILL');
  await waitFor('a failed restart', () => /memlogd could not be restarted \(memlogd exited with status 3 before it was ready\); trying again/.test(init.stderr())).catch((err: Error) => {
    throw new Error(`${err.message}; the init said:\n${init.stderr()}`);
  });

  // With no memlogd, the service writes 589 KB into its FIFO, and finishes.
  fs.writeFileSync(file('GO1'), '');
  await waitFor('the flood written in full', () => fs.existsSync(file('DONE1')));
  // Every line, stamped as the persister would, in a file of its own (never one a persister writes).
  const onDisk = await waitFor('the last line in the file', () => {
    const lines = readIfThere(file('var/log/memlogd-down/flood.out.log')).split('\n');
    return lines.at(-2)?.endsWith(' 100000') && lines.slice(0, -1);
  });
  assert.deepEqual(
    onDisk.map((l) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ flood\.out (\d+)$/.exec(l)?.[1]),
    Array.from({ length: 100_000 }, (_, i) => `${i + 1}`),
  );
  assert.ok(!fs.existsSync(file('var/log/flood.out.log')), 'nothing in the file a persister would write');
  // The init's own lines of the outage reached a file too.
  assert.match(readIfThere(file('var/log/init.log')) + readIfThere(file('var/log/memlogd-down/init.log')), /memlogd could not be restarted/);

  // memlogd can start again: the init, still trying, starts it and hands it every stream once more.
  fs.rmSync(file('BROKEN'));
  await waitFor('memlogd back', () => /memlogd restarted \(pid \d+\); 3 streams handed over again/.test(init.stderr()));
  fs.writeFileSync(file('GO2'), '');
  const more = await waitFor('the flood read by memlogd again', async () => {
    const m = messagesOf(await dump(querySocket), 'flood.out');
    return m.length >= 100 && m;
  });
  assert.deepEqual(more, Array.from({ length: 100 }, (_, i) => `${100_001 + i}`));
  const status = await queryStatus(querySocket);
  const streams = (status.streams as { source: string }[]).map((s) => s.source).sort();
  assert.deepEqual(streams, ['flood', 'flood.out', 'init']);

  init.proc.kill('SIGTERM');
  assert.equal(await init.done, 0, init.stderr());
});

test('what the init reads while memlogd is down is bounded: each stream keeps its file and one older one', async (t) => {
  const dir = tmpdir(t);
  const notes: string[] = [];
  const keeper = new StreamKeeper(dir, (line) => notes.push(line), 2000);
  t.after(() => keeper.close());
  const [readEnd, writeEnd] = socketpair();
  t.after(() => fs.closeSync(writeEnd));
  keeper.keep({ name: 'svc', fd: readEnd });
  keeper.drainAll();
  // One write (small writes to a socketpair cost far more buffer than their bytes, and the reader is this very process).
  fs.writeSync(writeEnd, Array.from({ length: 1000 }, (_, i) => `line ${i + 1}\n`).join(''));
  const file = outageFile(dir, 'svc');
  const numbers = (f: string): number[] => readIfThere(f).split('\n').filter(Boolean).map((l) => Number(l.split(' ').at(-1)));
  await waitFor('the last line read', () => numbers(file).at(-1) === 1000);
  assert.ok(fs.statSync(file).size <= 2000 && fs.statSync(`${file}.1`).size <= 2000, 'each file within its bound');
  // The newest lines, in order, with nothing missing between the two files.
  const kept = [...numbers(`${file}.1`), ...numbers(file)];
  assert.deepEqual(kept, Array.from({ length: kept.length }, (_, i) => 1001 - kept.length + i));
  assert.deepEqual(fs.readdirSync(path.dirname(file)).sort(), ['svc.log', 'svc.log.1']);
  assert.deepEqual(notes, []);
});
