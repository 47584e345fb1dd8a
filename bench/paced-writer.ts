/**
 * A writer at a steady rate, in a process of its own: one stream handed to
 * the daemon (source "paced"), LogHub's whole lines (the files interleaved a
 * line at a time) each with its `<N>` severity (leveled-corpus.ts), paced
 * from a 1 ms timer as the latency client is: every tick writes the lines due
 * since the start, at most 50 ms worth at once (after a stall).
 *
 * Usage: node paced-writer.js LOG_SOCKET RATE MS
 *
 * Prints {"ready":true} once the stream is handed over, starts on "go", and
 * prints {"done":true,"sent":N,"startAt":T,"endAt":T} after MS ms or on
 * "stop", whichever comes first (times: process.hrtime.bigint() as decimal
 * strings), then exits.
 */
import fs from 'node:fs';
import net from 'node:net';
import { sendFdsAsync, socketpair } from '../src/native.js';
import { corpusFiles, interleavedLines } from './corpus.js';
import { withLevel } from './leveled-corpus.js';

const [logSocket, rateArg, msArg] = process.argv.slice(2);
const RATE = Number(rateArg);
const MS = Number(msArg);
if (!logSocket || !(RATE > 0) || !(MS > 0)) {
  process.stderr.write('usage: paced-writer.js LOG_SOCKET RATE MS\n');
  process.exit(2);
}

const LINES = interleavedLines(corpusFiles(true)).map((l) => withLevel(l) + '\n');
let at = 0;

function report(msg: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(msg) + '\n');
}

const [mine, theirs] = socketpair();
await sendFdsAsync(logSocket, Buffer.from('paced'), [theirs]);
fs.closeSync(theirs);
const stream = new net.Socket({ fd: mine, readable: true, writable: true, allowHalfOpen: true });
stream.on('data', () => {});
stream.once('error', (err) => {
  process.stderr.write(`paced writer: ${err.message}\n`);
  process.exit(1);
});

let stop: () => void = () => process.exit(0);

function run(): void {
  const start = process.hrtime.bigint();
  const end = start + BigInt(MS) * 1_000_000n;
  let sent = 0;
  const finish = (now: bigint): void => {
    clearInterval(timer);
    report({ done: true, sent, startAt: String(start), endAt: String(now) });
    stream.end();
    setTimeout(() => process.exit(0), 100);
  };
  const timer = setInterval(() => {
    const now = process.hrtime.bigint();
    if (now >= end) {
      finish(now);
      return;
    }
    const due = Math.min(Math.floor((RATE * Number(now - start)) / 1e9) - sent, Math.ceil(RATE / 20));
    if (due <= 0) return;
    const parts: string[] = [];
    for (let i = 0; i < due; i++, at = (at + 1) % LINES.length) parts.push(LINES[at]);
    stream.write(parts.join(''));
    sent += due;
  }, 1);
  stop = () => finish(process.hrtime.bigint());
}

let started = false;
process.stdin.setEncoding('utf8');
process.stdin.on('data', (s: string) => {
  if (s.includes('stop')) stop();
  else if (!started && s.includes('go')) {
    started = true;
    run();
  }
});
process.stdin.on('end', () => process.exit(0));
report({ ready: true });
