/**
 * stack: the memory of the main job's logging stack (issue 13). Boots
 * examples/boot.yml with `memlog init` in a temp dir, waits until every service
 * has started and the persister has written every on-boot action's output,
 * lets it run, then sums PSS over the init and each descendant that is a Node
 * process (memlogd, logwrite, memlog-kmsg...; not the services' sh or logger).
 *
 * The stack runs on a private copy of the node executable. PSS divides each
 * shared page among the processes that map it, and the bench is a Node process
 * itself: with the system's node, the bench (or npm, under `npm start`) would
 * take a share of the ~35 MB of node's own pages and the stack would look
 * that much lighter than it is on a machine where it runs alone.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnTracked, Scope, sleep, exited } from '../children.js';
import type { FigureSpec, Values } from '../figures.js';
import { median } from '../figures.js';
import { ROOT } from '../paths.js';
import { freePort } from '../rsyslog.js';
import { isMemlogProcess, memlogProgram, memoryOf, processTree, type ProcInfo } from '../proc-tree.js';
import { loadConfig } from '../../src/init/config.js';
import { MB, type Context, type Scenario } from './types.js';

/** The processes of the stack, by what they run; anything else that is node counts as `other`. */
const ROLES = ['init', 'memlogd', 'logwrite', 'memlog-kmsg', 'memlog-forward', 'memlog-web', 'other'] as const;
type Role = (typeof ROLES)[number];

const READY_TIMEOUT_MS = 30_000;
/** Running time before the first sample: the boot's bursts are over, the services at their steady pace. */
const WARM_MS = 5000;
const SAMPLES = 5;
const SAMPLE_EVERY_MS = 1000;
const STOP_TIMEOUT_MS = 20_000;

function roleOf(p: ProcInfo, initPid: number): Role {
  if (p.pid === initPid) return 'init';
  const program = memlogProgram(p.argv);
  return ROLES.find((r) => r === program) ?? 'other';
}

/**
 * examples/boot.yml, runnable from dir: its programs' `bin/...` made absolute
 * (the checkout's); its own paths (./run, ./var/log) stay relative to dir.
 */
