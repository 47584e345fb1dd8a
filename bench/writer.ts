/**
 * A bench writer: hands memlogd the read end of a socketpair, waits for "go"
 * on stdin, writes LINES lines of LEN bytes as fast as the pipe takes them, exits.
 * Usage: node writer.js LOG_SOCKET NAME LINES LEN
 */
import fs from 'node:fs';
import { sendFds, socketpair } from '../src/native.js';

const [logSocket, name, linesArg, lenArg] = process.argv.slice(2);
const lines = Number(linesArg);
const len = Number(lenArg);

const [mine, theirs] = socketpair();
sendFds(logSocket, Buffer.from(name), [theirs]);
fs.closeSync(theirs);

// One block of whole lines, written again and again: the writer costs next to nothing.
const perBlock = Math.max(1, Math.floor(65536 / len));
const line = Buffer.alloc(len, 0x61);
line[len - 1] = 10;
const block = Buffer.concat(Array.from({ length: perBlock }, () => line));

process.stdout.write('ready\n');
process.stdin.once('data', () => {
  let left = lines;
  while (left > 0) {
    const n = Math.min(left, perBlock);
    const bytes = n * len;
    let off = 0;
    while (off < bytes) off += fs.writeSync(mine, block, off, bytes - off);
    left -= n;
  }
  fs.closeSync(mine);
  process.exit(0);
});
