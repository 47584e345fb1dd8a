/**
 * `memlog web [-listen ADDR] [-socket PATH] [-log-dir DIR] [-token TOKEN]`:
 * the live log page, its HTTP API and Prometheus metrics (src/web/). Prints
 * one line once listening, `memlog web: http://HOST:PORT/`, then serves until
 * SIGINT or SIGTERM (exit 0, every connection closed).
 */
import fs from 'node:fs';
import { DEFAULT_QUERY_SOCKET } from '../protocol/wire.js';
import { tokenProblem } from '../web/auth.js';
import { DEFAULT_LISTEN, isLoopback, ListenAddressError, parseListen } from '../web/listen-address.js';
import { startWebServer } from '../web/server.js';
import { InvalidValueError, parseCommandLine, UsageError, type FlagSpecs } from './flags.js';

export const WEB_FLAGS = {
  listen: { type: 'string', arg: 'ADDR', default: DEFAULT_LISTEN, help: 'address to listen on: HOST:PORT or [IPV6]:PORT (port 0: a free one); other than loopback needs -token' },
  socket: { type: 'string', arg: 'PATH', default: DEFAULT_QUERY_SOCKET, help: "memlogd's query socket" },
  'log-dir': { type: 'string', arg: 'DIR', help: "the persister's directory: /api/entries also reads its files (as logread -log-dir)" },
  token: { type: 'string', arg: 'TOKEN', help: 'every request must carry it (Authorization: Bearer TOKEN, or the cookie /?token=TOKEN sets); required off loopback' },
} satisfies FlagSpecs;

export const WEB_SYNOPSIS = 'memlog web [-listen ADDR] [-socket PATH] [-log-dir DIR] [-token TOKEN]';

export async function webMain(argv: string[], synopsis = WEB_SYNOPSIS): Promise<number> {
  const parsed = parseCommandLine(argv, WEB_FLAGS, synopsis);
  if (!parsed) return 0;
  const { values, rest } = parsed;
  if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
  const listenText = values.listen ?? DEFAULT_LISTEN;
  let listen;
  try {
    listen = parseListen(listenText);
  } catch (err) {
    if (err instanceof ListenAddressError) throw new InvalidValueError('listen', listenText, err.message);
    throw err;
  }
  const token = values.token;
  if (token !== undefined) {
    const problem = tokenProblem(token);
    // One line, as any bad value, but without the value: a secret is not for logs.
    if (problem !== undefined) throw Object.assign(new InvalidValueError('token', token, problem), { message: `invalid value for flag -token: ${problem}` });
  } else if (!isLoopback(listen.host)) {
    throw new InvalidValueError('listen', listenText, 'not a loopback address: anyone who can reach it could read every log, so give -token TOKEN too');
  }
  const logDir = values['log-dir'];
  if (logDir !== undefined) {
    let isDir = false;
    try {
      isDir = fs.statSync(logDir).isDirectory();
    } catch {
      // Told below.
    }
    if (!isDir) throw new InvalidValueError('log-dir', logDir, 'not a directory');
  }
  const web = await startWebServer({ host: listen.host, port: listen.port, socket: values.socket ?? DEFAULT_QUERY_SOCKET, logDir, token });
  process.stdout.write(`memlog web: ${web.url}\n`);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  void signal;
  await web.close();
  return 0;
}
