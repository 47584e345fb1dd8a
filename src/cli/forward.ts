/** The forwarder's command line: `memlog forward -to URL [-to URL ...] [flags]`. */
import os from 'node:os';
import { DEFAULT_QUERY_SOCKET } from '../protocol/wire.js';
import type { Filter } from '../filter/entry-filter.js';
import { FACILITY_NAMES, parseFacility } from '../filter/levels.js';
import { DestinationError, parseDestination, SCHEMES, type Destination } from '../forward/destination.js';
import { Forwarder } from '../forward/forwarder.js';
import { DEFAULT_STATE_DIR } from '../forward/cursor-store.js';
import { InvalidValueError, parseCommandLine, UsageError, type FlagSpecs } from './flags.js';
import { priorityFlag, sourceFlags } from './logread-flags.js';

export const FORWARD_SYNOPSIS = 'memlog forward -to URL [-to URL ...] [-socket PATH] [-state-dir DIR] [flags]';

export const FORWARD_FLAGS = {
  to: { type: 'strings', arg: 'URL', help: `a destination (repeatable): ${SCHEMES.map((s) => `${s}://HOST:PORT`).join(', ')}` },
  socket: { type: 'string', arg: 'PATH', default: DEFAULT_QUERY_SOCKET, help: "memlogd's query socket" },
  'state-dir': { type: 'string', arg: 'DIR', default: DEFAULT_STATE_DIR, help: "where each destination's cursor is kept" },
  source: { type: 'strings', arg: 'GLOB', help: "only sources matching the glob (* and ?); any of them; '!GLOB' excludes" },
  p: { type: 'string', arg: 'LEVEL', help: 'only entries of this severity or more urgent (emerg..debug or 0-7); entries without one count as info' },
  hostname: { type: 'string', arg: 'NAME', help: "the host name sent with every entry (default: this machine's)" },
  facility: { type: 'string', arg: 'NAME', default: 'user', help: `facility of entries that do not carry their own: ${FACILITY_NAMES.join(', ')}, or 0-23` },
  'tls-ca': { type: 'string', arg: 'FILE', help: "PEM file of the CA(s) the server's certificate must chain to (default: the system's)" },
  'tls-cert': { type: 'string', arg: 'FILE', help: 'PEM file of our client certificate, for servers that ask for one' },
  'tls-key': { type: 'string', arg: 'FILE', help: "PEM file of our client certificate's key" },
  'tls-servername': { type: 'string', arg: 'NAME', help: "the name the server's certificate must carry (default: the URL's host)" },
  'tls-insecure': { type: 'bool', help: "do not verify the server's certificate (says so; for tests only)" },
  'relp-window': { type: 'int', arg: 'N', default: 1024, help: 'RELP: entries sent and not yet acknowledged, at most' },
} satisfies FlagSpecs;

export async function forwardMain(argv: string[], synopsis = FORWARD_SYNOPSIS): Promise<number> {
  const parsed = parseCommandLine(argv, FORWARD_FLAGS, synopsis);
  if (!parsed) return 0;
  const { values, rest } = parsed;
  if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
  const urls = values.to ?? [];
  if (urls.length === 0) throw new UsageError('give at least one destination with -to URL');
  let destinations: Destination[];
  try {
    destinations = urls.map(parseDestination);
  } catch (err) {
    if (err instanceof DestinationError) throw new UsageError(err.message);
    throw err;
  }
  const { include, exclude } = sourceFlags(values.source ?? []);
  const filter: Filter = { sources: include, exclude };
  if (values.p !== undefined) filter.priority = priorityFlag(values.p);
  const facilityText = values.facility ?? 'user';
  const facility = parseFacility(facilityText);
  if (facility === undefined) throw new InvalidValueError('facility', facilityText, `give ${FACILITY_NAMES.join(', ')}, or 0-23`);
  const relpWindow = values['relp-window'] ?? 1024;
  if (relpWindow < 1 || relpWindow > 1_000_000) throw new InvalidValueError('relp-window', String(relpWindow), 'must be 1 to 1000000');
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) throw new UsageError('-tls-cert and -tls-key go together');
  const warn = (msg: string): boolean => process.stderr.write(`memlog-forward: ${msg}\n`);
  if (values['tls-insecure'] && destinations.some((d) => d.scheme === 'tls' || d.scheme === 'relp+tls' || d.scheme === 'otlps')) {
    warn("-tls-insecure: the servers' certificates are not verified; anyone on the path can read and change what is sent");
  }
  const forwarder = new Forwarder({
    socket: values.socket ?? DEFAULT_QUERY_SOCKET,
    destinations,
    stateDir: values['state-dir'] ?? DEFAULT_STATE_DIR,
    message: { hostname: values.hostname ?? os.hostname(), facility },
    tls: { ca: values['tls-ca'], cert: values['tls-cert'], key: values['tls-key'], servername: values['tls-servername'], insecure: values['tls-insecure'] },
    filter,
    relpWindow,
    warn,
    info: warn,
  });
  // SIGTERM (a shutdown): what memlogd holds goes out first, within bounds; a second signal, or SIGINT, stops at once.
  process.once('SIGTERM', () => {
    process.once('SIGTERM', () => forwarder.stop());
    void forwarder.drainThenStop();
  });
  process.once('SIGINT', () => forwarder.stop());
  await forwarder.run();
  return 0;
}
