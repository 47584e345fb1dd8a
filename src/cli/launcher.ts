/** The launcher's command line: `logwrite [-socket PATH] [-n NAME] [-no-tee] COMMAND [ARGS...]` (PROTOCOL.md section 5). */
import fs from 'node:fs';
import { DEFAULT_LOG_SOCKET } from '../protocol/wire.js';
import { launch } from '../clients/launcher.js';
import { execLaunch } from '../clients/launcher-exec.js';
import { parseCommandLine, usage, type FlagSpecs } from './flags.js';

export const LAUNCHER_FLAGS = {
  socket: { type: 'string', arg: 'PATH', default: DEFAULT_LOG_SOCKET, help: "memlogd's log socket" },
  n: { type: 'string', arg: 'NAME', help: 'source name for stderr (stdout is NAME.out); defaults to the command' },
  'no-tee': { type: 'bool', help: 'become the command (same pid, nothing left running); its output goes to memlogd only, not also here' },
} satisfies FlagSpecs;

export const LAUNCHER_SYNOPSIS = 'logwrite [-socket PATH] [-n NAME] [-no-tee] COMMAND [ARGS...]';

export async function launcherMain(argv: string[], synopsis = LAUNCHER_SYNOPSIS): Promise<number> {
  const parsed = parseCommandLine(argv, LAUNCHER_FLAGS, synopsis);
  if (!parsed) return 0;
  const { values, rest } = parsed;
  if (rest.length === 0) {
    process.stderr.write(`logwrite: no command given\n${usage(synopsis, LAUNCHER_FLAGS)}`);
    return 2;
  }
  if (values['no-tee']) {
    return execLaunch({
      socket: values.socket ?? DEFAULT_LOG_SOCKET,
      name: values.n,
      command: rest[0],
      args: rest.slice(1),
      // Straight to fd 2: process.stderr would make a pipe there non-blocking, for the command too.
      tell: (line) => fs.writeSync(2, `logwrite: ${line}\n`),
    });
  }
  let warned = false;
  return launch({
    socket: values.socket ?? DEFAULT_LOG_SOCKET,
    name: values.n,
    command: rest[0],
    args: rest.slice(1),
    stdout: process.stdout,
    stderr: process.stderr,
    warn: (msg) => {
      if (!warned) process.stderr.write(`logwrite: ${msg}\n`);
      warned = true;
    },
  });
}
