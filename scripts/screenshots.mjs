// Screenshots of the web page for docs/: docs/web-light.png and docs/web-dark.png
// (1280x800). Not run by the tests. Boots a real memlogd (with a syslog socket,
// so entries carry severities) and a real `memlog web`, replays the LogHub
// samples in /work/shared/corpus (or $MEMLOG_CORPUS) as several services over
// about 45 s with an ssh brute-force burst and an error spike, and shoots the
// page as it follows them. Run after a build: node scripts/screenshots.mjs
// The samples come from https://github.com/logpai/loghub.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { sendFdsAsync } = await import(path.join(root, 'dist/src/native.js'));
const { launchChromium, openPage, startWeb } = await import(path.join(root, 'dist/test/browser.js'));
const { startDaemon, sleep } = await import(path.join(root, 'dist/test/helpers.js'));

const corpus = process.env.MEMLOG_CORPUS ?? path.join(root, '../shared/corpus');
const SECONDS = Number(process.env.MEMLOG_SCREENSHOT_SECONDS ?? 45);

const cleanups = [];
const t = { after: (fn) => cleanups.push(fn) };
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memlog-shots-'));
t.after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Each sample file as syslog lines: [facility, severity, tag, pid, msg]. */
function read(file, parse) {
  const p = path.join(corpus, file);
  if (!fs.existsSync(p)) throw new Error(`no ${p}: set MEMLOG_CORPUS to the LogHub samples`);
  return fs.readFileSync(p, 'utf8').split(/\r?\n/).filter(Boolean).map(parse).filter(Boolean);
}
const sevOfWord = { EMERG: 0, ALERT: 1, CRIT: 2, FATAL: 2, ERROR: 3, ERR: 3, WARN: 4, WARNING: 4, NOTICE: 5, INFO: 6, DEBUG: 7, V: 7, D: 7, I: 6, W: 4, E: 3, F: 2 };
const streams = {
  ssh: read('OpenSSH_2k.log', (l) => {
    const m = /^\w+ +\d+ [\d:]+ \S+ sshd\[(\d+)\]: (.*)$/.exec(l);
    if (!m) return undefined;
    const msg = m[2];
    const sev = /^error:|fatal/i.test(msg) ? 3 : /BREAK-IN|Failed password|Invalid user/.test(msg) ? 4 : /authentication failure|Disconnecting/.test(msg) ? 5 : 6;
    return [4, sev, 'sshd', m[1], msg];
  }),
  linux: read('Linux_2k.log', (l) => {
    const m = /^\w+ +\d+ [\d:]+ \S+ ([\w.-]+)(?:\([^)]*\))?(?:\[(\d+)\])?: ?(.*)$/.exec(l);
    if (!m || m[1] === 'sshd') return undefined;
    const msg = m[3].trim();
    const sev = /error|fail/i.test(msg) ? (m[1] === 'kernel' ? 3 : 5) : m[1] === 'kernel' ? 6 : 6;
    return [m[1] === 'kernel' ? 0 : 3, sev, m[1], m[2] ?? '', msg];
  }),
  apache: read('Apache_2k.log', (l) => {
    const m = /^\[[^\]]+\] \[(\w+)\] (.*)$/.exec(l);
    return m ? [3, sevOfWord[m[1].toUpperCase()] ?? 6, 'httpd', '', m[2]] : undefined;
  }),
  hdfs: read('HDFS_2k.log', (l) => {
    const m = /^\d+ \d+ (\d+) (\w+) dfs\.(\w+)[$:][^ ]* ?(.*)$/.exec(l);
    return m ? [3, sevOfWord[m[2]] ?? 6, m[3] === 'FSNamesystem' ? 'hdfs-namenode' : 'hdfs-datanode', m[1], m[4]] : undefined;
  }),
  zookeeper: read('Zookeeper_2k.log', (l) => {
    const m = /^[\d-]+ [\d:,]+ - (\w+) +\[[^\]]*\] - (.*)$/.exec(l);
    return m ? [3, sevOfWord[m[1]] ?? 6, 'zookeeper', '', m[2]] : undefined;
  }),
  android: read('Android_2k.log', (l) => {
    const m = /^[\d-]+ [\d:.]+ +(\d+) +\d+ (\w) ([^:]+): (.*)$/.exec(l);
    return m ? [1, sevOfWord[m[2]] ?? 6, 'android', m[1], `${m[3].trim()}: ${m[4]}`] : undefined;
  }),
};

