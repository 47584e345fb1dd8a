/**
 * Write-to-follower latency, in one process (one clock): a writer stream
 * handed to the daemon, and a follower (mode 1) on the query socket.
 *
 * Usage: node latency-client.js LOG_SOCKET QUERY_SOCKET RATES WARMUP_MS MEASURE_MS LEN [loghub]
 *   (RATES: lines per second, comma separated, run one after the other)
 *
 * For each rate, a 1 ms timer writes the lines due since the start (small
 * batches), each line beginning with its send time (process.hrtime.bigint()
 * less this process's start, in ns, taken just before the write) and padded
 * to LEN bytes (with `loghub`: followed by a space and the next whole line
 * of the LogHub corpus instead, the files interleaved line by line; LEN
 * unused). The follower parses that time out of each line's msg and
 * takes the difference to the time the line's chunk arrived. Lines sent in
 * the first WARMUP_MS are not counted; then MEASURE_MS are. Prints one JSON
 * line: {"rates":[{"rate","sent","received","memlogd","p50Ms","p99Ms","maxMs","achievedRate"}]}.
 */
import fs from 'node:fs';
import net from 'node:net';
import { sendFdsAsync, socketpair } from '../src/native.js';
import { corpusFiles, interleavedLines } from './corpus.js';

const [logSocket, querySocket, ratesArg, warmupArg, measureArg, lenArg, textArg] = process.argv.slice(2);
const RATES = (ratesArg ?? '').split(',').map(Number);
const WARMUP_NS = Number(warmupArg) * 1e6;
const MEASURE_NS = Number(measureArg) * 1e6;
const LEN = Number(lenArg);
if (!logSocket || !querySocket || RATES.some((r) => !(r > 0)) || !(LEN >= 24) || (textArg !== undefined && textArg !== 'loghub')) {
  process.stderr.write('usage: latency-client.js LOG_SOCKET QUERY_SOCKET RATES WARMUP_MS MEASURE_MS LEN [loghub]\n');
  process.exit(2);
}
/** With loghub: the text after each line's stamp, taken in turn. */
const CORPUS = textArg === 'loghub' ? interleavedLines(corpusFiles(true)) : undefined;
let corpusAt = 0;
process.stdin.on('end', () => process.exit(0)); // the bench has gone
process.stdin.resume();

const BASE = process.hrtime.bigint();
const now = (): number => Number(process.hrtime.bigint() - BASE);

const MSG = Buffer.from('"msg":"');
const MEMLOGD = Buffer.from('"source":"memlogd"');

/** The window being measured: lines sent in [from, to) count. */
let windowFrom = Infinity;
let windowTo = -Infinity;
let latencies = new Float64Array(0);
let received = 0;
let memlogd = 0;
let carry: Buffer = Buffer.alloc(0);

function onLine(line: Buffer, at: number): void {
  const m = line.indexOf(MSG);
  if (m < 0) return;
  if (line.indexOf(MEMLOGD) >= 0) {
    memlogd++;
    return;
  }
  let t = 0;
  let i = m + MSG.length;
  for (; i < line.length; i++) {
    const c = line[i] - 48;
    if (c < 0 || c > 9) break;
    t = t * 10 + c;
  }
  if (i === m + MSG.length) return;
  if (t >= windowFrom && t < windowTo && received < latencies.length) latencies[received++] = at - t;
}

function onData(chunk: Buffer): void {
  const at = now();
  const data = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
  let start = 0;
  for (let nl = data.indexOf(10); nl >= 0; nl = data.indexOf(10, start)) {
    onLine(data.subarray(start, nl), at);
    start = nl + 1;
  }
  carry = Buffer.from(data.subarray(start));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main(): Promise<void> {
  const follower = net.connect(querySocket);
  follower.on('data', onData);
  follower.once('error', (err) => {
    process.stderr.write(`latency follower: ${err.message}\n`);
    process.exit(1);
  });
  await new Promise<void>((r) => follower.once('connect', () => r()));
  follower.write(Buffer.from([1]));

  const [mine, theirs] = socketpair();
  await sendFdsAsync(logSocket, Buffer.from('latency'), [theirs]);
  fs.closeSync(theirs);
  const writer = new net.Socket({ fd: mine, readable: true, writable: true, allowHalfOpen: true });
  writer.on('data', () => {});
  writer.once('error', (err) => {
    process.stderr.write(`latency writer: ${err.message}\n`);
    process.exit(1);
  });
  await sleep(200);

  const template = Buffer.alloc(LEN, 0x78);
  template[LEN - 1] = 10;
  const results: Record<string, number>[] = [];
  for (const rate of RATES) {
    const start = now();
    windowFrom = start + WARMUP_NS;
    windowTo = windowFrom + MEASURE_NS;
    latencies = new Float64Array(Math.ceil((rate * MEASURE_NS) / 1e9) + 1000);
    received = 0;
    memlogd = 0;
    let sent = 0;
    let sentInWindow = 0;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const t = now();
        if (t >= windowTo) {
          clearInterval(timer);
          resolve();
          return;
        }
        // Lines due since the start, at most 50 ms worth at once (after a stall).
        const due = Math.min(Math.floor((rate * (t - start)) / 1e9) - sent, Math.ceil(rate / 20));
        if (due <= 0) return;
        let sendTime: number;
        if (CORPUS) {
          sendTime = now();
          const parts: string[] = [];
          for (let i = 0; i < due; i++, corpusAt = (corpusAt + 1) % CORPUS.length) parts.push(`${sendTime} ${CORPUS[corpusAt]}\n`);
          writer.write(parts.join(''));
        } else {
          const batch = Buffer.allocUnsafe(due * LEN);
          for (let i = 0; i < due; i++) template.copy(batch, i * LEN);
          sendTime = now();
          const stamp = Buffer.from(`${sendTime} `);
          for (let i = 0; i < due; i++) stamp.copy(batch, i * LEN);
          writer.write(batch);
        }
        sent += due;
        if (sendTime >= windowFrom && sendTime < windowTo) sentInWindow += due;
      }, 1);
    });
    // Whatever is still on its way gets a second.
    const waitUntil = Date.now() + 1000;
    while (received < sentInWindow && Date.now() < waitUntil) await sleep(5);
    const sorted = latencies.slice(0, received).sort();
    results.push({
      rate,
      achievedRate: sentInWindow / (MEASURE_NS / 1e9),
      sent: sentInWindow,
      received,
      memlogd,
      p50Ms: percentile(sorted, 50) / 1e6,
      p99Ms: percentile(sorted, 99) / 1e6,
      maxMs: (sorted.length ? sorted[sorted.length - 1] : NaN) / 1e6,
    });
    await sleep(200);
  }
  process.stdout.write(JSON.stringify({ rates: results }) + '\n');
  writer.destroy();
  follower.destroy();
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`latency: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
