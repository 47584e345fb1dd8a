/**
 * A bench writer process, speaking only the log socket's protocol.
 *
 * Usage: node writer.js LOG_SOCKET NAME_PREFIX STREAMS LINES_PER_STREAM LEN
 *
 * For each of STREAMS streams, makes a socketpair and hands the read end to
 * the daemon (one datagram, payload NAME_PREFIX<i>, SCM_RIGHTS), then prints
 * {"ready":true} and waits for "go" on stdin. Then writes LINES_PER_STREAM
 * lines of LEN bytes (newline included) to each stream as fast as the daemon
 * takes them, shuts down its sending side (SHUT_WR) and waits for EOF, which
 * comes when the daemon has read everything and closed its end. Prints
 * {"writtenAt":T,"eofAt":T,"cpuMicros":N} (process.hrtime.bigint() of the last write and
 * the last EOF, as decimal strings) with the CPU time it used since "go",
 * and exits.
 *
 * One stream: a blocking fs.writeSync loop, the cheapest writer there is.
 * Several streams (the 256-writer runs put 16 in each process): non-blocking
 * writes through net.Socket, each stream waiting for its own 'drain', so a
 * slow stream never holds up the others.
 *
 * It exits at once if its stdin closes before "go" (the bench has gone).
 */
import fs from 'node:fs';
import net from 'node:net';
import { sendFdsAsync, socketpair } from '../src/native.js';

const [logSocket, prefix, streamsArg, linesArg, lenArg] = process.argv.slice(2);
const STREAMS = Number(streamsArg);
const LINES = Number(linesArg);
const LEN = Number(lenArg);
if (!logSocket || !(STREAMS >= 1) || !(LINES >= 0) || !(LEN >= 2)) {
  process.stderr.write('usage: writer.js LOG_SOCKET NAME_PREFIX STREAMS LINES_PER_STREAM LEN\n');
  process.exit(2);
}

// One block of whole lines (at most 64 KiB), written again and again: the writer costs next to nothing.
const PER_BLOCK = Math.max(1, Math.floor(65536 / LEN));
const line = Buffer.alloc(LEN, 0x61);
line[LEN - 1] = 10;
const block = Buffer.concat(Array.from({ length: PER_BLOCK }, () => line));

const mine: number[] = [];
for (let i = 0; i < STREAMS; i++) {
  const [ours, theirs] = socketpair();
  await sendFdsAsync(logSocket, Buffer.from(`${prefix}${i}`), [theirs]);
  fs.closeSync(theirs);
  mine.push(ours);
}

function report(msg: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(msg) + '\n');
}

/** Shuts down our sending side and resolves at EOF (the daemon has read everything and closed its end). */
function endAndWaitEof(socket: net.Socket): Promise<bigint> {
  return new Promise<bigint>((resolve, reject) => {
    socket.on('data', () => {}); // nothing is expected, but reading is what sees EOF
    socket.once('end', () => resolve(process.hrtime.bigint()));
    socket.once('error', reject);
    socket.end();
  });
}

function wrap(fd: number): net.Socket {
  return new net.Socket({ fd, readable: true, writable: true, allowHalfOpen: true });
}

async function writeOne(fd: number): Promise<{ writtenAt: bigint; eofAt: bigint }> {
  let left = LINES;
  while (left > 0) {
    const n = Math.min(left, PER_BLOCK);
    const bytes = n * LEN;
    let off = 0;
    while (off < bytes) off += fs.writeSync(fd, block, off, bytes - off);
    left -= n;
  }
  const writtenAt = process.hrtime.bigint();
  const eofAt = await endAndWaitEof(wrap(fd));
  return { writtenAt, eofAt };
}

async function writeMany(fds: number[]): Promise<{ writtenAt: bigint; eofAt: bigint }> {
  const results = await Promise.all(
    fds.map(async (fd) => {
      const socket = wrap(fd);
      let left = LINES;
      while (left > 0) {
        const n = Math.min(left, PER_BLOCK);
        left -= n;
        const ok = socket.write(n === PER_BLOCK ? block : block.subarray(0, n * LEN));
        if (!ok) {
          await new Promise<void>((resolve, reject) => {
            const onError = (err: Error): void => reject(err);
            socket.once('error', onError);
            socket.once('drain', () => {
              socket.off('error', onError);
              resolve();
            });
          });
        }
      }
      // Everything handed to the kernel: the write queue is empty.
      if (socket.writableLength > 0) await new Promise<void>((r) => socket.once('drain', () => r()));
      const writtenAt = process.hrtime.bigint();
      const eofAt = await endAndWaitEof(socket);
      return { writtenAt, eofAt };
    }),
  );
  const max = (a: bigint, b: bigint): bigint => (a > b ? a : b);
  return {
    writtenAt: results.map((r) => r.writtenAt).reduce(max),
    eofAt: results.map((r) => r.eofAt).reduce(max),
  };
}

let started = false;
process.stdin.setEncoding('utf8');
process.stdin.on('data', (s: string) => {
  if (started || !s.includes('go')) return;
  started = true;
  const cpu0 = process.cpuUsage();
  const run = STREAMS === 1 ? writeOne(mine[0]) : writeMany(mine);
  run.then(
    ({ writtenAt, eofAt }) => {
      const cpu = process.cpuUsage(cpu0);
      report({ writtenAt: String(writtenAt), eofAt: String(eofAt), lines: LINES * STREAMS, cpuMicros: cpu.user + cpu.system });
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`writer ${prefix}: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
});
process.stdin.on('end', () => {
  if (!started) process.exit(0);
});

report({ ready: true, streams: STREAMS });