async function copyConfig(dir: string): Promise<string> {
  const text = fs.readFileSync(path.join(ROOT, 'examples/boot.yml'), 'utf8');
  const file = path.join(dir, 'boot.yml');
  // The web page's service on a free port: 8080 may be held by a main job running beside.
  const web = `127.0.0.1:${await freePort()}`;
  fs.writeFileSync(file, text.replace(/(^|[\s'"[,])bin\//gm, `$1${ROOT}/bin/`).replace('127.0.0.1:8080', web));
  return file;
}

/** The node flags the main job starts the init with: those of examples/quickstart.sh's `exec node ... bin/memlog init`. */
function initNodeFlags(): string[] {
  const script = fs.readFileSync(path.join(ROOT, 'examples/quickstart.sh'), 'utf8');
  const m = /^exec node ((?:--?[\w-]+(?:=\S+)? )*)bin\/memlog init /m.exec(script);
  if (!m) throw new Error("examples/quickstart.sh: no line 'exec node [FLAGS] bin/memlog init' to take the init's node flags from");
  return m[1].split(' ').filter((f) => f !== '');
}

/** One look at the stack: each role's PSS and RSS, the totals, how many Node processes. */
function sample(initPid: number, nodeExe: string): { values: Values; pids: number[] } {
  const values: Values = { total: 0, rssTotal: 0, nodes: 0 };
  const pids: number[] = [];
  for (const p of processTree(initPid)) {
    if (!isMemlogProcess(p, nodeExe)) continue;
    const mem = memoryOf(p.pid);
    if (!mem) continue;
    const role = roleOf(p, initPid);
    pids.push(p.pid);
    values[`pss.${role}`] = (values[`pss.${role}`] ?? 0) + mem.pss / MB;
    values[`rss.${role}`] = (values[`rss.${role}`] ?? 0) + mem.rss / MB;
    values.total += mem.pss / MB;
    values.rssTotal += mem.rss / MB;
    values.nodes++;
  }
  return { values, pids };
}

export const stack: Scenario = {
  name: 'stack',
  description: `memory of the main job's logging stack: memlog init boots examples/boot.yml in a temp dir, with examples/quickstart.sh's node flags, on a private copy of node; once every service has started and every on-boot action's output is in the log dir, ${WARM_MS / 1000} s of running, then ${SAMPLES} samples ${SAMPLE_EVERY_MS / 1000} s apart (median) of PSS and RSS (/proc/PID/smaps_rollup) of the init and each descendant that is a Node process`,
  figures: (): FigureSpec[] => [
    { key: 'total', label: 'PSS MB, whole stack', format: 'mb', target: { op: '<=', value: 55, note: 'issue 13' } },
    { key: 'rssTotal', label: 'RSS MB summed (what ps/top add up to)', format: 'mb' },
    { key: 'nodes', label: 'resident Node processes', format: 'count' },
    ...ROLES.flatMap((role): FigureSpec[] => [
      { key: `pss.${role}`, label: `  ${role}: PSS MB`, format: 'mb' },
      { key: `rss.${role}`, label: `  ${role}: RSS MB`, format: 'mb' },
    ]),
  ],
  async run(ctx: Context): Promise<Values> {
    const scope = new Scope();
    let pids: number[] = [];
    const nodeDir = path.join(scope.dir, 'node-bin');
    const nodeExe = path.join(nodeDir, 'node');
    try {
      fs.mkdirSync(nodeDir);
      fs.copyFileSync(process.execPath, nodeExe);
      fs.chmodSync(nodeExe, 0o755);
      const file = await copyConfig(scope.dir);
      const config = loadConfig(file, scope.dir);

      let stderr = '';
      // As the main job starts it (examples/quickstart.sh), from the temp dir.
      const init = spawnTracked(nodeExe, [...initNodeFlags(), path.join(ROOT, 'bin/memlog'), 'init', file], {
        cwd: scope.dir,
        // `node` in the services' commands is the copy too.
        env: { ...process.env, PATH: `${nodeDir}:${process.env.PATH ?? '/usr/bin:/bin'}` },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      init.stderr?.setEncoding('utf8');
      init.stderr?.on('data', (s: string) => (stderr = (stderr + s).slice(-200_000)));
      if (init.pid === undefined) throw new Error('memlog init did not start');
      const initPid = init.pid;
      try {
        // Ready: every service started, and every on-boot action's output persisted.
        const deadline = Date.now() + READY_TIMEOUT_MS;
        const missing = (): string[] => {
          const persisted = fs.existsSync(config.logDir) ? fs.readdirSync(config.logDir) : [];
          return [
            ...config.services.filter((s) => !stderr.includes(`service ${s.name}: started`)).map((s) => `service ${s.name} started`),
            ...config.onboot
              .map((a, i) => `onboot.${String(i).padStart(3, '0')}-${a.name}.`)
              .filter((prefix) => !persisted.some((f) => f.startsWith(prefix)))
              .map((prefix) => `${prefix}*log in ${config.logDir}`),
          ];
        };
        for (let left = missing(); left.length > 0; left = missing()) {
          if (exited(init)) throw new Error(`memlog init exited early: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
          if (Date.now() > deadline) throw new Error(`not ready within ${READY_TIMEOUT_MS} ms: waiting for ${left.join(', ')}`);
          await sleep(50);
        }
        await sleep(WARM_MS);
        const samples: Values[] = [];
        for (let i = 0; i < SAMPLES; i++) {
          if (i > 0) await sleep(SAMPLE_EVERY_MS);
          if (exited(init)) throw new Error(`memlog init exited while sampled: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
          const s = sample(initPid, nodeExe);
          samples.push(s.values);
          pids = [...new Set([...pids, ...s.pids])];
        }
        const keys = new Set(samples.flatMap((s) => Object.keys(s)));
        const values: Values = {};
        for (const k of keys) values[k] = median(samples.map((s) => s[k] ?? 0));
        if (!values['pss.memlogd']) throw new Error('no memlogd among the init\'s descendants');
        ctx.note(`  stack: ${ROLES.filter((r) => values[`pss.${r}`]).map((r) => `${r} ${values[`pss.${r}`].toFixed(1)}`).join(', ')} MB PSS`);
        return values;
      } finally {
        // The init's orderly stop takes the stack down (services in their own process groups);
        // whatever outlives it is killed.
        if (!exited(init)) {
          init.kill('SIGTERM');
          const deadline = Date.now() + STOP_TIMEOUT_MS;
          while (!exited(init) && Date.now() < deadline) await sleep(50);
        }
        for (const pid of pids) {
          try {
            // Only if it still runs the copy: a pid freed and reused meanwhile is someone else's.
            if (fs.readlinkSync(`/proc/${pid}/exe`) === nodeExe) process.kill(pid, 'SIGKILL');
          } catch {
            // Gone, as it should be.
          }
        }
      }
    } finally {
      await scope.close();
    }
  },
};
