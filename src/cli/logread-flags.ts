/**
 * logread's flags, and the options they make once every value is checked: a
 * value that cannot be used is an InvalidValueError (one line naming the flag
 * and the value, exit status 2) before anything is sent to the daemon.
 */
import fs from 'node:fs';
import type { Filter } from '../filter/entry-filter.js';
import { GlobError, globToRegExp, splitSourceFlags } from '../filter/glob.js';
import { LEVEL_NAMES, parseLevel } from '../filter/levels.js';
import { compilePattern, PatternError } from '../filter/pattern.js';
import { compareInstants, parseTimeSpec, TimeSpecError, type Instant } from '../filter/time-spec.js';
import { encodeFilterRequest, MAX_FILTER_LINE, MAX_GLOBS } from '../protocol/filter-request.js';
import { DEFAULT_QUERY_SOCKET } from '../protocol/wire.js';
import { isOutputFormat, OUTPUT_FORMATS } from '../clients/entry-formats.js';
import type { LogreadOptions } from '../clients/logread-options.js';
import { InvalidValueError, UsageError, type FlagSpecs, type FlagValues } from './flags.js';

export const LOGREAD_FLAGS = {
  socket: { type: 'string', arg: 'PATH', default: DEFAULT_QUERY_SOCKET, help: "memlogd's query socket" },
  f: { type: 'bool', help: 'follow: print entries as they arrive' },
  F: { type: 'bool', help: 'dump the ring, then follow' },
  n: { type: 'int', arg: 'N', help: 'only the last N entries that match (then follow, with -f or -F)' },
  source: { type: 'strings', arg: 'GLOB', help: "only sources matching the glob (* and ?); any of them; '!GLOB' excludes" },
  since: { type: 'string', arg: 'TIME', help: 'only entries received at or after TIME (RFC 3339, YYYY-MM-DD[ HH:MM[:SS]] local, now, today, yesterday, -90s, -15m, -2h, -3d)' },
  until: { type: 'string', arg: 'TIME', help: 'only entries received at or before TIME (as -since)' },
  grep: { type: 'string', arg: 'PATTERN', help: 'only entries whose message matches the regular expression' },
  i: { type: 'bool', help: '-grep ignores case' },
  p: { type: 'string', arg: 'LEVEL', help: 'only entries of this severity or more urgent (emerg..debug or 0-7); entries without one count as info' },
  o: { type: 'string', arg: 'FORMAT', default: 'short', help: `output format: ${OUTPUT_FORMATS.join(', ')}` },
  'after-seq': { type: 'int', arg: 'SEQ', help: 'only entries after this seq (a cursor from -o json)' },
  daemon: { type: 'string', arg: 'ID', help: 'the memlogd whose seq -after-seq gives (default: the one running)' },
  'log-dir': { type: 'string', arg: 'DIR', help: 'also read what the persister wrote to DIR' },
} satisfies FlagSpecs;

export type LogreadFlagValues = FlagValues<typeof LOGREAD_FLAGS>;

function time(flag: string, text: string | undefined, nowMs: number): Instant | undefined {
  if (text === undefined) return undefined;
  try {
    return parseTimeSpec(text, nowMs);
  } catch (err) {
    if (err instanceof TimeSpecError) throw new InvalidValueError(flag, text, err.message);
    throw err;
  }
}

/** -source flags, checked: globs to include, and '!' globs to exclude. */
export function sourceFlags(values: readonly string[]): { include: string[]; exclude: string[] } {
  if (values.length > MAX_GLOBS) throw new InvalidValueError('source', values[MAX_GLOBS], `at most ${MAX_GLOBS} -source flags`);
  for (const v of values) {
    try {
      globToRegExp(v.startsWith('!') ? v.slice(1) : v);
    } catch (err) {
      if (err instanceof GlobError) throw new InvalidValueError('source', v, err.message);
      throw err;
    }
  }
  return splitSourceFlags(values);
}

/** -p LEVEL, checked: 0-7. */
export function priorityFlag(text: string): number {
  const level = parseLevel(text);
  if (level === undefined) throw new InvalidValueError('p', text, `unknown level: give ${LEVEL_NAMES.join(', ')}, or 0-7`);
  return level;
}

function logDir(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  let stat: fs.Stats;
  try {
    stat = fs.statSync(text);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InvalidValueError('log-dir', text, code === 'ENOENT' ? 'no such directory' : (err as Error).message);
  }
  if (!stat.isDirectory()) throw new InvalidValueError('log-dir', text, 'not a directory');
  return text;
}

/** The options the flags ask for; nowMs anchors relative times (`-15m`, `today`). */
export function logreadOptions(values: LogreadFlagValues, nowMs = Date.now()): Omit<LogreadOptions, 'out' | 'warn'> {
  const { include, exclude } = sourceFlags(values.source ?? []);
  const since = time('since', values.since, nowMs);
  const until = time('until', values.until, nowMs);
  if (since && until && compareInstants(since, until) > 0) {
    throw new InvalidValueError('until', values.until as string, `earlier than -since ${JSON.stringify(values.since)}`);
  }
  const filter: Filter = { sources: include, exclude, since, until };
  if (values.grep !== undefined) {
    try {
      compilePattern(values.grep, values.i === true);
    } catch (err) {
      if (err instanceof PatternError) throw new InvalidValueError('grep', values.grep, err.message);
      throw err;
    }
    filter.grep = values.grep;
    if (values.i) filter.ignoreCase = true;
  }
  if (values.p !== undefined) filter.priority = priorityFlag(values.p);
  const format = values.o ?? 'short';
  if (!isOutputFormat(format)) throw new InvalidValueError('o', format, `unknown format: give ${OUTPUT_FORMATS.join(', ')}`);
  if (values.daemon !== undefined) {
    if (values.daemon === '' || values.daemon.length > 64) throw new InvalidValueError('daemon', values.daemon, 'a daemon id is 1 to 64 characters');
    if (values['after-seq'] === undefined) throw new InvalidValueError('daemon', values.daemon, 'says whose seq -after-seq gives, and no -after-seq was given');
  }
  // The request line has a size limit: globs and a pattern at their longest can pass it together.
  const line = encodeFilterRequest({ mode: 2, daemon: values.daemon, after: values['after-seq'], last: values.n, filter }).length;
  if (line > MAX_FILTER_LINE) throw new UsageError(`the filters make a request of ${line} bytes, more than memlogd takes (${MAX_FILTER_LINE})`);
  if (values['after-seq'] !== undefined && values['log-dir'] !== undefined) {
    throw new InvalidValueError('after-seq', String(values['after-seq']), 'a cursor into the ring, it cannot be used with -log-dir');
  }
  return {
    socket: values.socket ?? DEFAULT_QUERY_SOCKET,
    read: values.F ? 'dump-follow' : values.f ? 'follow' : 'dump',
    last: values.n,
    filter,
    format,
    afterSeq: values['after-seq'],
    daemon: values.daemon,
    logDir: logDir(values['log-dir']),
  };
}
