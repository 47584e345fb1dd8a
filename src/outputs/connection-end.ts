/** How the query socket ends connections: after the last answer, or refused before the request. */
import type net from 'node:net';

/**
 * Ends a connection the daemon has finished with: the last bytes go out, then
 * our side closes at once, whether or not the client has closed its own. (With
 * half-open connections, end() alone would keep the fd until the client hangs up.)
 */
export function answerAndClose(socket: net.Socket, last?: Buffer | string): void {
  socket.once('finish', () => socket.destroy());
  if (last === undefined) socket.end();
  else socket.end(last);
}

/** How long a refused client has to send its request before its connection closes anyway. */
const REFUSAL_GRACE_MS = 1000;

/**
 * Refuses a connection before its request: the answer goes out at once, and
 * the connection closes once the client's request has come (closing with it
 * unread would reset the connection, and the client could lose the answer or
 * fail writing its mode byte) or the client hangs up, within a second anyway.
 */
export function refuse(socket: net.Socket, answer: Buffer): void {
  let waiting = 2; // the answer written, the client heard from
  const done = (): void => {
    if (--waiting === 0) socket.destroy();
  };
  let heard = false;
  const onHeard = (): void => {
    if (heard) return;
    heard = true;
    done();
  };
  socket.on('data', onHeard);
  socket.once('end', onHeard);
  socket.once('finish', done);
  socket.setTimeout(REFUSAL_GRACE_MS, () => socket.destroy());
  socket.end(answer);
}
