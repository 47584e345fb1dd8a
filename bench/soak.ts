/**
 * npm run soak -- [--minutes N | --events N] [--seed S] [--verbose]: memlog
 * under faults, for N minutes (default 1) or for N events back to back.
 *
 * `memlog init` runs memlogd, logwrite (restarted when killed) and steady
 * writers that number their lines. Meanwhile, event after event: memlogd or
 * logwrite is killed with -9 (the next event waits until the system has
 * recovered: a new process, and every writer's lines reaching the disk
 * again), followers come and go, one follower stalls throughout, a writer
 * floods without newlines. Which events, in which order, comes from the seed
 * (random unless given, always printed): the same seed gives the same run of
 * faults. At the end, after an orderly shutdown, every writer's file holds its
 * lines in order, each at most once, and every gap is next to a marker (a loss
 * the ring reported, or a memlogd restart); the fds of memlogd, the init and
 * logwrite are back within bounds (and, in a timed run, their RSS). Prints the
 * figures; exits 1 if a check fails.
 *
 * The test suite runs a few events (test/soak.test.ts): nothing in it depends
 * on how fast the machine is; --minutes paces events at random for the long run.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { sleep } from './children.js';
import { ROOT } from './paths.js';
import { rss } from './proc-stats.js';
import { randomSeed, seeded } from './random.js';

const NODE = process.execPath;
const WRITERS = ['w1', 'w2', 'w3'];
/** How long the system may take to come back after a kill, to start, to settle or to stop: bounds a failure, not a speed. */
const RECOVERY_MS = 120_000;

export interface SoakOptions {
  seed: number;
  /** A timed run: events at random intervals for this many minutes (the long soak). */
  minutes?: number;
  /** Or this many events, back to back (the short soak of the test suite). */
  events?: number;
  log?: (line: string) => void;
}

type Event = 'kill memlogd' | 'kill logwrite' | 'start a follower' | 'stop a follower';

export interface SoakResult {
  seed: number;
  seconds: number;
  /** The events, in the order they happened. */
  events: Event[];
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
    return rss(pid) / (1024 * 1024);
  } catch {
    return -1;
  }
}

/** Polls check until it holds; false if it did not within ms. */
async function until(check: () => boolean, ms = RECOVERY_MS): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/** The number of the last complete line in DIR/<writer>.out.log, -1 if none yet (markers skipped). */
function lastOnDisk(logDir: string, writer: string): number {
  let text: string;
  try {
    const fd = fs.openSync(path.join(logDir, `${writer}.out.log`), 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const buf = Buffer.alloc(Math.min(size, 8192));
      text = buf.subarray(0, fs.readSync(fd, buf, 0, buf.length, size - buf.length)).toString('latin1');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return -1;
  }
  const lines = text.split('\n').slice(0, -1); // the last piece is '' or a line still being written
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = new RegExp(`^\\S+ \\S+ ${writer} (\\d+)$`).exec(lines[i]);
    if (m) return Number(m[1]);
  }
  return -1;
}

function config(printed: (name: string) => string): string {
  return `run-dir: ./run
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
${WRITERS.map(
  (w) => `  - name: ${w}
    command: [sh, -c, 'i=0; while :; do i=$((i+1)); echo "${w} $i"; echo $i > ${printed(w)}.tmp && mv ${printed(w)}.tmp ${printed(w)}; sleep 0.003; done']`,
).join('\n')}
  - name: flooder
    command: [sh, -c, 'while :; do head -c 300000 /dev/zero | tr "\\\\0" x; echo; sleep 0.5; done']
`;
}

