/**
 * memlogd as the init's first child. The init binds both sockets itself and
 * hands them over as fds 3 and 4 (as -daemonize does), so they exist before
 * memlogd has even loaded; it then waits until memlogd answers, so that the
 * first on-boot action starts with logging in place.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { binPath } from '../paths.js';
import { bindSockets, DEFAULT_SOCKET_MODE } from '../daemon/socket-path.js';
import { connectResume, type Hello } from '../clients/query-client.js';
import type { MemlogdSection } from './config.js';


export interface MemlogdChild {
  proc: ChildProcess;
  logSocket: string;
  querySocket: string;
  /** The daemon's hello: its id and where its ring is. */
  status(): Promise<Hello | undefined>;
  /** SIGTERM, then SIGKILL after graceMs. */
  stop(graceMs: number): Promise<void>;
}

export async function startMemlogd(section: MemlogdSection, readyTimeoutMs = 10_000): Promise<MemlogdChild> {
  fs.mkdirSync(path.dirname(section.socketLog), { recursive: true });
  fs.mkdirSync(path.dirname(section.socketQuery), { recursive: true });
  const { logFd, queryFd } = await bindSockets(section, { mode: DEFAULT_SOCKET_MODE });
  const args = [binPath('memlogd'), '-fd-log=3', '-fd-query=4'];
  if (section.maxLines !== undefined) args.push(`-max-lines=${section.maxLines}`);
  if (section.maxLineLen !== undefined) args.push(`-max-line-len=${section.maxLineLen}`);
  if (section.maxBytes !== undefined) args.push(`-max-bytes=${section.maxBytes}`);
  // Its own process group: a Ctrl-C on the terminal goes to the init, which stops memlogd last.
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit', logFd, queryFd], detached: true });
  fs.closeSync(logFd);
  fs.closeSync(queryFd);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const child: MemlogdChild = {
    proc,
    logSocket: section.socketLog,
    querySocket: section.socketQuery,
    status: async () => {
      try {
        const c = await connectResume(section.socketQuery, {}, 1000);
        c.socket.destroy();
        return c.hello;
      } catch {
        return undefined;
      }
    },
    stop: async (graceMs) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      for (const p of [section.socketLog, section.socketQuery]) fs.rmSync(p, { force: true });
    },
  };
  const deadline = Date.now() + readyTimeoutMs;
  while (!(await child.status())) {
    if (proc.exitCode !== null) throw new Error(`memlogd exited with status ${proc.exitCode} before it was ready`);
    if (Date.now() > deadline) {
      await child.stop(1000);
      throw new Error(`memlogd did not answer on ${section.socketQuery} within ${readyTimeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return child;
}
