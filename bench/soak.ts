/**
 * npm run soak -- --minutes N: memlog under faults for N minutes (default 1).
 *
 * `memlog init` runs memlogd, logwrite (restarted when killed) and steady
 * writers that number their lines. Meanwhile, at random: memlogd and logwrite
 * are killed with -9, followers come and go, one follower stalls, a writer
 * floods without newlines. At the end, after an orderly shutdown, every
 * writer's file holds its lines in order, each at most once, and every gap is
 * next to a marker (a loss the ring reported, or a memlogd restart); the
 * fds and RSS of memlogd, the init and logwrite are within bounds. Prints the figures;
 * exits 1 if a check fails.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NODE = process.execPath;

export interface SoakResult {
  seconds: number;
  memlogdKills: number;
  logwriteKills: number;
  followersStarted: number;
  writers: { name: string; onDisk: number; printed: number; gaps: number; gapsWithoutMarker: number; duplicates: number; outOfOrder: number }[];
  memlogdFds: { start: number; end: number };
  memlogdRssMB: { start: number; end: number };
  initFds: { start: number; end: number };
  initRssMB: { start: number; end: number };
  logwriteFds: { start: number; end: number };
  failures: string[];
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function pidsOf(match: (cmd: string) => boolean, parent: number): number[] {
  const out: number[] = [];
  for (const p of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8');
      const ppid = fs.readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ')[1];
      if (Number(ppid) === parent && match(cmd)) out.push(Number(p));
    } catch {
      // gone
    }
  }
  return out;
}

function fdsOf(pid: number): number {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return -1;
  }
}

function rssMB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : -1;
  } catch {
    return -1;
  }
}

export async function soak(minutes: number, log: (line: string) => void = () => {}): Promise<SoakResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memlog-soak-'));
  const writers = ['w1', 'w2', 'w3'];
  const printed = (name: string): string => path.join(dir, `${name}.printed`);
  const config = `run-dir: ./run
log-dir: ./var/log
shutdown-grace: 3
memlogd:
  max-lines: 2000
services:
  - name: logwrite
    command: [${JSON.stringify(NODE)}, ${JSON.stringify(path.join(ROOT, 'bin/logwrite'))}, -socket, ./run/memlogdq.sock, -log-dir, ./var/log, -max-log-size, "200000", -max-log-files, "50"]
    restart: always
    restart-delay: 0.2
    stop: last
${writers
  .map(
    (w) => `  - name: ${w}
    command: [sh, -c, 'i=0; while :; do i=$((i+1)); echo "${w} $i"; echo $i > ${printed(w)}.tmp && mv ${printed(w)}.tmp ${printed(w)}; sleep 0.003; done']`,
  )
  .join('\n')}
  - name: flooder
    command: [sh, -c, 'while :; do head -c 300000 /dev/zero | tr "\\\\0" x; echo; sleep 0.5; done']
`;
  fs.writeFileSync(path.join(dir, 'soak.yml'), config);
  const init = spawn(NODE, [path.join(ROOT, 'bin/memlog'), 'init', 'soak.yml'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let initLog = '';
  init.stderr.on('data', (d: Buffer) => (initLog += d.toString()));
  const initPid = init.pid as number;
  const querySocket = path.join(dir, 'run/memlogdq.sock');
  const memlogdPid = (): number | undefined => pidsOf((c) => c.includes('-fd-query=4'), initPid)[0];
  const logwritePid = (): number | undefined => pidsOf((c) => c.includes('bin/logwrite') && c.includes('-log-dir'), initPid)[0];
  const result: SoakResult = {
    seconds: 0,
    memlogdKills: 0,
    logwriteKills: 0,
    followersStarted: 0,
    writers: [],
    memlogdFds: { start: -1, end: -1 },
    memlogdRssMB: { start: -1, end: -1 },
    initFds: { start: -1, end: -1 },
    initRssMB: { start: -1, end: -1 },
    logwriteFds: { start: -1, end: -1 },
    failures: [],
  };
  /** fds and RSS of memlogd (the current one), the init and logwrite. */
  const sample = (when: 'start' | 'end'): void => {
    const memlogd = memlogdPid() ?? -1;
    result.memlogdFds[when] = fdsOf(memlogd);
    result.memlogdRssMB[when] = rssMB(memlogd);
    result.initFds[when] = fdsOf(initPid);
    result.initRssMB[when] = rssMB(initPid);
    result.logwriteFds[when] = fdsOf(logwritePid() ?? -1);
  };
  const started = Date.now();
  try {
    for (let i = 0; i < 200 && !(memlogdPid() && logwritePid()); i++) await sleep(50);
    await sleep(1000);
    sample('start');
    // A follower that never reads, for the whole run.
    const stalled = net.connect(querySocket, () => stalled.write(Buffer.from([1])));
    stalled.on('error', () => {});
    stalled.pause();
    const followers: net.Socket[] = [];
    const end = started + minutes * 60_000;
    const span = end - 3000 - Date.now();
    // At least one of each fault, at fixed points; more at random.
    const forced = [
      { at: Date.now() + span / 3, r: 0.01 },
      { at: Date.now() + (2 * span) / 3, r: 0.1 },
    ];
    while (Date.now() < end - 3000) {
      const due = forced.findIndex((f) => Date.now() >= f.at);
      const r = due >= 0 ? forced.splice(due, 1)[0].r : Math.random();
      if (r < 0.08) {
        const pid = memlogdPid();
        if (pid) {
          process.kill(pid, 'SIGKILL');
          result.memlogdKills++;
          log(`killed memlogd ${pid}`);
        }
      } else if (r < 0.16) {
        const pid = logwritePid();
        if (pid) {
          process.kill(pid, 'SIGKILL');
          result.logwriteKills++;
          log(`killed logwrite ${pid}`);
        }
      } else if (r < 0.5) {
        const f = net.connect(querySocket, () => f.write(Buffer.from([Math.random() < 0.5 ? 1 : 2])));
        f.on('error', () => {});
        f.on('data', () => {});
        followers.push(f);
        result.followersStarted++;
      } else if (followers.length > 0) {
        followers.splice(Math.floor(Math.random() * followers.length), 1)[0].destroy();
      }
      await sleep(500 + Math.random() * 1000);
    }
    for (const f of followers) f.destroy();
    stalled.destroy();
    await sleep(1500);
    sample('end');
    init.kill('SIGTERM');
    await new Promise((r) => init.once('exit', r));
  } finally {
    if (init.exitCode === null) init.kill('SIGKILL');
  }
  result.seconds = Math.round((Date.now() - started) / 1000);
  // The files: every writer's lines in order, at most once, gaps only at markers.
  const logDir = path.join(dir, 'var/log');
  for (const w of writers) {
    const file = `${w}.out.log`;
    const names = fs.readdirSync(logDir).filter((f) => f === file || f.startsWith(`${file}.`));
    names.sort((a, b) => (b === file ? -1 : a === file ? 1 : Number(b.split('.').at(-1)) - Number(a.split('.').at(-1))));
    const lines = names.flatMap((f) => fs.readFileSync(path.join(logDir, f), 'utf8').split('\n').filter((l) => l !== ''));
    let prev = 0;
    let markerSincePrev = false;
    const stats = { name: w, onDisk: 0, printed: Number(fs.readFileSync(printed(w), 'utf8')), gaps: 0, gapsWithoutMarker: 0, duplicates: 0, outOfOrder: 0 };
    const seen = new Set<number>();
    for (const line of lines) {
      const msg = line.split(' ').slice(2).join(' ');
      if (msg.startsWith('[memlog:')) {
        markerSincePrev = true;
        continue;
      }
      const n = Number(msg.split(' ')[1]);
      if (seen.has(n)) stats.duplicates++;
      seen.add(n);
      if (n < prev) stats.outOfOrder++;
      if (n > prev + 1) {
        stats.gaps++;
        if (!markerSincePrev) stats.gapsWithoutMarker++;
      }
      prev = Math.max(prev, n);
      markerSincePrev = false;
      stats.onDisk++;
    }
    result.writers.push(stats);
    if (stats.duplicates > 0) result.failures.push(`${w}: ${stats.duplicates} lines on disk twice`);
    if (stats.outOfOrder > 0) result.failures.push(`${w}: ${stats.outOfOrder} lines out of order`);
    if (stats.gapsWithoutMarker > 0) result.failures.push(`${w}: ${stats.gapsWithoutMarker} gaps without a marker`);
    if (stats.onDisk === 0) result.failures.push(`${w}: nothing on disk`);
  }
  if (result.memlogdFds.end < 0) result.failures.push('no memlogd at the end');
  else if (result.memlogdFds.end > result.memlogdFds.start + 10) result.failures.push(`memlogd fds grew from ${result.memlogdFds.start} to ${result.memlogdFds.end}`);
  if (result.initFds.end > result.initFds.start + 5) result.failures.push(`init fds grew from ${result.initFds.start} to ${result.initFds.end}`);
  if (result.initRssMB.end > result.initRssMB.start + 30) result.failures.push(`init RSS grew from ${result.initRssMB.start.toFixed(1)} to ${result.initRssMB.end.toFixed(1)} MB`);
  if (result.logwriteFds.end > result.logwriteFds.start + 10) result.failures.push(`logwrite fds grew from ${result.logwriteFds.start} to ${result.logwriteFds.end}`);
  if (result.memlogdRssMB.end > result.memlogdRssMB.start + 60) result.failures.push(`memlogd RSS grew from ${result.memlogdRssMB.start.toFixed(1)} to ${result.memlogdRssMB.end.toFixed(1)} MB`);
  if (!/stopped/.test(initLog)) result.failures.push('the init did not stop cleanly');
  if (result.failures.length === 0) fs.rmSync(dir, { recursive: true, force: true });
  else result.failures.push(`files kept in ${dir}`);
  return result;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const { values } = parseArgs({ options: { minutes: { type: 'string', default: '1' }, verbose: { type: 'boolean', default: false } } });
  soak(Number(values.minutes), values.verbose ? (l) => console.log(l) : undefined).then((r) => {
    console.log(`soak: ${r.seconds} s, memlogd killed ${r.memlogdKills} times, logwrite ${r.logwriteKills} times, ${r.followersStarted} followers came and went, one stalled throughout, one writer flooding 300 KB lines`);
    for (const w of r.writers) {
      console.log(`  ${w.name}: ${w.onDisk} of ${w.printed} lines on disk, ${w.gaps} gaps (all at markers: ${w.gapsWithoutMarker === 0 ? 'yes' : 'NO'}), ${w.duplicates} twice, ${w.outOfOrder} out of order`);
    }
    console.log(`  memlogd fds ${r.memlogdFds.start} -> ${r.memlogdFds.end}, RSS ${r.memlogdRssMB.start.toFixed(1)} -> ${r.memlogdRssMB.end.toFixed(1)} MB`);
    console.log(`  init fds ${r.initFds.start} -> ${r.initFds.end}, RSS ${r.initRssMB.start.toFixed(1)} -> ${r.initRssMB.end.toFixed(1)} MB; logwrite fds ${r.logwriteFds.start} -> ${r.logwriteFds.end}`);
    for (const f of r.failures) console.log(`  FAIL: ${f}`);
    process.exit(r.failures.length === 0 ? 0 : 1);
  });
}
