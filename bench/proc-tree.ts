/**
 * A process and its descendants, read from /proc: who they are (executable,
 * command line) and what memory they cost (PSS and RSS from smaps_rollup).
 * For the stack scenario, which sums these over the memlog processes of a boot.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface ProcInfo {
  pid: number;
  ppid: number;
  /** The executable (readlink /proc/PID/exe), '' if unreadable. */
  exe: string;
  argv: string[];
}

export interface ProcMemory {
  /** Proportional set size: each shared page divided among the processes that map it. Bytes. */
  pss: number;
  rss: number;
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command may hold spaces and parentheses: the fields start after the last ')'.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined; // gone meanwhile
  }
}

function infoOf(pid: number, ppid: number): ProcInfo | undefined {
  try {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (argv[argv.length - 1] === '') argv.pop();
    let exe = '';
    try {
      exe = fs.readlinkSync(`/proc/${pid}/exe`);
    } catch {
      // A zombie, or not ours to read.
    }
    return { pid, ppid, exe, argv };
  } catch {
    return undefined;
  }
}

/** root and every live descendant of it, root first. */
export function processTree(root: number): ProcInfo[] {
  const children = new Map<number, number[]>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const ppid = parentOf(pid);
    if (ppid === undefined) continue;
    const list = children.get(ppid) ?? [];
    list.push(pid);
    children.set(ppid, list);
  }
  const rootInfo = infoOf(root, parentOf(root) ?? 0);
  if (!rootInfo) return [];
  const out: ProcInfo[] = [rootInfo];
  for (let i = 0; i < out.length; i++) {
    for (const pid of children.get(out[i].pid) ?? []) {
      const info = infoOf(pid, out[i].pid);
      if (info) out.push(info);
    }
  }
  return out;
}

/** PSS and RSS of pid from /proc/PID/smaps_rollup, in bytes; undefined if it is gone. */
export function memoryOf(pid: number): ProcMemory | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  } catch {
    return undefined;
  }
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
    if (!m) throw new Error(`/proc/${pid}/smaps_rollup has no ${name} line`);
    return Number(m[1]) * 1024;
  };
  return { pss: field('Pss'), rss: field('Rss') };
}

/** The memlog program a process runs (memlogd, logwrite, ...), from a bin/NAME in its command line; undefined if none. */
export function memlogProgram(argv: string[]): string | undefined {
  for (const arg of argv) {
    const m = /(?:^|\/)bin\/(memlogd|logwrite|logread|memlog-kmsg|memlog-forward|memlog-web|memlog)$/.exec(arg);
    if (m) return m[1];
  }
  return undefined;
}

/** A Node process: its executable is named node (or is nodeExe), or it runs a memlog bin. */
export function isMemlogProcess(p: ProcInfo, nodeExe: string): boolean {
  return p.exe === nodeExe || path.basename(p.exe) === 'node' || memlogProgram(p.argv) !== undefined;
}
