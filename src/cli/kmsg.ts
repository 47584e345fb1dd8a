/**
 * kmsg: `memlog-kmsg [-device PATH] [-follow=false]`, LinuxKit's kmsg: prints
 * the kernel log to stderr, which the launcher hands to memlogd as source
 * `kmsg` (`logwrite -n kmsg memlog-kmsg`).
 *
 * No signal handlers: following /dev/kmsg leaves a blocking read on the thread
 * pool that nothing can cancel, and process.exit() would wait for it (see
 * kmsg/reader.ts); SIGTERM/SIGINT keep their default action and end the
 * process at once, as they end upstream's.
 */
import { DEFAULT_KMSG_DEVICE, readKmsg } from '../kmsg/reader.js';
import { parseCommandLine, type FlagSpecs } from './flags.js';

export const KMSG_FLAGS = {
  device: { type: 'string', arg: 'PATH', default: DEFAULT_KMSG_DEVICE, help: 'kernel log device, or a file of captured records' },
  follow: { type: 'bool', default: true, help: 'wait for new records; -follow=false prints those there are and exits' },
} satisfies FlagSpecs;

export async function kmsgMain(argv: string[], synopsis = 'memlog-kmsg [-device PATH] [-follow=false]'): Promise<number> {
  const parsed = parseCommandLine(argv, KMSG_FLAGS, synopsis);
  if (!parsed) return 0;
  const { values, rest } = parsed;
  if (rest.length > 0) {
    process.stderr.write(`kmsg: unexpected argument "${rest[0]}"\n`);
    return 2;
  }
  // Nowhere left to write to (the launcher is gone). Upstream dies of SIGPIPE then; Node ignores
  // SIGPIPE, and process.exit() could hang on a pending read, so die of SIGTERM's default action.
  process.stderr.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.kill(process.pid, 'SIGTERM');
    else throw err;
  });
  const stderr = process.stderr;
  await readKmsg({
    path: values.device ?? DEFAULT_KMSG_DEVICE,
    follow: values.follow ?? true,
    // Upstream prints to stderr. Writes to a pipe are synchronous on Linux; for anything else, wait for 'drain'.
    out: (line) => {
      if (stderr.write(line + '\n')) return;
      return new Promise<void>((resolve) => stderr.once('drain', resolve));
    },
    warn: (msg) => stderr.write(`kmsg: ${msg}\n`),
  });
  return 0;
}
