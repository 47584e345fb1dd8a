/** memlog status: what memlogd says of itself (query mode 4): ring, streams with their senders, clients. */
import { DEFAULT_QUERY_SOCKET } from '../protocol/wire.js';
import { queryStatus } from '../clients/query-client.js';
import { parseCommandLine, type FlagSpecs } from './flags.js';

export const STATUS_FLAGS = {
  socket: { type: 'string', arg: 'PATH', default: DEFAULT_QUERY_SOCKET, help: "memlogd's query socket" },
} satisfies FlagSpecs;

export async function statusMain(argv: string[], synopsis = 'memlog status [-socket PATH]'): Promise<number> {
  const parsed = parseCommandLine(argv, STATUS_FLAGS, synopsis);
  if (!parsed) return 0;
  const status = await queryStatus(parsed.values.socket ?? DEFAULT_QUERY_SOCKET);
  process.stdout.write(JSON.stringify(status, null, 2) + '\n');
  return 0;
}
