/** memlog status: what memlogd says of itself (query mode 4): ring, streams with their senders, clients. */
import { DEFAULT_QUERY_SOCKET } from '../daemon/memlogd.js';
import { connectQuery, LineReader } from '../clients/query-client.js';
import { MODE_STATUS } from '../outputs/query-request.js';
import { parseCommandLine, type FlagSpecs } from './flags.js';

export const STATUS_FLAGS = {
  socket: { type: 'string', arg: 'PATH', default: DEFAULT_QUERY_SOCKET, help: "memlogd's query socket" },
} satisfies FlagSpecs;

export async function statusMain(argv: string[], synopsis = 'memlog status [-socket PATH]'): Promise<number> {
  const parsed = parseCommandLine(argv, STATUS_FLAGS, synopsis);
  if (!parsed) return 0;
  const path = parsed.values.socket ?? DEFAULT_QUERY_SOCKET;
  const socket = await connectQuery(path, MODE_STATUS);
  const line = await new Promise<string>((resolve, reject) => {
    const lines = new LineReader();
    let first: string | undefined;
    socket.on('data', (c: Buffer) => lines.push(c, (l) => (first ??= l.toString('utf8'))));
    socket.on('end', () => (first === undefined ? reject(new Error(`${path} closed the connection without a status`)) : resolve(first)));
    socket.on('error', reject);
  });
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new Error(`${path} answered with something that is not JSON (an upstream memlogd has no status)`);
  }
  const status = (value as { memlogd?: unknown }).memlogd;
  if (status === undefined) throw new Error(`${path} did not answer with a status: ${line.slice(0, 200)}`);
  process.stdout.write(JSON.stringify(status, null, 2) + '\n');
  return 0;
}
