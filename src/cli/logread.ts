/** logread: `logread [-socket PATH] [-f | -F] [filters] [-o FORMAT]` (PROTOCOL.md section 4; the flags: README). */
import { logread } from '../clients/logread.js';
import { parseCommandLine } from './flags.js';
import { LOGREAD_FLAGS, logreadOptions } from './logread-flags.js';

export { LOGREAD_FLAGS } from './logread-flags.js';

export const LOGREAD_SYNOPSIS =
  'logread [-socket PATH] [-f | -F] [-n N] [-source GLOB]... [-since TIME] [-until TIME] [-grep PATTERN [-i]] [-p LEVEL] [-o FORMAT] [-after-seq SEQ [-daemon ID]] [-log-dir DIR]';

export async function logreadMain(argv: string[], synopsis = LOGREAD_SYNOPSIS): Promise<number> {
  const parsed = parseCommandLine(argv, LOGREAD_FLAGS, synopsis);
  if (!parsed) return 0;
  const { values, rest } = parsed;
  if (rest.length > 0) {
    process.stderr.write(`logread: unexpected argument "${rest[0]}"\n`);
    return 2;
  }
  // Every value is checked before anything is sent to the daemon.
  const options = logreadOptions(values);
  // A reader that went away (logread | head) is a normal end, not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  await logread({ ...options, out: process.stdout, warn: (msg) => process.stderr.write(`logread: ${msg}\n`) });
  return 0;
}
