/**
 * GET /api/entries: a dump of the matching entries as JSON lines, exactly as
 * `logread -o json` prints them (the same library writes into the response).
 * The status and headers go out with the first entry, so that memlogd being
 * down is still a 502; a failure after that can only cut the response off.
 * The browser going away aborts the read: memlogd's connection is closed at
 * once, not left paused behind a response nobody reads.
 */
import type http from 'node:http';
import { logread } from '../clients/logread.js';
import { ConnectError } from '../clients/query-client.js';
import { sendText } from './respond.js';
import { entriesOptions, type ReadTarget } from './web-options.js';

export const NDJSON = 'application/x-ndjson; charset=utf-8';

export async function entriesRoute(req: http.IncomingMessage, res: http.ServerResponse, params: URLSearchParams, target: ReadTarget, log: (msg: string) => void): Promise<void> {
  const options = entriesOptions(params, target);
  if (req.method === 'HEAD') {
    res.writeHead(200, { 'Content-Type': NDJSON });
    res.end();
    return;
  }
  const abort = new AbortController();
  res.once('close', () => abort.abort());
  res.statusCode = 200;
  res.setHeader('Content-Type', NDJSON);
  try {
    await logread({ ...options, out: res, warn: (msg) => log(`/api/entries: ${msg}`), signal: abort.signal });
  } catch (err) {
    if (abort.signal.aborted) return;
    return unreachable(res, target.socket, err);
  }
  if (!abort.signal.aborted) res.end();
}

/** memlogd could not be read: a 502 when nothing was sent yet. */
export function unreachable(res: http.ServerResponse, socket: string, err: unknown): void {
  const why = err instanceof ConnectError ? err.message : `memlogd at ${socket}: ${err instanceof Error ? err.message : String(err)}`;
  sendText(res, 502, why);
}
