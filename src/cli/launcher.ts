/** The launcher's command line: `logwrite [-socket PATH] [-n NAME] COMMAND [ARGS...]` (PROTOCOL.md section 5). */
import { DEFAULT_LOG_SOCKET } from '../protocol/wire.js';
import { launch } from '../clients/launcher.js';
import { parseCommandLine, usage, type FlagSpecs } from './flags.js';

export const LAUNCHER_FLAGS = {
  socket: { type: 'string', arg: 'PATH', default: DEFAULT_LOG_SOCKET, help: "memlogd's log socket" },
  n: { type: 'string', arg: 'NAME', help: 'source name for stderr (stdout is NAME.out); defaults to the command' },
} satisfies FlagSpecs;

export async function launcherMain(argv: string[], synopsis = 'logwrite [-socket PATH] [-n NAME] COMMAND [ARGS...]'): Promise<number> {
  const parsed = parseCommandLine(argv, LAUNCHER_FLAGS, synopsis);
  if (!parsed) return 0;
  const { values, rest } = parsed;
  if (rest.length === 0) {
    process.stderr.write(`logwrite: no command given\n${usage(synopsis, LAUNCHER_FLAGS)}`);
    return 2;
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
