/** What the figures were measured on, for the results file. */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { ROOT } from './paths.js';

export interface Machine {
  cpuModel: string;
  cpus: number;
  totalMemoryBytes: number;
  kernel: string;
  platform: string;
  node: string;
}

export function machine(): Machine {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cpus: cpus.length,
    totalMemoryBytes: os.totalmem(),
    kernel: `${os.type()} ${os.release()} ${os.version()}`,
    platform: `${os.platform()} ${os.arch()}`,
    node: process.version,
  };
}

export function describeMachine(m: Machine): string {
  return `${m.cpuModel} x ${m.cpus}, ${(m.totalMemoryBytes / 2 ** 30).toFixed(1)} GiB, ${m.kernel.split(' ').slice(0, 2).join(' ')}, Node ${m.node}`;
}

/** The commit the bench ran at, and whether the daemon's sources (src/, native/, bin/) had uncommitted changes. */
export function gitState(): { commit: string; dirty: boolean } | undefined {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const status = execFileSync('git', ['status', '--porcelain', '--', 'src', 'native', 'bin'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return { commit, dirty: status.trim() !== '' };
  } catch {
    return undefined;
  }
}
