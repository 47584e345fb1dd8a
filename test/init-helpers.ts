/** What the tests of memlog init share: a config file, the init as a process, the process table. */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BIN } from './helpers.js';

export function writeConfig(dir: string, yaml: string): string {
  const file = path.join(dir, 'boot.yml');
  fs.writeFileSync(file, yaml);
  return file;
}

/**
 * Runs `memlog init` in dir until it stops by itself (-stop-after) or is
 * signalled. If it still runs when the test ends (a failed test), it and
 * everything it started (each program in its own process group) are killed.
 */
export function startInit(t: { after(fn: () => void): void }, dir: string, config: string, flags: string[] = []) {
  const proc = spawn(process.execPath, [BIN('memlog'), 'init', ...flags, config], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  proc.stdout.resume();
  const done = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  t.after(() => {
    if (proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) return;
    for (const child of childrenOf(proc.pid)) {
      try {
        process.kill(-child, 'SIGKILL');
      } catch {
        // not a group leader, or gone
      }
    }
    proc.kill('SIGKILL');
  });
  return { proc, done, stderr: () => stderr };
}

/** Pids whose parent is pid. */
function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const p of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) found.push(Number(p));
    } catch {
      // gone while we looked
    }
  }
  return found;
}

export function readIfThere(file: string): string {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
}

/** Processes whose command line contains marker, as "PID: COMMAND" (the process table, as ps would show it); children of parent only, if given. */
export function processesWith(marker: string, parent?: number): string[] {
  const found: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (!cmd.includes(marker) || Number(pid) === process.pid) continue;
      if (parent !== undefined) {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== parent) continue;
      }
      found.push(`${pid}: ${cmd}`);
    } catch {
      // gone while we looked
    }
  }
  return found;
}
