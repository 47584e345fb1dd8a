/**
 * Real programs the tests talk to (rsyslogd, syslog-ng, busybox, util-linux
 * logger, python3, Debian's chromium for the web page, promtool for /metrics):
 * found on the machine, or installed with apt-get when the tests run as root
 * on Debian and a program is missing. What cannot be had
 * makes the tests that need it skip, saying so on stderr as well as in the
 * test report, so a run that tested less never looks like one that tested all.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findProgram } from '../bench/which.js';
import { sleep } from './helpers.js';

export type PeerName = 'rsyslogd' | 'syslog-ng' | 'busybox' | 'logger' | 'python3' | 'unshare' | 'chromium' | 'promtool';

/** The Debian package that brings each program. */
const PACKAGE: Record<PeerName, string> = {
  rsyslogd: 'rsyslog',
  // Never apt-get installed: see unpackSyslogNg.
  'syslog-ng': 'syslog-ng-core',
  busybox: 'busybox',
  logger: 'bsdutils',
  python3: 'python3',
  unshare: 'util-linux',
  // The browser the web page's tests drive (headless, through playwright-core: no browser download).
  chromium: 'chromium',
  // promtool checks /metrics as Prometheus reads it.
  promtool: 'prometheus',
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
async function install(pkg: string, noRemove = true): Promise<string | undefined> {
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

// syslog-ng-core and rsyslog conflict in Debian (both are "the system-log-daemon"):
// installing one removes the other, and the rsyslog tests of the same run need rsyslog.
// So syslog-ng is unpacked, not installed: its package fetched with apt-get download
// and extracted into a directory of its own (kept across runs), its library
// dependencies (which conflict with nothing) installed, and a small script there runs
// it with its own libraries and modules. Nothing of the machine's syslog changes.
const SYSLOG_NG_DIR = path.join(os.tmpdir(), 'memlog-test-syslog-ng');
const SYSLOG_NG_WRAPPER = path.join(SYSLOG_NG_DIR, 'syslog-ng');

function run(command: string, args: string[], cwd?: string): { ok: boolean; output: string } {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 10 * 60_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

const lastLines = (output: string): string => output.trim().split('\n').slice(-2).join(' / ');

/** The wrapper that runs an unpacked syslog-ng, if it is there and runs. */
function unpackedSyslogNg(): string | undefined {
  if (!fs.existsSync(SYSLOG_NG_WRAPPER)) return undefined;
  return run(SYSLOG_NG_WRAPPER, ['--version']).ok ? SYSLOG_NG_WRAPPER : undefined;
}

/** Unpacks syslog-ng-core as said above; the reason it could not, or undefined when it did. */
async function unpackSyslogNg(): Promise<string | undefined> {
  const pkg = PACKAGE['syslog-ng'];
  if (process.env.MEMLOG_TEST_NO_INSTALL) return `syslog-ng is not installed, and MEMLOG_TEST_NO_INSTALL is set (it would be unpacked from ${pkg})`;
  if (process.getuid?.() !== 0) return `not root, so ${pkg} cannot be unpacked by the tests (its library dependencies need apt-get install)`;
  for (const tool of ['apt-get', 'apt-cache', 'dpkg-deb']) if (!findProgram(tool)) return `no ${tool} here to unpack ${pkg} with`;
  return withAptLock(() => {
    removeOldMarkers();
    const marker = triedMarker(pkg);
    if (fs.existsSync(marker)) return fs.readFileSync(marker, 'utf8');
    if (unpackedSyslogNg()) return undefined;
    const fail = (why: string): string => {
      fs.writeFileSync(marker, why);
      return why;
    };
    process.stderr.write(`memlog tests: unpacking ${pkg} (apt-get download) into ${SYSLOG_NG_DIR}, not installing it: it would remove rsyslog\n`);
    fs.rmSync(SYSLOG_NG_DIR, { recursive: true, force: true });
    fs.mkdirSync(SYSLOG_NG_DIR, { recursive: true, mode: 0o755 });
    let r = run('apt-get', ['download', pkg], SYSLOG_NG_DIR);
    if (!r.ok) {
      aptGet(['update']);
      r = run('apt-get', ['download', pkg], SYSLOG_NG_DIR);
    }
    const deb = fs.readdirSync(SYSLOG_NG_DIR).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
    if (!r.ok || !deb) return fail(`apt-get download ${pkg} failed: ${lastLines(r.output)}`);
    const debPath = path.join(SYSLOG_NG_DIR, deb);
    // Its Depends, first alternative of each, without versions: the libraries it links with.
    const depends = run('dpkg-deb', ['-f', debPath, 'Depends']);
    if (!depends.ok) return fail(`dpkg-deb -f ${deb} Depends failed: ${lastLines(depends.output)}`);
    const libs = depends.output.split(',').map((d) => d.split('|')[0].trim().split(/[\s(]/)[0]).filter(Boolean);
    const deps = aptGet(['install', '-y', '--no-install-recommends', ...libs]);
    if (!deps.ok) return fail(`apt-get install of ${pkg}'s dependencies (${libs.join(' ')}) failed: ${lastLines(deps.output)}`);
    const root = path.join(SYSLOG_NG_DIR, 'root');
    const x = run('dpkg-deb', ['-x', debPath, root]);
    if (!x.ok) return fail(`dpkg-deb -x ${deb} failed: ${lastLines(x.output)}`);
    // Its modules sit in usr/lib/syslog-ng/VERSION/; its own libraries in usr/lib/syslog-ng/.
    const libDir = path.join(root, 'usr/lib/syslog-ng');
    const moduleDir = fs
      .readdirSync(libDir)
      .map((d) => path.join(libDir, d))
      .find((d) => fs.existsSync(path.join(d, 'libaffile.so')));
    const binary = path.join(root, 'usr/sbin/syslog-ng');
    if (!moduleDir || !fs.existsSync(binary)) return fail(`${deb} does not hold usr/sbin/syslog-ng and its modules where expected`);
    const sh = (p: string): string => `'${p.replace(/'/g, `'\\''`)}'`;
    fs.writeFileSync(
      SYSLOG_NG_WRAPPER,
      `#!/bin/sh\n# syslog-ng unpacked from ${deb} by memlog's tests (test/peers.ts), not installed.\nLD_LIBRARY_PATH=${sh(libDir)} exec ${sh(binary)} --module-path=${sh(moduleDir)} "$@"\n`,
      { mode: 0o755 },
    );
    const v = run(SYSLOG_NG_WRAPPER, ['--version']);
    if (!v.ok) return fail(`the unpacked syslog-ng does not run: ${lastLines(v.output)}`);
    return undefined;
  });
}

/** The path of each program, or why one cannot be had (installing what is missing where it can). */
export async function peers(names: PeerName[]): Promise<{ paths: Record<string, string> } | { why: string }> {
  const paths: Record<string, string> = {};
  for (const name of names) {
    let found = findProgram(name);
    if (!found && name === 'syslog-ng') {
      found = unpackedSyslogNg();
      if (!found) {
        const why = await unpackSyslogNg();
        found = unpackedSyslogNg();
        if (!found) return { why: why ?? 'syslog-ng could not be unpacked' };
      }
    } else if (!found) {
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
