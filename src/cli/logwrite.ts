/**
 * bin/logwrite: upstream has two programs of this name. With a command it is
 * the launcher (pkg/memlogd/cmd/logwrite); without one, the persister
 * (pkg/logwrite). The flags tell them apart only by the command, so does this.
 */
import { parseFlags, usage, UsageError } from './flags.js';
import { LAUNCHER_FLAGS, LAUNCHER_SYNOPSIS, launcherMain } from './launcher.js';
import { PERSISTER_FLAGS, persisterMain } from './persister.js';

export async function logwriteMain(argv: string[]): Promise<number> {
  const { rest, help } = parseFlags(argv, { ...PERSISTER_FLAGS, ...LAUNCHER_FLAGS });
  if (help) {
    const persister = 'logwrite [-socket PATH] [-log-dir DIR] [flags]';
    const width = Math.max(LAUNCHER_SYNOPSIS.length, persister.length) + 3;
    process.stdout.write(usage(`${LAUNCHER_SYNOPSIS.padEnd(width)}(run COMMAND, its output to memlogd)`, LAUNCHER_FLAGS));
    process.stdout.write(usage(`${persister.padEnd(width)}(persist the ring to files)`, PERSISTER_FLAGS));
    return 0;
  }
  if (rest.length > 0) return launcherMain(argv);
  if (argv.includes('-n') || argv.some((a) => a.startsWith('-n='))) throw new UsageError('-n names a command\'s output, but no command was given');
  if (argv.some((a) => /^--?no-tee(=|$)/.test(a))) throw new UsageError('-no-tee runs a command, but no command was given');
  return persisterMain(argv);
}
