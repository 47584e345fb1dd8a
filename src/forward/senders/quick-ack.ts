/**
 * Quick acknowledgements on a TCP connection whose peer answers in small
 * packets: after each read, TCP_QUICKACK, so that the peer's next answer is
 * not held back by Nagle's algorithm waiting for our delayed ack (40 ms on
 * Linux). Node has no API for it: the addon sets it on the socket's fd. The
 * fd comes from Node's handle, which has no public accessor; without one
 * (another platform, a future Node), nothing is done and only speed suffers.
 */
import type net from 'node:net';
import { tcpQuickAck } from '../../native.js';

/** The TCP fd under a net.Socket, or under the socket a TLSSocket wraps; -1 when it cannot be had. */
function fdOf(socket: net.Socket): number {
  // Reason for the cast: _handle (and its fd) are Node internals with no public type.
  const handle = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle;
  const fd = handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : -1;
}

/** Sets TCP_QUICKACK on tcp after every chunk reader reads (reader: tcp itself, or the TLSSocket over it). */
export function quickAcks(reader: net.Socket, tcp: net.Socket): void {
  let failed = false;
  reader.on('data', () => {
    if (failed) return;
    const fd = fdOf(tcp);
    if (fd < 0) return;
    try {
      tcpQuickAck(fd);
    } catch {
      failed = true; // not a TCP socket after all: leave it be
    }
  });
}
