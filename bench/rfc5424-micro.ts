/**
 * Micro-benchmark of the RFC 5424 encoder (not part of the test suite):
 * 1M realistic entries (a few sources, pids, seq counting up, times a few
 * µs apart, mostly ASCII messages of 40-200 bytes, some UTF-8, a few with
 * sender SD), encoded in batches of 1000 with octet counting, and one at a
 * time. Prints ns per entry for each, and for scale what JSON.parse of
 * the same entries' query-socket lines costs on this machine (the forwarder
 * pays that too, per entry).
 *
 *   npx tsc -p tsconfig.json && node dist/bench/rfc5424-micro.js
 */
import type { ForwardEntry } from '../src/forward/entry.js';
import { formatOctetCounted, formatRfc5424 } from '../src/forward/rfc5424.js';

const N = 1_000_000;
const BATCH = 1000;
const SOURCES = ['kernel', 'sshd', 'containerd', 'memlogd', 'dhcpcd', 'getty', 'ntpd', 'onboot.001-sysctl'];
const WORDS = ['connection', 'from', 'accepted', 'closed', 'port', 'user', 'session', 'opened', 'for', 'eth0:', 'lease', 'renewed', 'déjà', '✓', '10.0.0.17', 'ok'];

let seed = 12345;
const rand = (n: number): number => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed % n;
};
let sec = 1_717_000_000;
let nsec = 0;
let seq = 1_000_000;

/** The next batch of entries, made fresh as the forwarder would have just parsed them (so in the CPU's caches). */
function makeEntries(): ForwardEntry[] {
  const entries: ForwardEntry[] = [];
  for (let i = 0; i < BATCH; i++) {
    nsec += 1000 + rand(20000);
    if (nsec >= 1e9) {
      sec++;
      nsec -= 1e9;
    }
    const words: string[] = [];
    const n = 5 + rand(25);
    for (let w = 0; w < n; w++) words.push(WORDS[rand(WORDS.length)]);
    const e: ForwardEntry = { time: '', sec, nsec, source: SOURCES[rand(SOURCES.length)], msg: words.join(' '), daemon: 'c0ffee00-1234', seq: seq++ };
    if (rand(4) !== 0) e.pid = 100 + rand(3000);
    if (rand(3) === 0) {
      e.severity = rand(8);
      e.facility = rand(24);
    }
    if (rand(50) === 0) {
      e.msgid = 'ID47';
      e.sd = '[exampleSDID@32473 iut="3" eventSource="Application"]';
    }
    entries.push(e);
  }
  return entries;
}

const opts = { hostname: 'appliance-01.example.net', facility: 1 };

/**
 * Times the work over N entries, BATCH at a time: prepare (untimed) gets a
 * fresh batch and returns the work to time. The best of three runs after a
 * warm-up one.
 */
function run(label: string, prepare: (batch: ForwardEntry[]) => () => number): void {
  let best = Infinity;
  let bytes = 0;
  for (let r = 0; r < 4; r++) {
    let ns = 0;
    bytes = 0;
    for (let i = 0; i < N; i += BATCH) {
      const work = prepare(makeEntries());
      const t0 = process.hrtime.bigint();
      bytes += work();
      ns += Number(process.hrtime.bigint() - t0);
    }
    if (r > 0) best = Math.min(best, ns);
  }
  console.log(`${label}: ${(best / N).toFixed(0)} ns/entry (${(bytes / N).toFixed(0)} bytes/entry)`);
}

run(`formatOctetCounted, batches of ${BATCH}`, (batch) => () => formatOctetCounted(batch, opts).length);

run('formatRfc5424, one at a time', (batch) => () => {
  let bytes = 0;
  for (const e of batch) bytes += formatRfc5424(e, opts).length;
  return bytes;
});

run('for scale: JSON.parse of the same entries as memlogd sends them', (batch) => {
  const lines = batch.map((e) => JSON.stringify({ time: '2024-05-29T16:26:40.123456789Z', source: e.source, msg: e.msg, seq: e.seq, pid: e.pid, severity: e.severity, facility: e.facility }));
  return () => {
    // The bytes parsed (byteLength's cost is small next to JSON.parse's).
    let n = 0;
    for (const line of lines) if ((JSON.parse(line) as { msg: string }).msg !== undefined) n += Buffer.byteLength(line);
    return n;
  };
});
