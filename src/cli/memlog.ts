/**
 * memlog: one command for every job, `memlog daemon|read|run ...`.
 *
 * Each command's code is imported when it runs, not before (the bundle is
 * split, see scripts/bundle.mjs): `memlog init`, which lives as long as the
 * machine, then holds the init's code only, not the forwarder's, the bundle
 * writer's and the rest (measured: about 2.5 MB less resident).
 */
import type { Main } from './run.js';

type CommandMain = (argv: string[], synopsis: string) => Promise<number | undefined>;

interface Command {
  help: string;
  /** The command's main and its synopsis, imported on use. */
  load(): Promise<[CommandMain, string]>;
}

const COMMANDS: Record<string, Command> = {
  daemon: { help: 'run memlogd, the in-memory log daemon', load: async () => [(await import('./memlogd.js')).memlogdMain, 'memlog daemon [flags]'] },
  read: {
    help: 'dump or follow the ring, filtered (logread)',
    load: async () => {
      const m = await import('./logread.js');
      return [m.logreadMain, m.LOGREAD_SYNOPSIS.replace('logread', 'memlog read')];
    },
  },
  run: { help: 'run a command with its output handed to memlogd', load: async () => [(await import('./launcher.js')).launcherMain, 'memlog run [-socket PATH] [-n NAME] [-no-tee] COMMAND [ARGS...]'] },
  kmsg: { help: 'print the kernel log (/dev/kmsg) to stderr, as upstream kmsg', load: async () => [(await import('./kmsg.js')).kmsgMain, 'memlog kmsg [-device PATH] [-follow=false]'] },
  init: { help: 'boot: memlogd first, then on-boot actions and services wired to it', load: async () => [(await import('./init.js')).initMain, 'memlog init [-stop-after SECONDS] [-check] CONFIG.yml'] },
  status: { help: "memlogd's ring, streams (with who sent them) and clients, as JSON", load: async () => [(await import('./status.js')).statusMain, 'memlog status [-socket PATH]'] },
  write: { help: 'persist the ring to one file per source, with rotation (logwrite)', load: async () => [(await import('./persister.js')).persisterMain, 'memlog write [-socket PATH] [-log-dir DIR] [flags]'] },
  forward: {
    help: 'send every entry to syslog (tcp, tls, relp, udp) or OTLP receivers, resuming after any restart',
    load: async () => {
      const m = await import('./forward.js');
      return [m.forwardMain, m.FORWARD_SYNOPSIS];
    },
  },
  web: {
    help: 'serve the live log page, its HTTP API and Prometheus metrics',
    load: async () => {
      const m = await import('./web.js');
      return [m.webMain, m.WEB_SYNOPSIS];
    },
  },
  bundle: {
    help: 'write a diagnostics .tar.gz: the ring, log files, kernel log, summary',
    load: async () => [(await import('./bundle.js')).bundleMain, 'memlog bundle -o FILE [-socket PATH] [-log-dir DIR] [-config FILE] [-kmsg PATH] [-forward-state DIR]'],
  },
};

function overview(): string {
  const lines = ['Usage: memlog COMMAND [flags]', '', 'Commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(8)} ${c.help}`);
  lines.push('', "Run 'memlog COMMAND -help' for a command's flags.");
  return lines.join('\n') + '\n';
}

export const memlogMain: Main = async (argv) => {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '-h' || name === '-help' || name === '--help') {
    process.stdout.write(overview());
    return name === undefined ? 2 : 0;
  }
  const command = Object.prototype.hasOwnProperty.call(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    process.stderr.write(`memlog: unknown command "${name}"\n${overview()}`);
    return 2;
  }
  const [main, synopsis] = await command.load();
  return main(rest, synopsis);
};
