/**
 * GET /api/follow: memlogd's filtered follow (query mode 5) relayed as
 * Server-Sent Events (sse-events.ts). The browser is one more reader of
 * memlogd, with memlogd's bounded queue: while the response is behind (its
 * write returns false) memlogd's connection is not read, so a slow browser
 * costs memlogd its usual per-reader queue and later gets a loss marker,
 * never unbounded memory here. The browser going away closes the connection
 * to memlogd; memlogd closing it ends the response (the browser's
 * EventSource then reconnects with Last-Event-ID and resumes).
 */
import type http from 'node:http';
import type net from 'node:net';
import { readMode } from '../clients/logread-options.js';
import { LineReader } from '../clients/query-client.js';
import { connectFiltered } from '../clients/ring-read.js';
import { unreachable } from './entries-route.js';
import { sendText } from './respond.js';
import { EventBatch, namedEvent } from './sse-events.js';
import { followOptions, type ReadTarget } from './web-options.js';

export const EVENT_STREAM = 'text/event-stream; charset=utf-8';
/** How long the browser's EventSource waits before reconnecting, in ms. */
export const RETRY_MS = 2000;
export const KEEPALIVE_MS = 15_000;

export interface FollowSettings {
  /** A comment line this often keeps proxies and the browser from taking a quiet stream for a dead one. */
  keepaliveMs: number;
  log(msg: string): void;
}

export async function followRoute(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  params: URLSearchParams,
  target: ReadTarget,
  settings: FollowSettings,
): Promise<void> {
  const lastEventId = req.headers['last-event-id'];
  const options = followOptions(params, Array.isArray(lastEventId) ? lastEventId[0] : lastEventId, target);
  if (req.method === 'HEAD') {
    res.writeHead(200, { 'Content-Type': EVENT_STREAM });
    res.end();
    return;
  }
  let gone = false;
  res.once('close', () => (gone = true));
  const warn = (msg: string): void => settings.log(`/api/follow: ${msg}`);
  let conn;
  try {
    conn = await connectFiltered({ ...options, out: res, warn }, { mode: readMode(options), last: options.last, filter: options.filter });
  } catch (err) {
    if (!gone) unreachable(res, target.socket, err);
    return;
  }
  if (gone) {
    conn.socket.destroy();
    return;
  }
  const hello = conn.hello;
  if (!hello) {
    conn.socket.destroy();
    sendText(res, 502, `${target.socket} cannot filter or resume (an upstream memlogd?): memlog web needs memlog's memlogd`);
    return;
  }
  res.writeHead(200, { 'Content-Type': EVENT_STREAM, 'X-Accel-Buffering': 'no' });
  res.write(`retry: ${RETRY_MS}\n` + namedEvent('hello', { daemon: hello.daemon, first: hello.first, next: hello.next }));
  relay(conn.socket, conn.rest, res, settings);
}

/** memlogd's lines to the response as events, one write per chunk read, until either side closes. */
function relay(socket: net.Socket, rest: Buffer, res: http.ServerResponse, settings: FollowSettings): void {
  const lines = new LineReader();
  const batch = new EventBatch();
  const onLine = (line: Buffer): void => batch.add(line);
  const take = (chunk: Buffer): void => {
    lines.push(chunk, onLine);
    if (!batch.empty && !res.write(batch.take())) socket.pause();
  };
  const keepalive = setInterval(() => res.write(': keepalive\n\n'), settings.keepaliveMs);
  keepalive.unref();
  res.on('drain', () => socket.resume());
  res.once('close', () => {
    clearInterval(keepalive);
    socket.destroy();
  });
  socket.on('data', take);
  socket.on('error', (err) => settings.log(`/api/follow: the connection to memlogd failed: ${err.message}`));
  socket.once('close', () => {
    clearInterval(keepalive);
    res.end();
  });
  if (rest.length > 0) take(rest);
  if (!res.writableNeedDrain) socket.resume();
}
