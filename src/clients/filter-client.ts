/**
 * Client side of query mode 5 (src/protocol/filter-request.ts): send a filter,
 * get a hello and the matching entries. A daemon that cannot filter is told
 * apart and the connection made again in plain mode, for the caller to filter
 * on its side: an upstream memlogd says nothing to byte 5 (silence for
 * helloTimeoutMs), one of ours from before mode 5 refuses it as an unknown
 * mode byte at once.
 */
import type net from 'node:net';
import { encodeFilterRequest, type FilterRequest } from '../protocol/filter-request.js';
import { isHello, MAX_HELLO, parseAnswer, type Hello } from '../protocol/wire.js';
import { connectQuery, firstLine } from './query-client.js';

export interface FilterConnection {
  socket: net.Socket;
  /**
   * The daemon's hello; undefined when it cannot filter: the socket is then a
   * plain connection in the request's mode (0, 1 or 2), its entries unfiltered.
   */
  hello: Hello | undefined;
  /** Bytes that came with the hello, to be read as the start of the stream. */
  rest: Buffer;
}

/** Rejects with a ConnectError when nothing listens, and with an Error when the daemon refuses the request. */
export async function connectFilter(path: string, request: FilterRequest, helloTimeoutMs = 2000): Promise<FilterConnection> {
  const socket = await connectQuery(path, encodeFilterRequest(request));
  const answer = await firstLine(socket, path, 'the filter request', MAX_HELLO, helloTimeoutMs);
  if (answer instanceof Error) {
    socket.destroy();
    throw answer;
  }
  if (answer !== 'silent') {
    const parsed = parseAnswer(answer.line);
    if (!('refused' in parsed) && isHello(parsed.memlogd)) return { socket, hello: parsed.memlogd, rest: answer.rest };
    socket.destroy();
    const why = 'refused' in parsed ? parsed.refused : 'an answer that is not a hello';
    if (!/unknown query mode byte/.test(why)) throw new Error(`${path} refused the filter request: ${why}`);
  } else {
    socket.destroy();
  }
  return { socket: await connectQuery(path, request.mode), hello: undefined, rest: Buffer.alloc(0) };
}