export async function soak(opts: SoakOptions): Promise<SoakResult> {
  const { seed, log = () => {} } = opts;
  const random = seeded(seed);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memlog-soak-'));
  const logDir = path.join(dir, 'var/log');
  const printedFile = (name: string): string => path.join(dir, `${name}.printed`);
  const printed = (name: string): number => {
    try {
      return Number(fs.readFileSync(printedFile(name), 'utf8'));
    } catch {
      return 0;
    }
  };
  fs.writeFileSync(path.join(dir, 'soak.yml'), config(printedFile));
  const init = spawn(NODE, [path.join(ROOT, 'bin/memlog'), 'init', 'soak.yml'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let initLog = '';
  init.stderr.on('data', (d: Buffer) => (initLog += d.toString()));
  const initPid = init.pid as number;
  const querySocket = path.join(dir, 'run/memlogdq.sock');
  const memlogdPid = (): number | undefined => pidsOf((c) => c.includes('-fd-query=4'), initPid)[0];
  const logwritePid = (): number | undefined => pidsOf((c) => c.includes('bin/logwrite') && c.includes('-log-dir'), initPid)[0];
  const result: SoakResult = {
    seed,
    seconds: 0,
    events: [],
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
  /** Every writer's lines reach the disk again: beyond what each had printed at `since`. */
  const flowing = (since: Map<string, number>): boolean => WRITERS.every((w) => lastOnDisk(logDir, w) > (since.get(w) ?? 0));
  const printedNow = (): Map<string, number> => new Map(WRITERS.map((w) => [w, printed(w)]));
  /** Kills pid with -9 and waits for its successor and for the writers' lines on disk again; false if that never came. */
  const killAndRecover = async (what: string, pidNow: () => number | undefined): Promise<boolean> => {
    const pid = pidNow();
    if (pid === undefined) return true;
    process.kill(pid, 'SIGKILL');
    const since = printedNow();
    log(`killed ${what} ${pid}`);
    if (await until(() => (pidNow() ?? pid) !== pid && flowing(since))) return true;
    result.failures.push(`no recovery within ${RECOVERY_MS / 1000} s after killing ${what}: ${what} ${pidNow() ?? 'absent'}, last lines on disk ${WRITERS.map((w) => `${w} ${lastOnDisk(logDir, w)}`).join(', ')}`);
    return false;
  };

  const started = Date.now();
  const end = opts.minutes !== undefined ? started + opts.minutes * 60_000 : Infinity;
  const followers: net.Socket[] = [];
  let stalled: net.Socket | undefined;
  try {
    const up = await until(() => memlogdPid() !== undefined && logwritePid() !== undefined && flowing(new Map()));
    if (!up) result.failures.push(`the system did not come up within ${RECOVERY_MS / 1000} s: ${initLog}`);
    sample('start');
    // A follower that never reads, for the whole run.
    const stuck = net.connect(querySocket, () => stuck.write(Buffer.from([1])));
    stuck.on('error', () => {});
    stuck.pause();
    stalled = stuck;
    for (let i = 0; up && (opts.events !== undefined ? i < opts.events : Date.now() < end - 3000); i++) {
      // At least one of each kill, early; the rest as the seed has it.
      const r = random();
      const event: Event = i === 1 ? 'kill memlogd' : i === 3 ? 'kill logwrite' : r < 0.15 ? 'kill memlogd' : r < 0.3 ? 'kill logwrite' : r < 0.65 || followers.length === 0 ? 'start a follower' : 'stop a follower';
      result.events.push(event);
      if (event === 'kill memlogd') {
        result.memlogdKills++;
        if (!(await killAndRecover('memlogd', memlogdPid))) break;
      } else if (event === 'kill logwrite') {
        result.logwriteKills++;
        if (!(await killAndRecover('logwrite', logwritePid))) break;
      } else if (event === 'start a follower') {
        const mode = random() < 0.5 ? 1 : 2;
        const f = net.connect(querySocket, () => f.write(Buffer.from([mode])));
        f.on('error', () => {});
        f.on('data', () => {});
        followers.push(f);
        result.followersStarted++;
      } else {
        followers.splice(Math.floor(random() * followers.length), 1)[0].destroy();
      }
      // A timed run spreads its events out; the short one goes on at once.
      if (opts.minutes !== undefined) await sleep(500 + random() * 1000);
    }
    for (const f of followers) f.destroy();
    stalled.destroy();
    // Back within bounds once the clients have gone (they close asynchronously).
    const settled = (): boolean => {
      sample('end');
      return result.memlogdFds.end >= 0 && result.memlogdFds.end <= result.memlogdFds.start + 10 && result.initFds.end <= result.initFds.start + 5 && result.logwriteFds.end <= result.logwriteFds.start + 10;
    };
    await until(settled, 30_000);
    init.kill('SIGTERM');
    if (!(await until(() => init.exitCode !== null || init.signalCode !== null))) result.failures.push(`the init did not stop within ${RECOVERY_MS / 1000} s of SIGTERM`);
  } finally {
    for (const f of followers) f.destroy();
    stalled?.destroy();
    if (init.exitCode === null && init.signalCode === null) {
      init.kill('SIGKILL');
      await new Promise((r) => init.once('exit', r));
    }
    result.seconds = Math.round((Date.now() - started) / 1000);
  }
  check(result, logDir, printed, initLog, opts.minutes !== undefined);
  if (result.failures.length === 0) {
    fs.rmSync(dir, { recursive: true, force: true });
  } else {
    const how = opts.minutes !== undefined ? `--minutes ${opts.minutes}` : `--events ${opts.events}`;
    result.failures.push(`seed ${seed}: npm run soak -- ${how} --seed ${seed} runs the same faults again; files kept in ${dir}`);
  }
  return result;
}

/** The files: every writer's lines in order, at most once, gaps only at markers; then the bounds. */
function check(result: SoakResult, logDir: string, printed: (name: string) => number, initLog: string, timed: boolean): void {
  const fail = (msg: string): void => void result.failures.push(msg);
  for (const w of WRITERS) {
    const file = `${w}.out.log`;
    const names = fs.existsSync(logDir) ? fs.readdirSync(logDir).filter((f) => f === file || f.startsWith(`${file}.`)) : [];
    names.sort((a, b) => (b === file ? -1 : a === file ? 1 : Number(b.split('.').at(-1)) - Number(a.split('.').at(-1))));
    const lines = names.flatMap((f) => fs.readFileSync(path.join(logDir, f), 'utf8').split('\n').filter((l) => l !== ''));
    let prev = 0;
    let markerSincePrev = false;
    const stats = { name: w, onDisk: 0, printed: printed(w), gaps: 0, gapsWithoutMarker: 0, duplicates: 0, outOfOrder: 0 };
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
    if (stats.duplicates > 0) fail(`${w}: ${stats.duplicates} lines on disk twice`);
    if (stats.outOfOrder > 0) fail(`${w}: ${stats.outOfOrder} lines out of order`);
    if (stats.gapsWithoutMarker > 0) fail(`${w}: ${stats.gapsWithoutMarker} gaps without a marker`);
    if (stats.onDisk === 0) fail(`${w}: nothing on disk`);
  }
  const { memlogdFds, initFds, logwriteFds, memlogdRssMB, initRssMB } = result;
  if (memlogdFds.end < 0) fail('no memlogd at the end');
  else if (memlogdFds.end > memlogdFds.start + 10) fail(`memlogd fds grew from ${memlogdFds.start} to ${memlogdFds.end}`);
  if (initFds.end > initFds.start + 5) fail(`init fds grew from ${initFds.start} to ${initFds.end}`);
  if (logwriteFds.end > logwriteFds.start + 10) fail(`logwrite fds grew from ${logwriteFds.start} to ${logwriteFds.end}`);
  // Memory is only worth comparing over a long run (a short one ends before the heaps have settled).
  if (timed && initRssMB.end > initRssMB.start + 30) fail(`init RSS grew from ${initRssMB.start.toFixed(1)} to ${initRssMB.end.toFixed(1)} MB`);
  if (timed && memlogdRssMB.end > memlogdRssMB.start + 60) fail(`memlogd RSS grew from ${memlogdRssMB.start.toFixed(1)} to ${memlogdRssMB.end.toFixed(1)} MB`);
  if (!/stopped/.test(initLog)) fail('the init did not stop cleanly');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const { values } = parseArgs({
    options: { minutes: { type: 'string' }, events: { type: 'string' }, seed: { type: 'string' }, verbose: { type: 'boolean', default: false } },
  });
  const seed = values.seed !== undefined ? Number(values.seed) : randomSeed();
  const events = values.events !== undefined ? Number(values.events) : undefined;
  const minutes = events === undefined ? Number(values.minutes ?? 1) : undefined;
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32 || (events !== undefined && !(Number.isInteger(events) && events > 0)) || (minutes !== undefined && !(minutes > 0))) {
    console.error('usage: npm run soak -- [--minutes N | --events N] [--seed S (0 to 2^32-1)] [--verbose]');
    process.exit(2);
  }
  console.log(`soak: seed ${seed}`);
  soak({ seed, minutes, events, log: values.verbose ? (l) => console.log(l) : undefined }).then((r) => {
    console.log(`soak: ${r.seconds} s, ${r.events.length} events, memlogd killed ${r.memlogdKills} times, logwrite ${r.logwriteKills} times, ${r.followersStarted} followers came and went, one stalled throughout, one writer flooding 300 KB lines`);
    for (const w of r.writers) {
      console.log(`  ${w.name}: ${w.onDisk} of ${w.printed} lines on disk, ${w.gaps} gaps (all at markers: ${w.gapsWithoutMarker === 0 ? 'yes' : 'NO'}), ${w.duplicates} twice, ${w.outOfOrder} out of order`);
    }
    console.log(`  memlogd fds ${r.memlogdFds.start} -> ${r.memlogdFds.end}, RSS ${r.memlogdRssMB.start.toFixed(1)} -> ${r.memlogdRssMB.end.toFixed(1)} MB`);
    console.log(`  init fds ${r.initFds.start} -> ${r.initFds.end}, RSS ${r.initRssMB.start.toFixed(1)} -> ${r.initRssMB.end.toFixed(1)} MB; logwrite fds ${r.logwriteFds.start} -> ${r.logwriteFds.end}`);
    for (const f of r.failures) console.log(`  FAIL: ${f}`);
    process.exit(r.failures.length === 0 ? 0 : 1);
  });
}
