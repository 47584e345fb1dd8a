/**
 * A writer for the tests: hands memlogd the read end of a socketpair named
 * NAME and writes LINES lines of LEN bytes as fast as it takes them.
 * Usage: node flood-writer.js LOG_SOCKET NAME LINES LEN
 */
import fs from 'node:fs';
import { sendFdsAsync, socketpair } from '../src/native.js';

const [logSocket, name, linesArg, lenArg] = process.argv.slice(2);
const lines = Number(linesArg);
const len = Number(lenArg);
const [mine, theirs] = socketpair();
await sendFdsAsync(logSocket, Buffer.from(name), [theirs]);
fs.closeSync(theirs);
const line = Buffer.alloc(len, 0x66);
line[len - 1] = 10;
const perBlock = Math.max(1, Math.floor(65536 / len));
const block = Buffer.concat(Array.from({ length: perBlock }, () => line));
for (let left = lines; left > 0; left -= perBlock) {
  const bytes = Math.min(left, perBlock) * len;
  for (let off = 0; off < bytes; ) off += fs.writeSync(mine, block, off, bytes - off);
}
fs.closeSync(mine);