const daemon = await startDaemon(t, dir, ['-socket-syslog', path.join(dir, 'dev-log')]);
const devLog = path.join(dir, 'dev-log');
const web = await startWeb(t, daemon.querySocket);
const browser = await launchChromium(t);
if (typeof browser === 'string') throw new Error(browser);
const light = await openPage(browser, web.url, { colorScheme: 'light' });
const dark = await openPage(browser, web.url, { colorScheme: 'dark' });

const pos = Object.fromEntries(Object.keys(streams).map((k) => [k, 0]));
async function send(kind) {
  const lines = streams[kind];
  const [facility, sev, tag, pid, msg] = lines[pos[kind]++ % lines.length];
  await sendFdsAsync(devLog, Buffer.from(`<${facility * 8 + sev}>${tag}${pid ? `[${pid}]` : ''}: ${msg}`), []);
}
// Per second, how many of each: a steady mix, an ssh brute force from 12 s to 20 s, an httpd error spike at
// 30 s; sent in tenths of a second, so times spread as a real system's do.
const start = Date.now();
for (let s = 0; s < SECONDS; s++) {
  const rate = { ssh: s >= 12 && s < 20 ? 40 : 4, linux: 3, apache: s >= 30 && s < 33 ? 25 : 3, hdfs: 8, zookeeper: 2, android: 5 };
  if (s === 31) await sendFdsAsync(devLog, Buffer.from('<10>kernel: Out of memory: Killed process 4242 (httpd) total-vm:2126540kB, anon-rss:1740560kB'), []);
  const kinds = Object.entries(rate).flatMap(([kind, n]) => Array.from({ length: n + Math.floor(Math.random() * 3) }, () => kind));
  for (let tenth = 0; tenth < 10; tenth++) {
    for (let k = tenth; k < kinds.length; k += 10) await send(kinds[k]);
    const wait = start + s * 1000 + (tenth + 1) * 100 - Date.now();
    if (wait > 0) await sleep(wait);
  }
}
// The last lines: a mix of the usual and the urgent, so the list in view shows what colours mean.
const finale = [
  '<30>systemd[1]: Started Daily apt upgrade and clean activities.',
  '<38>sshd[24310]: Accepted publickey for deploy from 10.0.4.17 port 51122 ssh2: ED25519 SHA256:9vQ2',
  '<11>httpd: [client 10.0.4.22] AH01630: client denied by server configuration: /var/www/html/admin',
  '<4>kernel: [ 8123.442117] EXT4-fs warning (device sda1): ext4_dx_add_entry: Directory index full!',
  '<35>sshd[24311]: error: maximum authentication attempts exceeded for root from 203.0.113.9 port 40210 ssh2 [preauth]',
  '<2>kernel: [ 8124.001337] Out of memory: Killed process 4242 (java) total-vm:8126540kB, anon-rss:6740560kB',
  '<29>zookeeper: Notification time out: 6400',
  '<31>android[1702]: PowerManagerService: ready=true,policy=3,wakefulness=1',
  '<30>systemd[1]: memlog-forward.service: Succeeded.',
];
for (const line of finale) {
  await sendFdsAsync(devLog, Buffer.from(line), []);
  await sleep(120);
}
// The source list has every source (it is refreshed from /api/status every few seconds), and a moment for the
// last chart update.
for (const p of [light, dark]) await p.page.waitForSelector('#sources input[value=systemd]', { timeout: 15_000 });
await light.page.waitForTimeout(1000);
fs.mkdirSync(path.join(root, 'docs'), { recursive: true });
await light.page.screenshot({ path: path.join(root, 'docs/web-light.png') });
await dark.page.screenshot({ path: path.join(root, 'docs/web-dark.png') });
for (const p of [light, dark]) if (p.errors.length > 0) console.error(`page errors: ${p.errors.join('\n')}`);
for (const fn of cleanups.reverse()) await fn();
console.log('docs/web-light.png, docs/web-dark.png');
