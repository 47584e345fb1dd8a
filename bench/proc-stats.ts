/** What the benchmarks share: CPU time and memory of another process (from /proc), waiting for a socket. */
import fs from 'node:fs';
import net from 'node:net';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** User plus system CPU time of pid, in microseconds. */
export function cpuMicros(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after the command: state is [0]; utime and stime are [11] and [12].
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / TICKS_PER_SECOND;
}

function statusField(pid: number, field: string): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Peak resident memory of pid, in bytes. */
export function peakRss(pid: number): number {
  return statusField(pid, 'VmHWM');
}

export function rss(pid: number): number {
  return statusField(pid, 'VmRSS');
}

/** Resolves once something accepts connections on the socket at path (polling every ms). */
export async function waitForSocket(path: string): Promise<void> {
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(path);
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 1));
  }
}
