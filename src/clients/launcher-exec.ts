/**
 * The launcher's -no-tee: hands memlogd the read ends of two socketpairs,
 * as the tee does, then becomes the command itself (execvp) with the write
 * ends as its stdout and stderr. Nothing stays resident: the command has the
 * launcher's pid, its output goes to memlogd alone, and its status is the
 * one its parent sees.
 */
import fs from 'node:fs';
import util from 'node:util';
import { execvp, type NativeSystemError } from '../native.js';
import { handOver } from './launcher.js';

export interface ExecLaunchOptions {
  socket: string;
  /** Source name for stderr; stdout is NAME.out. Defaults to the command. */
  name?: string;
  command: string;
  args: string[];
  /** One line for the user (on the launcher's own stderr, whatever the command's will be). */
  tell(line: string): void;
}

/** The streams handed to memlogd, [stdout, stderr]; undefined if it cannot be reached. */
async function streams(socket: string, name: string): Promise<[number, number] | undefined> {
  let out: number | undefined;
  try {
    out = await handOver(socket, `${name}.out`);
    return [out, await handOver(socket, name)];
  } catch {
    if (out !== undefined) fs.closeSync(out);
    return undefined;
  }
}

/**
 * Becomes the command; resolves only if it could not be run, to the status a
 * shell gives then: 127 when it is not found, 126 otherwise (not executable).
 */
export async function execLaunch(opts: ExecLaunchOptions): Promise<number> {
  const name = opts.name && opts.name !== '' ? opts.name : opts.command;
  const handed = await streams(opts.socket, name);
  if (!handed) opts.tell(`memlogd not reachable at ${opts.socket}; running ${opts.command} with its output unchanged`);
  try {
    execvp(opts.command, [opts.command, ...opts.args], handed ? [0, handed[0], handed[1]] : [0, 1, 2]);
  } catch (err) {
    // memlogd sees both streams end; the reason goes where the user looks.
    if (handed) for (const fd of handed) fs.closeSync(fd);
    const e = err as NativeSystemError;
    if (typeof e.errno !== 'number') throw err;
    const why = util.getSystemErrorMap().get(e.errno)?.[1] ?? e.message;
    opts.tell(`cannot run "${opts.command}": ${why} (${e.code})`);
    return e.code === 'ENOENT' ? 127 : 126;
  }
}
