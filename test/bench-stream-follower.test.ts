/**
 * The web bench's SSE counter (bench/stream-follower.ts) reads an event
 * stream as it comes: events cut anywhere by the network (here: one byte per
 * write) are counted once each, entries by their id, loss markers by their
 * event type with their counts summed.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { Helper, Scope, numberField } from '../bench/children.js';

const HELLO = 'retry: 2000\n\nevent: hello\ndata: {"daemon":"d1","first":0,"next":7}\n\n';

function entry(seq: number): string {
  return `id: ${seq}\ndata: {"time":"2026-12-03T08:00:00.000000000Z","source":"svc","msg":"id: not an id\\ndata: nor this","seq":${seq}}\n\n`;
}

const LOST = 'event: lost\ndata: {"time":"2026-12-03T08:00:00.000000000Z","source":"memlogd","msg":"lost","lost":{"from":10,"to":14,"count":5}}\n\n';

/** Writes text one byte at a time, each write its own chunk on the wire (the socket is not corked, and we wait between writes). */
async function trickle(res: http.ServerResponse, text: string): Promise<void> {
  for (const b of Buffer.from(text)) {
    res.write(Buffer.from([b]));
    await new Promise((r) => setImmediate(r));
  }
}

test('stream-follower counts SSE entries and loss events whatever the chunks', async (t) => {
  const scope = new Scope();
  t.after(() => scope.close());
  let resolveRes: (res: http.ServerResponse) => void = () => {};
  const gotRes = new Promise<http.ServerResponse>((r) => (resolveRes = r));
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.flushHeaders();
    resolveRes(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const port = (server.address() as AddressInfo).port;

  const follower = new Helper('sse follower', 'stream-follower.js', ['sse', `http://127.0.0.1:${port}/api/follow`], scope);
  const res = await gotRes;
  await trickle(res, HELLO);
  const ready = await follower.nextWith('ready', 10_000);
  assert.match(String(ready.hello), /"daemon":"d1"/);

  await trickle(res, entry(7) + entry(8) + ': keepalive\n\n' + entry(9) + LOST + entry(15));
  // Every status has the counts so far; wait for the last entry's.
  for (;;) {
    const m = await follower.nextWith('status', 10_000);
    if (numberField(m, 'entries') === 4) break;
  }
  follower.send('stop');
  const final = await follower.nextWith('final', 10_000);
  assert.equal(numberField(final, 'entries'), 4);
  assert.equal(numberField(final, 'markers'), 1);
  assert.equal(numberField(final, 'lostByMarkers'), 5);
});
