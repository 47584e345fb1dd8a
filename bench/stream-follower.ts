/**
 * A bench follower of memlog web's /api/follow (Server-Sent Events), of
 * `logread -f -o json`, or of memlogd's query socket itself (mode 1: the
 * JSON lines the web server relays), in a process of its own, counting what
 * it gets as it comes.
 *
 * Usage: node stream-follower.js sse URL         (URL: http://HOST:PORT/api/follow)
 *        node stream-follower.js logread QUERY_SOCKET
 *        node stream-follower.js memlogd QUERY_SOCKET
 *
 * sse: one GET, no agent; the stream is cut into lines chunk by chunk (a
 * line cut by a read is carried to the next), and each line is read by its
 * field: `id:` counts an entry; `event: lost` makes the next `data:` a loss
 * marker, whose "lost":{"count":N} is summed; a blank line ends an event.
 * {"ready":true} once the hello event has come (the server follows memlogd).
 * logread: bin/logread -socket QUERY_SOCKET -f -o json, its stdout counted
 * line by line; a line with "lost":{...} is a loss marker, summed the same
 * way; its pid is in {"ready":true,"pid":N} (the bench waits for memlogd to
 * count one more query client: logread itself says nothing when it is in).
 * memlogd: the same counting of the daemon's own lines, {"ready":true} once
 * the mode byte is written.
 *
 * Then its counts every 100 ms while they change; on "stop" (or stdin's
 * end) {"final":true,...}, and it exits. Times are process.hrtime.bigint()
 * as decimal strings (CLOCK_MONOTONIC, the same in every process).
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const [kind, target] = process.argv.slice(2);
if ((kind !== 'sse' && kind !== 'logread' && kind !== 'memlogd') || !target) {
  process.stderr.write('usage: stream-follower.js sse URL | logread QUERY_SOCKET | memlogd QUERY_SOCKET\n');
  process.exit(2);
}

const LOST_COUNT = /"lost":\{[^\n]*?"count":(\d+)/;

let entries = 0;
let markers = 0;
let lostByMarkers = 0;
/** Other events or lines (hello, skipped, memlogd's notices). */
let others = 0;
let bytes = 0;
let firstAt = 0n;
let lastAt = 0n;
let carry: Buffer = Buffer.alloc(0);
/** sse: the current event's type ('' = message). */
let eventType = '';

function report(msg: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(msg) + '\n');
}

function counts(): Record<string, unknown> {
  return { entries, markers, lostByMarkers, others, bytes, firstAt: String(firstAt), lastAt: String(lastAt) };
}

function marker(text: string): void {
  markers++;
  const m = LOST_COUNT.exec(text);
  if (m) lostByMarkers += Number(m[1]);
}

const C_I = 0x69; // i
const C_D = 0x64; // d
const C_E = 0x65; // e

/** One line of the event stream (no newline). */
function sseLine(line: Buffer): void {
  if (line.length === 0) {
    eventType = '';
    return;
  }
  const c = line[0];
  if (c === C_I) {
    // id: <seq> — only entries carry one.
    entries++;
  } else if (c === C_E) {
    eventType = line.toString('latin1', 6).trim();
  } else if (c === C_D) {
    if (eventType === '') return; // an entry's data: counted by its id
    const text = line.toString('utf8', 5);
    if (eventType === 'lost') marker(text);
    else if (eventType === 'hello') {
      others++;
      report({ ready: true, hello: text.trim() });
    } else others++;
  }
  // retry:, comments (": keepalive"): nothing to count.
}

const LOST_KEY = Buffer.from('"lost":{');
const SEQ_KEY = Buffer.from('"seq":');

/** One JSON line (logread -o json, or memlogd's): an entry has a seq, a loss marker a "lost" (memlogd's own notices neither). */
function jsonLine(line: Buffer): void {
  if (line.includes(SEQ_KEY)) entries++;
  else if (line.includes(LOST_KEY)) marker(line.toString('utf8'));
  else others++;
}

function onChunk(chunk: Buffer, line: (l: Buffer) => void): void {
  const now = process.hrtime.bigint();
  if (firstAt === 0n) firstAt = now;
  lastAt = now;
  bytes += chunk.length;
  const data = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
  let start = 0;
  for (let nl = data.indexOf(10); nl >= 0; nl = data.indexOf(10, start)) {
    // SSE allows CRLF; the server sends LF, but a CR is dropped all the same.
    const end = nl > start && data[nl - 1] === 13 ? nl - 1 : nl;
    line(data.subarray(start, end));
    start = nl + 1;
  }
  carry = start < data.length ? Buffer.from(data.subarray(start)) : Buffer.alloc(0);
}

function fail(msg: string): never {
  process.stderr.write(`stream-follower: ${msg}\n`);
  process.exit(1);
}

let finishing = false;
function finish(): void {
  if (finishing) return;
  finishing = true;
  const cpu = process.cpuUsage();
  report({ final: true, ...counts(), cpuMicros: cpu.user + cpu.system });
  process.exit(0);
}

if (kind === 'sse') {
  const req = http.get(target, { agent: false, headers: { accept: 'text/event-stream' } }, (res) => {
    if (res.statusCode !== 200) fail(`GET ${target}: ${res.statusCode}`);
    res.on('data', (d: Buffer) => onChunk(d, sseLine));
    res.once('end', () => report({ ended: true, ...counts() }));
    res.once('error', (e) => fail(e.message));
  });
  req.once('error', (e) => fail(e.message));
} else if (kind === 'memlogd') {
  const socket = net.connect(target);
  socket.on('data', (d: Buffer) => onChunk(d, jsonLine));
  socket.once('connect', () => {
    socket.write(Buffer.from([1]));
    report({ ready: true });
  });
  socket.once('error', (e) => fail(e.message));
  socket.once('end', () => report({ ended: true, ...counts() }));
} else {
  const logread = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/logread');
  const child = spawn(process.execPath, [logread, '-socket', target, '-f', '-o', 'json'], { stdio: ['ignore', 'pipe', 'inherit'] });
  child.stdout.on('data', (d: Buffer) => onChunk(d, jsonLine));
  child.once('error', (e) => fail(`cannot run logread: ${e.message}`));
  child.once('exit', (code, signal) => {
    if (!finishing) report({ ended: true, code, signal, ...counts() });
  });
  process.once('exit', () => child.kill('SIGKILL'));
  child.once('spawn', () => report({ ready: true, pid: child.pid }));
}

let last = -1;
setInterval(() => {
  if (bytes === last) return;
  last = bytes;
  report({ status: true, ...counts() });
}, 100);

process.stdin.setEncoding('utf8');
process.stdin.on('data', (s: string) => {
  if (s.includes('stop')) finish();
});
process.stdin.on('end', finish);
