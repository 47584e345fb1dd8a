/** The persister's command line: `logwrite [-socket PATH] [-log-dir DIR] [-max-log-files N] [-max-log-size BYTES] ...` (PROTOCOL.md section 6). */
import { DEFAULT_QUERY_SOCKET } from '../protocol/wire.js';
import { Persister } from '../persist/persister.js';
import { FILE_FORMATS, type FileFormat } from '../persist/file-format.js';
import { parseCommandLine, UsageError, type FlagSpecs } from './flags.js';

export const PERSISTER_FLAGS = {
  socket: { type: 'string', arg: 'PATH', default: DEFAULT_QUERY_SOCKET, help: "memlogd's query socket" },
  'log-dir': { type: 'string', arg: 'DIR', default: '/var/log', help: 'directory for the log files, one per source' },
  'max-log-files': { type: 'int', default: 10, help: 'files kept per source: X.log, then X.log.1 (newest rotated) ... X.log.<N-1>' },
  'max-log-size': { type: 'int', arg: 'BYTES', default: 1024 * 1024, help: 'rotate X.log once a write leaves it larger than this' },
  compress: { type: 'bool', help: 'gzip rotated files (X.log.1.gz ...)' },
  'max-source-bytes': { type: 'int', arg: 'BYTES', help: 'bound on the bytes kept per source; the oldest rotated files go first' },
  'max-dir-bytes': { type: 'int', arg: 'BYTES', help: 'bound on the bytes kept in the directory; the oldest rotated files go first' },
  format: { type: 'string', arg: 'text|json', default: 'text', help: "the files' lines: text (upstream's `<time> <source> <msg>`) or json (one object per line: every field, nanosecond time, seq, daemon id)" },
  fsync: { type: 'bool', help: 'fsync the files written, then the resume state, at every flush: what the state counts as written survives a power cut' },
} satisfies FlagSpecs;

export async function persisterMain(argv: string[], synopsis = 'logwrite [-socket PATH] [-log-dir DIR] [-max-log-files N] [-max-log-size BYTES] [flags]'): Promise<number> {
  const parsed = parseCommandLine(argv, PERSISTER_FLAGS, synopsis);
  if (!parsed) return 0;
  const { values, rest } = parsed;
  if (rest.length > 0) {
    process.stderr.write(`logwrite: unexpected argument "${rest[0]}"\n`);
    return 2;
  }
  const maxFiles = values['max-log-files'] ?? 10;
  const maxFileSize = values['max-log-size'] ?? 1024 * 1024;
  if (maxFiles < 1) throw new Error('-max-log-files must be 1 or more');
  if (maxFileSize < 1) throw new Error('-max-log-size must be 1 or more');
  const format = values.format ?? 'text';
  if (!(FILE_FORMATS as readonly string[]).includes(format)) throw new UsageError(`-format must be text or json, not "${format}"`);
  const abort = new AbortController();
  process.once('SIGTERM', () => abort.abort());
  process.once('SIGINT', () => abort.abort());
  const persister = new Persister({
    socket: values.socket ?? DEFAULT_QUERY_SOCKET,
    dir: values['log-dir'] ?? '/var/log',
    maxFiles,
    maxFileSize,
    compress: values.compress ?? false,
    maxSourceBytes: values['max-source-bytes'],
    maxDirBytes: values['max-dir-bytes'],
    fsync: values.fsync ?? false,
    format: format as FileFormat,
    warn: (msg) => process.stderr.write(`logwrite: ${msg}\n`),
    info: (msg) => process.stderr.write(`logwrite: ${msg}\n`),
    signal: abort.signal,
  });
  await persister.run();
  return 0;
}
