/**
 * memlog web's HTTP server: routing, the token, and the headers every answer
 * carries (a strict Content-Security-Policy, nosniff, no referrer; no caching
 * of anything: the answers are live). GET and HEAD only. Each route is its own
 * module; this one decides which runs and turns a bad request into a 400.
 */
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { queryStatus } from '../clients/query-client.js';
import { projectRoot } from '../paths.js';
import { TokenCheck, tokenCookie } from './auth.js';
import { bundleRoute } from './bundle-route.js';
import { hostAllowed } from './host-check.js';
import { entriesRoute, unreachable } from './entries-route.js';
import { followRoute, KEEPALIVE_MS } from './follow-route.js';
import { urlOf } from './listen-address.js';
import { metricsText, METRICS_CONTENT_TYPE } from './metrics.js';
import { sendBody, sendText } from './respond.js';
import { assetPath, sendFile, sendIndex } from './static.js';
import { ParamError, type ReadTarget } from './web-options.js';

export const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

export interface WebServerOptions extends ReadTarget {
  host: string;
  /** 0: a free port. */
  port: number;
  /** Every request must carry it (auth.ts); none: no check (loopback only, see src/cli/web.ts). */
  token?: string;
  /** The page's files (default: dist/web/ of the project). */
  pageDir?: string;
  /** /api/follow's keepalive comment interval (default 15 s). */
  keepaliveMs?: number;
  /** memlogd's status, asked with this timeout (ms). */
  statusTimeoutMs?: number;
  /** What the server has to say that is no one request's answer (warnings); default: stderr. */
  log?: (msg: string) => void;
  kmsgDevice?: string;
  forwardStateDir?: string;
}

export interface WebServer {
  /** `http://HOST:PORT/`, with the port listened on. */
  url: string;
  port: number;
  server: http.Server;
  /** Stops listening and closes every connection, event streams included. */
  close(): Promise<void>;
}

/** Query parameters of a request for a path that takes none but may be given the token (`/?token=`). */
function noParams(params: URLSearchParams, allowed: string[] = []): void {
  for (const name of params.keys()) {
    if (!allowed.includes(name)) throw new ParamError(`unknown parameter ${JSON.stringify(name)}: this path takes none`);
  }
}

export async function startWebServer(opts: WebServerOptions): Promise<WebServer> {
  const log = opts.log ?? ((msg: string) => process.stderr.write(`memlog web: ${msg}\n`));
  const pageDir = opts.pageDir ?? path.join(projectRoot(), 'dist/web');
  const tokens = opts.token !== undefined ? new TokenCheck(opts.token) : undefined;
  const target: ReadTarget = { socket: opts.socket, logDir: opts.logDir };
  const followSettings = { keepaliveMs: opts.keepaliveMs ?? KEEPALIVE_MS, log };

  const route = async (req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> => {
    const params = url.searchParams;
    // The token from a link (/?token=...): kept as a cookie, and the address bar cleaned of it.
    if (tokens && url.pathname === '/' && params.has('token')) {
      if (!tokens.matches(params.get('token') ?? '')) return refuse(res);
      params.delete('token');
      const query = params.toString();
      res.writeHead(303, { Location: `/${query ? `?${query}` : ''}`, 'Set-Cookie': tokenCookie(opts.token as string) });
      return void res.end();
    }
    if (tokens && !tokens.allows(req)) return refuse(res);
    if (!tokens && !hostAllowed(req.headers.host)) {
      return sendText(res, 403, 'forbidden: without -token the server answers only requests for an IP address or localhost (Host header), not a name');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, `method ${req.method ?? ''} not allowed: GET or HEAD`, { Allow: 'GET, HEAD' });
    const p = url.pathname;
    if (p === '/api/entries') return entriesRoute(req, res, params, target, log);
    if (p === '/api/follow') return followRoute(req, res, params, target, followSettings);
    if (p === '/api/status' || p === '/metrics') {
      noParams(params);
      let status;
      try {
        status = await queryStatus(opts.socket, opts.statusTimeoutMs);
      } catch (err) {
        return unreachable(res, opts.socket, err);
      }
      if (p === '/metrics') return sendBody(res, METRICS_CONTENT_TYPE, metricsText(status));
      return sendBody(res, 'application/json; charset=utf-8', JSON.stringify(status) + '\n');
    }
    if (p === '/api/bundle') {
      noParams(params);
      return bundleRoute(req, res, target, { log, kmsgDevice: opts.kmsgDevice, forwardStateDir: opts.forwardStateDir });
    }
    // The page reads its filters from its own URL: any parameters.
    if (p === '/' || p === '/index.html') return sendIndex(req, res, pageDir);
    if (p.startsWith('/assets/')) {
      const file = assetPath(pageDir, p.slice('/assets/'.length));
      if (file === undefined) return sendText(res, 404, `not found: ${p}`);
      return sendFile(req, res, file, p);
    }
    return sendText(res, 404, `not found: ${p}`);
  };

  const server = http.createServer((req, res) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    let url: URL;
    try {
      // Only the path and query matter; the Host header is the client's to choose.
      url = new URL(req.url ?? '/', 'http://memlog.invalid');
    } catch {
      return sendText(res, 400, 'bad request target');
    }
    route(req, res, url).catch((err: unknown) => {
      if (err instanceof ParamError) return sendText(res, 400, err.message);
      log(`${req.method} ${url.pathname}: ${err instanceof Error ? err.message : String(err)}`);
      sendText(res, 500, `internal error: ${err instanceof Error ? err.message : String(err)}`);
    });
  });
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: opts.host, port: opts.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log(`server error: ${err.message}`));
  const port = (server.address() as net.AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    url: urlOf(opts.host, port),
    port,
    server,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Event streams never end by themselves; idle keep-alive connections neither.
        for (const s of sockets) s.destroy();
      })),
  };
}

function refuse(res: http.ServerResponse): void {
  sendText(res, 401, 'unauthorized: give the token (Authorization: Bearer TOKEN, or open /?token=TOKEN once)', { 'WWW-Authenticate': 'Bearer' });
}
