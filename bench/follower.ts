/**
 * A bench reader of the query socket, speaking only its protocol: one mode
 * byte, then JSON lines. It reads as fast as it can into one reused buffer
 * and counts newlines; lines containing "source":"memlogd" (the daemon's own
 * entries, loss markers among them) are counted apart, and the "count" of
 * each loss marker ("lost":{...,"count":N,...}) is summed.
 *
 * Usage: node follower.js QUERY_SOCKET MODE EXPECTED
 *
 * MODE 1 or 2 (follow): connects at once and prints {"ready":true} once the
 * mode byte is written. Prints its counts every 100 ms while they change, and
 * {"done":true,...} as soon as it has EXPECTED lines from other sources.
 * MODE 0 (dump): prints {"ready":true}, connects on "go", and reports when
 * the daemon ends the stream.
 * On "stop" (or when stdin closes) it prints {"final":true,...} with the CPU
 * time it spent since it connected, and exits. Times are process.hrtime.bigint() as decimal strings.
 */
import net from 'node:net';

const [querySocket, modeArg, expectedArg] = process.argv.slice(2);
const MODE = Number(modeArg);
const EXPECTED = Number(expectedArg ?? 0);
if (!querySocket || ![0, 1, 2].includes(MODE)) {
  process.stderr.write('usage: follower.js QUERY_SOCKET MODE(0|1|2) EXPECTED\n');
  process.exit(2);
}

const MEMLOGD = Buffer.from('"source":"memlogd"');
const LOST_COUNT = /"lost":\{[^\n]*?"count":(\d+)/;

let newlines = 0;
let memlogd = 0;
let lostByMarkers = 0;
let bytes = 0;
let firstAt = 0n;
let lastAt = 0n;
let connectAt = 0n;
let endAt = 0n;
/** The last bytes of the previous read, for a pattern cut in two by a read. */
let tail: Buffer = Buffer.alloc(0);
/** A memlogd line cut by the end of a read: its start, until its newline arrives. */
let pendingMarker: Buffer | undefined;
let doneSent = false;
/** CPU time used before reading started (start-up), left out of the report. */
let cpuAtStart = 0;

function report(msg: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(msg) + '\n');
}

function counts(): Record<string, unknown> {
  return {
    lines: newlines - memlogd,
    memlogd,
    lostByMarkers,
    bytes,
    firstAt: String(firstAt),
    lastAt: String(lastAt),
  };
}

function markerLine(line: Buffer): void {
  const m = LOST_COUNT.exec(line.toString('latin1'));
  if (m) lostByMarkers += Number(m[1]);
}

function onChunk(chunk: Buffer): void {
  const now = process.hrtime.bigint();
  if (firstAt === 0n) firstAt = now;
  lastAt = now;
  bytes += chunk.length;
  if (pendingMarker) {
    const nl = chunk.indexOf(10);
    if (nl < 0) pendingMarker = Buffer.concat([pendingMarker, chunk]);
    else {
      markerLine(Buffer.concat([pendingMarker, chunk.subarray(0, nl)]));
      pendingMarker = undefined;
    }
  }
  for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) newlines++;
  // The pattern cut in two by the previous read.
  if (tail.length > 0) {
    const joined = Buffer.concat([tail, chunk.subarray(0, MEMLOGD.length - 1)]);
    const at = joined.indexOf(MEMLOGD);
    if (at >= 0) {
      memlogd++;
      const head = joined.subarray(at, tail.length); // the part that came in the previous read
      const nl = chunk.indexOf(10);
      if (nl >= 0) markerLine(Buffer.concat([head, chunk.subarray(0, nl)]));
      else pendingMarker = Buffer.concat([head, chunk]);
    }
  }
  for (let at = chunk.indexOf(MEMLOGD); at >= 0; at = chunk.indexOf(MEMLOGD, at + MEMLOGD.length)) {
    memlogd++;
    const nl = chunk.indexOf(10, at);
    if (nl >= 0) markerLine(chunk.subarray(at, nl));
    else pendingMarker = Buffer.from(chunk.subarray(at));
  }
  tail = Buffer.from(chunk.subarray(Math.max(0, chunk.length - (MEMLOGD.length - 1))));
  if (!doneSent && EXPECTED > 0 && newlines - memlogd >= EXPECTED && MODE !== 0) {
    doneSent = true;
    report({ done: true, ...counts() });
  }
}

const readBuffer = Buffer.allocUnsafe(1024 * 1024);

function connect(): net.Socket {
  const c = process.cpuUsage();
  cpuAtStart = c.user + c.system;
  connectAt = process.hrtime.bigint();
  const socket = net.connect({
    path: querySocket,
    onread: {
      buffer: readBuffer,
      callback: (n: number, buf: Uint8Array): boolean => {
        onChunk((buf as Buffer).subarray(0, n));
        return true;
      },
    },
  });
  socket.once('connect', () => {
    socket.write(Buffer.from([MODE]));
    if (MODE !== 0) report({ ready: true });
  });
  socket.once('end', () => {
    endAt = process.hrtime.bigint();
    if (MODE === 0) finish();
  });
  socket.once('error', (err) => {
    process.stderr.write(`follower: ${err.message}\n`);
    process.exit(1);
  });
  return socket;
}

function finish(): void {
  const cpu = process.cpuUsage();
  report({ final: true, ...counts(), connectAt: String(connectAt), endAt: String(endAt), cpuMicros: cpu.user + cpu.system - cpuAtStart });
  process.exit(0);
}

if (MODE === 0) report({ ready: true });
else {
  connect();
  let last = -1;
  setInterval(() => {
    if (newlines + bytes === last) return;
    last = newlines + bytes;
    report({ status: true, ...counts() });
  }, 100);
}

process.stdin.setEncoding('utf8');
process.stdin.on('data', (s: string) => {
  if (s.includes('go') && MODE === 0 && connectAt === 0n) connect();
  if (s.includes('stop')) finish();
});
process.stdin.on('end', finish);
