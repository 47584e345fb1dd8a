/** Delivery to query readers, with sockets standing in for clients that take everything at once. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { Ring } from '../src/ring/ring.js';
import { SourceTable } from '../src/ring/sources.js';
import { Delivery } from '../src/outputs/delivery.js';
import { Reader } from '../src/outputs/reader.js';
import { encodeOwnEntry } from '../src/outputs/entry-encoder.js';
import { waitFor } from './helpers.js';

/** A client whose socket buffer always has room: every write goes out at once, so no 'drain' ever comes. */
class RoomySocket extends EventEmitter {
  writableLength = 0;
  bytes = 0;
  ended = false;
  write(buf: Buffer): boolean {
    this.bytes += buf.length;
    return true;
  }
  end(): void {
    this.ended = true;
    this.emit('finish');
  }
  destroy(): void {
    this.emit('close');
  }
}

test('a dump whose last batch ends a turn is still closed, though its socket never asks for more', async () => {
  // Up to three turns of 4 batches of 256 KiB (about 1,640 entries each): some of these counts end on a turn's last batch.
  for (let count = 1000; count <= 20_000; count += 500) {
    const ring = new Ring({ maxLines: 20_000, maxBytes: 8 << 20, maxLineLen: 1024 }, new SourceTable());
    const id = ring.sources.acquire('svc').id;
    const line = Buffer.from('x'.repeat(100));
    for (let i = 0; i < count; i++) ring.append(id, 1, 0, line, 0, line.length);
    const delivery = new Delivery(ring, { maxLineLen: 1024, ownLine: (msg) => encodeOwnEntry(1, 0, 'memlogd', msg) });
    const socket = new RoomySocket();
    delivery.add(new Reader(socket as unknown as net.Socket, ring.first, ring.next));
    await waitFor(`the dump of ${count} entries to be closed`, () => socket.ended, 10_000);
    assert.ok(socket.bytes > count * 100);
  }
});
