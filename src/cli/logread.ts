/** logread: `logread [-socket PATH] [-f] [-F]` (PROTOCOL.md section 4). */
import { DEFAULT_QUERY_SOCKET } from '../protocol/wire.js';
import { MODE_DUMP, MODE_DUMP_FOLLOW, MODE_FOLLOW } from '../protocol/wire.js';
import { logread } from '../clients/logread.js';
import { parseCommandLine, type FlagSpecs } from './flags.js';

export const LOGREAD_FLAGS = {
  socket: { type: 'string', arg: 'PATH', default: DEFAULT_QUERY_SOCKET, help: "memlogd's query socket" },
  f: { type: 'bool', help: 'follow: print entries as they arrive' },
  F: { type: 'bool', help: 'dump the ring, then follow' },
} satisfies FlagSpecs;

export async function logreadMain(argv: string[], synopsis = 'logread [-socket PATH] [-f | -F]'): Promise<number> {
  const parsed = parseCommandLine(argv, LOGREAD_FLAGS, synopsis);
  if (!parsed) return 0;
  const { values, rest } = parsed;
  if (rest.length > 0) {
    process.stderr.write(`logread: unexpected argument "${rest[0]}"\n`);
    return 2;
  }
  const mode = values.F ? MODE_DUMP_FOLLOW : values.f ? MODE_FOLLOW : MODE_DUMP;
  // A reader that went away (logread | head) is a normal end, not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  await logread({
    socket: values.socket ?? DEFAULT_QUERY_SOCKET,
    mode,
    out: process.stdout,
    warn: (msg) => process.stderr.write(`logread: ${msg}\n`),
  });
  return 0;
}
