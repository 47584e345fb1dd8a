/**
 * `memlog bundle -o FILE [-socket PATH] [-log-dir DIR] [-config FILE] [-kmsg PATH]`:
 * one .tar.gz with the ring, the persister's files, the kernel log, the init
 * config and a summary, for a bug report. memlogd being down is not an error
 * (the bundle then holds the files only, and says so).
 */
import { createBundle } from '../bundle/bundle.js';
import { DEFAULT_STATE_DIR } from '../forward/cursor-store.js';
import { DEFAULT_QUERY_SOCKET } from '../protocol/wire.js';
import { DEFAULT_KMSG_DEVICE } from '../kmsg/reader.js';
import { parseCommandLine, usage, type FlagSpecs } from './flags.js';

export const BUNDLE_FLAGS = {
  o: { type: 'string', arg: 'FILE', help: 'write the bundle to FILE (a .tar.gz; required)' },
  socket: { type: 'string', arg: 'PATH', default: DEFAULT_QUERY_SOCKET, help: "memlogd's query socket" },
  'log-dir': { type: 'string', arg: 'DIR', default: '/var/log', help: "the persister's directory: every regular file in it goes under logs/" },
  config: { type: 'string', arg: 'FILE', help: 'an init config file to include as config.yml' },
  'forward-state': { type: 'string', arg: 'DIR', default: DEFAULT_STATE_DIR, help: "the forwarder's state directory: its cursors go under forward/" },
  kmsg: { type: 'string', arg: 'PATH', default: DEFAULT_KMSG_DEVICE, help: 'kernel log device (included as kmsg.txt when readable)' },
} satisfies FlagSpecs;

export async function bundleMain(
  argv: string[],
  synopsis = 'memlog bundle -o FILE [-socket PATH] [-log-dir DIR] [-config FILE] [-kmsg PATH] [-forward-state DIR]',
): Promise<number> {
  const parsed = parseCommandLine(argv, BUNDLE_FLAGS, synopsis);
  if (!parsed) return 0;
  const { values, rest } = parsed;
  if (rest.length > 0) {
    process.stderr.write(`bundle: unexpected argument "${rest[0]}"\n${usage(synopsis, BUNDLE_FLAGS)}`);
    return 2;
  }
  const output = values.o;
  if (output === undefined || output === '') {
    process.stderr.write(`bundle: -o FILE is required\n${usage(synopsis, BUNDLE_FLAGS)}`);
    return 2;
  }
  const stderr = process.stderr;
  // A progress line, rewritten in place, only for a person watching a terminal.
  let shown = false;
  const clear = (): void => {
    if (shown) stderr.write('\r\x1b[K');
    shown = false;
  };
  const progress = stderr.isTTY
    ? (text: string): void => {
        const width = Math.max(20, (stderr.columns || 80) - 1);
        stderr.write(`\r${`bundle: ${text}`.slice(0, width)}\x1b[K`);
        shown = true;
      }
    : undefined;
  const socket = values.socket ?? DEFAULT_QUERY_SOCKET;
  // Ctrl-C or SIGTERM: stop, remove the partial output and the temporary files, exit 128+signal.
  const abort = new AbortController();
  let signalled: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals): void => {
    signalled ??= sig;
    abort.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let summary;
  try {
    summary = await createBundle({
      output,
      querySocket: socket,
      logDir: values['log-dir'] ?? '/var/log',
      config: values.config,
      forwardStateDir: values['forward-state'] ?? DEFAULT_STATE_DIR,
      kmsgDevice: values.kmsg ?? DEFAULT_KMSG_DEVICE,
      progress,
      signal: abort.signal,
    });
  } catch (err) {
    clear();
    if (signalled !== undefined) {
      stderr.write(`bundle: interrupted (${signalled}): no bundle written\n`);
      return signalled === 'SIGINT' ? 130 : 143;
    }
    stderr.write(`bundle: ${err instanceof Error ? err.message.replace(/\s+/g, ' ') : String(err)}\n`);
    return 1;
  }
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  clear();
  const size = `${(summary.bytes / 1e6).toFixed(summary.bytes < 1e6 ? 2 : 1)} MB`;
  process.stdout.write(`bundle: wrote ${summary.output} (${summary.entries} entries, ${summary.files} files, ${size})\n`);
  for (const note of summary.notes) stderr.write(`bundle: ${note}\n`);
  return 0;
}
