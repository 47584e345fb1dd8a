/**
 * Real programs the syslog tests talk to (rsyslogd, busybox, util-linux
 * logger, python3): found on the machine, or installed with apt-get when the
 * tests run as root on Debian and a program is missing. What cannot be had
 * makes the tests that need it skip, saying so on stderr as well as in the
 * test report, so a run that tested less never looks like one that tested all.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findProgram } from '../bench/which.js';
import { sleep } from './helpers.js';

export type PeerName = 'rsyslogd' | 'busybox' | 'logger' | 'python3' | 'unshare';

/** The Debian package that brings each program. */
const PACKAGE: Record<PeerName, string> = {
  rsyslogd: 'rsyslog',
  busybox: 'busybox',
  logger: 'bsdutils',
  python3: 'python3',
  unshare: 'util-linux',
};

export { findProgram };

// One apt-get at a time across the test files of a run (node --test runs them as parallel processes),
// and one try per package per run: the runner's pid names the run.
const LOCK = path.join(os.tmpdir(), 'memlog-test-apt.lock');
const triedMarker = (pkg: string): string => path.join(os.tmpdir(), `memlog-test-apt-${process.ppid}-${pkg}`);
const LOCK_STALE_MS = 15 * 60_000;

async function withAptLock<T>(fn: () => T): Promise<T> {
  for (;;) {
    try {
      fs.mkdirSync(LOCK);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // A lock left by a run that was killed mid-install is taken over once it is old.
      try {
        if (Date.now() - fs.statSync(LOCK).mtimeMs > LOCK_STALE_MS) fs.rmSync(LOCK, { recursive: true, force: true });
      } catch {
        // Released meanwhile.
      }
      await sleep(200);
    }
  }
  try {
    return fn();
  } finally {
    fs.rmSync(LOCK, { recursive: true, force: true });
  }
}

function aptGet(args: string[]): { ok: boolean; output: string } {
  const r = spawnSync('apt-get', args, {
    encoding: 'utf8',
    timeout: 10 * 60_000,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`;
  return { ok: r.status === 0, output };
}

/** Markers of runs that are over (their runner's pid is gone). */
function removeOldMarkers(): void {
  for (const name of fs.readdirSync(os.tmpdir())) {
    const m = /^memlog-test-apt-(\d+)-/.exec(name);
    if (m && !fs.existsSync(`/proc/${m[1]}`)) fs.rmSync(path.join(os.tmpdir(), name), { force: true });
  }
}

/** Installs pkg with apt-get (once per run); the reason it could not, or undefined when it did. */
async function install(pkg: string, noRemove = false): Promise<string | undefined> {
  if (process.env.MEMLOG_TEST_NO_INSTALL) return `${pkg} is not installed, and MEMLOG_TEST_NO_INSTALL is set (apt-get install ${pkg})`;
  if (process.getuid?.() !== 0) return `not root, so ${pkg} cannot be installed by the tests (apt-get install ${pkg})`;
  if (!findProgram('apt-get')) return `no apt-get here to install ${pkg} with`;
  return withAptLock(() => {
    removeOldMarkers();
    // A failure is remembered for the rest of the run, so the other test files do not try again.
    const marker = triedMarker(pkg);
    if (fs.existsSync(marker)) return fs.readFileSync(marker, 'utf8');
    process.stderr.write(`memlog tests: installing ${pkg} with apt-get\n`);
    // noRemove: never uninstall another package to make room (rsyslog and syslog-ng-core conflict in Debian).
    const args = ['install', '-y', '--no-install-recommends', ...(noRemove ? ['--no-remove'] : []), pkg];
    let r = aptGet(args);
    // The package lists may be missing or stale: update them only then.
    if (!r.ok) {
      aptGet(['update']);
      r = aptGet(args);
    }
    if (r.ok) return undefined;
    const why = `apt-get install ${pkg} failed: ${r.output.trim().split('\n').slice(-2).join(' / ')}`;
    fs.writeFileSync(marker, why);
    return why;
  });
}

/** The path of each program, or why one cannot be had (installing what is missing where it can). */
export async function peers(names: PeerName[]): Promise<{ paths: Record<string, string> } | { why: string }> {
  const paths: Record<string, string> = {};
  for (const name of names) {
    let found = findProgram(name);
    if (!found) {
      const why = await install(PACKAGE[name]);
      found = findProgram(name);
      if (!found) return { why: why ?? `${name} not found even after installing ${PACKAGE[name]}` };
    }
    paths[name] = found;
  }
  return { paths };
}

/** Skips the test, plainly: in the report and as a line on stderr. */
export function skipLoudly(t: { name: string; skip(message?: string): void }, why: string): void {
  process.stderr.write(`SKIPPED: "${t.name}": ${why}\n`);
  t.skip(why);
}

/** Whether this process may make a private mount namespace (to give busybox its own /dev/log); why not if not. */
export function mountNamespaceProblem(unshare: string): string | undefined {
  const r = spawnSync(unshare, ['--mount', 'true'], { encoding: 'utf8', timeout: 30_000 });
  if (r.status === 0) return undefined;
  return `cannot make a private mount namespace (unshare --mount: ${(r.stderr || String(r.error ?? r.status)).trim()})`;
}

/** rsyslog's loadable modules the receiver tests use, and the Debian package that brings each. */
export type RsyslogModule = 'imtcp' | 'imrelp' | 'lmnsd_gtls';
const MODULE_PACKAGE: Record<RsyslogModule, string> = { imtcp: 'rsyslog', imrelp: 'rsyslog-relp', lmnsd_gtls: 'rsyslog-gnutls' };

/** Where rsyslog keeps its modules: the directory of imtcp.so as dpkg lists it, else Debian's usual one. */
function rsyslogModuleDir(): string {
  const r = spawnSync('dpkg', ['-L', 'rsyslog'], { encoding: 'utf8', timeout: 30_000 });
  const line = (r.stdout ?? '').split('\n').find((l) => l.endsWith('/imtcp.so'));
  if (line) return path.dirname(line);
  return `/usr/lib/${os.arch() === 'x64' ? 'x86_64' : os.arch()}-linux-gnu/rsyslog`;
}

/**
 * rsyslogd with the modules asked for (they are packages of modules, not programs: found by their .so),
 * installing what is missing where it can; or why they cannot be had.
 */
export async function rsyslogWithModules(modules: RsyslogModule[]): Promise<{ rsyslogd: string; moduleDir: string } | { why: string }> {
  // Installed without removing anything: rsyslog conflicts with syslog-ng-core, which other tests may need.
  let rsyslogd = findProgram('rsyslogd');
  if (!rsyslogd) {
    const why = await install(PACKAGE.rsyslogd, true);
    rsyslogd = findProgram('rsyslogd');
    if (!rsyslogd) return { why: why ?? `rsyslogd not found even after installing ${PACKAGE.rsyslogd}` };
  }
  for (const mod of modules) {
    const has = (): boolean => fs.existsSync(path.join(rsyslogModuleDir(), `${mod}.so`));
    if (has()) continue;
    const why = await install(MODULE_PACKAGE[mod], true);
    if (!has()) return { why: why ?? `rsyslog's ${mod}.so not found in ${rsyslogModuleDir()} even after installing ${MODULE_PACKAGE[mod]}` };
  }
  return { rsyslogd, moduleDir: rsyslogModuleDir() };
}
