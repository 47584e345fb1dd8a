/** How the init speaks of and signals the processes it runs. */
import type { ChildProcess } from 'node:child_process';

export function exitText(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `was killed by ${signal}` : `exited with status ${code}`;
}

/** Sends sig to the process group of proc (the program and whatever it started). */
export function signalGroup(proc: ChildProcess, sig: NodeJS.Signals): void {
  if (proc.pid === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
  try {
    process.kill(-proc.pid, sig);
  } catch {
    // The group is gone already.
  }
}
