/** memlog: one command for every job, `memlog daemon|read|run ...`. */
import { memlogdMain } from './memlogd.js';
import { LOGREAD_SYNOPSIS, logreadMain } from './logread.js';
import { launcherMain } from './launcher.js';
import { kmsgMain } from './kmsg.js';
import { persisterMain } from './persister.js';
import { bundleMain } from './bundle.js';
import { initMain } from './init.js';
import { statusMain } from './status.js';
import { FORWARD_SYNOPSIS, forwardMain } from './forward.js';
import type { Main } from './run.js';

const COMMANDS: Record<string, { main: (argv: string[], synopsis: string) => Promise<number | undefined>; synopsis: string; help: string }> = {
  daemon: { main: memlogdMain, synopsis: 'memlog daemon [flags]', help: 'run memlogd, the in-memory log daemon' },
  read: { main: logreadMain, synopsis: LOGREAD_SYNOPSIS.replace('logread', 'memlog read'), help: 'dump or follow the ring, filtered (logread)' },
  run: { main: launcherMain, synopsis: 'memlog run [-socket PATH] [-n NAME] [-no-tee] COMMAND [ARGS...]', help: "run a command with its output handed to memlogd" },
  kmsg: { main: kmsgMain, synopsis: 'memlog kmsg [-device PATH] [-follow=false]', help: 'print the kernel log (/dev/kmsg) to stderr, as upstream kmsg' },
  init: { main: initMain, synopsis: 'memlog init [-stop-after SECONDS] CONFIG.yml', help: 'boot: memlogd first, then on-boot actions and services wired to it' },
  status: { main: statusMain, synopsis: 'memlog status [-socket PATH]', help: "memlogd's ring, streams (with who sent them) and clients, as JSON" },
  write: { main: persisterMain, synopsis: 'memlog write [-socket PATH] [-log-dir DIR] [flags]', help: 'persist the ring to one file per source, with rotation (logwrite)' },
  forward: { main: forwardMain, synopsis: FORWARD_SYNOPSIS, help: 'send every entry to syslog (tcp, tls, relp, udp) or OTLP receivers, resuming after any restart' },
  bundle: { main: bundleMain, synopsis: 'memlog bundle -o FILE [-socket PATH] [-log-dir DIR] [-config FILE] [-kmsg PATH] [-forward-state DIR]', help: 'write a diagnostics .tar.gz: the ring, log files, kernel log, summary' },
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
  return command.main(rest, command.synopsis);
};
