/** What the benchmarks share: CPU time and memory of another process (from /proc), waiting for a socket. */
import fs from 'node:fs';
import net from 'node:net';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/**
 * CPU time of pid (all its threads), in microseconds: the sum of each live
 * thread's time on a CPU from /proc/<pid>/task/<tid>/schedstat (nanoseconds),
 * so a run of a few milliseconds is measured too; where schedstat is not
 * available, user plus system time from /proc/<pid>/stat (10 ms ticks).
 * A thread that exits between two readings takes its time with it: fine for
 * daemons, whose threads (libuv's pool, V8's, Go's) live as long as they do.
 */
export function cpuMicros(pid: number): number {
  try {
    let ns = 0;
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // The thread has just exited.
      }
    }
    if (ns > 0) return ns / 1000;
  } catch {
    // No schedstat (CONFIG_SCHED_INFO off): ticks it is.
  }
  return cpuTicksMicros(pid);
}

/** User plus system CPU time of pid from /proc/<pid>/stat, in microseconds (10 ms resolution). */
export function cpuTicksMicros(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after the command: state is [0]; utime and stime are [11] and [12].
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / TICKS_PER_SECOND;
}

/** The whole machine's CPU time from /proc/stat, in ticks: busy (all but idle and iowait) and total, all cores summed. */
export function machineCpu(): { busy: number; total: number } {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const t = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = t.reduce((a, b) => a + b, 0);
  return { busy: total - t[3] - t[4], total };
}

function statusField(pid: number, field: string): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Peak resident memory of pid (VmHWM), in bytes. */
export function peakRss(pid: number): number {
  return statusField(pid, 'VmHWM');
}

/** Resident memory of pid now (VmRSS), in bytes. */
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
