/**
 * The query parameters of /api/entries and /api/follow, checked as logread
 * checks its flags (src/cli/logread-flags.ts logreadOptions, the same code):
 * a parameter that is unknown, repeated where it cannot be, or a value that
 * cannot be used is a ParamError, told in one line naming the parameter (a
 * 400), before anything is asked of memlogd.
 */
import { InvalidValueError, UsageError } from '../cli/flags.js';
import { logreadOptions, type LogreadFlagValues } from '../cli/logread-flags.js';
import type { LogreadOptions } from '../clients/logread-options.js';

/** A bad request: its message is the one line the answer says. */
export class ParamError extends Error {}

/** What the server was started with that every reading shares. */
export interface ReadTarget {
  socket: string;
  /** The persister's directory (-log-dir): /api/entries merges it with the ring. */
  logDir?: string;
}

export type ReadOptions = Omit<LogreadOptions, 'out' | 'warn'>;

/** Parameters and the logread flag each stands for. */
const SINGLE: Record<string, 'since' | 'until' | 'grep' | 'p' | 'daemon' | 'n' | 'after-seq' | 'i'> = {
  since: 'since',
  until: 'until',
  grep: 'grep',
  p: 'p',
  daemon: 'daemon',
  n: 'n',
  after: 'after-seq',
  i: 'i',
};

/** logread's flag names, as the parameters are called, where an explanation names them. */
function paramName(flag: string): string {
  return flag === 'after-seq' ? 'after' : flag;
}

function inWords(why: string): string {
  return why.replace(/-(after-seq|since|until|source|grep|daemon)\b/g, (_, flag: string) => paramName(flag));
}

function wholeNumber(param: string, text: string): number {
  if (!/^[0-9]+$/.test(text)) throw new ParamError(`invalid value ${JSON.stringify(text)} for ${param}: not a whole number (0 or more)`);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new ParamError(`invalid value ${JSON.stringify(text)} for ${param}: too large`);
  return n;
}

function yesNo(param: string, text: string): boolean {
  if (text === '' || text === '1' || text === 'true') return true;
  if (text === '0' || text === 'false') return false;
  throw new ParamError(`invalid value ${JSON.stringify(text)} for ${param}: give 1, true, 0 or false`);
}

/**
 * The parameters as logread's flag values. An empty value is taken as not
 * given (a form's empty field: `p=` is every severity), except `i=`, which is
 * a bare switch.
 */
export function paramFlags(params: URLSearchParams): LogreadFlagValues {
  const values: LogreadFlagValues = {};
  const seen = new Set<string>();
  for (const [name, value] of params) {
    if (name === 'source') {
      if (value !== '') values.source = [...(values.source ?? []), value];
      continue;
    }
    const flag = Object.prototype.hasOwnProperty.call(SINGLE, name) ? SINGLE[name] : undefined;
    if (flag === undefined) throw new ParamError(`unknown parameter ${JSON.stringify(name)}: give source, since, until, grep, i, p, n, after or daemon`);
    if (seen.has(name)) throw new ParamError(`parameter ${name} given more than once`);
    seen.add(name);
    if (flag === 'i') values.i = yesNo(name, value);
    else if (value === '') continue;
    else if (flag === 'n') values.n = wholeNumber(name, value);
    else if (flag === 'after-seq') values['after-seq'] = wholeNumber(name, value);
    else values[flag] = value;
  }
  return values;
}

/** logreadOptions on the values, its refusals as ParamErrors naming the parameter. */
function checked(values: LogreadFlagValues, nowMs: number): ReadOptions {
  try {
    return logreadOptions(values, nowMs);
  } catch (err) {
    if (err instanceof InvalidValueError) {
      throw new ParamError(`invalid value ${JSON.stringify(err.value)} for ${paramName(err.flag)}: ${inWords(err.why)}`);
    }
    if (err instanceof UsageError) throw new ParamError(inWords(err.message));
    throw err;
  }
}

/** /api/entries: a dump of what matches (with -log-dir, the persister's files merged in), as `logread -o json`. */
export function entriesOptions(params: URLSearchParams, target: ReadTarget, nowMs = Date.now()): ReadOptions {
  const values = paramFlags(params);
  return checked({ ...values, o: 'json', socket: target.socket, 'log-dir': target.logDir }, nowMs);
}

/**
 * /api/follow: where to start. `Last-Event-ID` (the browser's EventSource
 * reconnecting) or `after`: after that seq (of `daemon` if given, else the
 * running daemon's); else with `n`: the last n matching, then live; else only
 * new entries (`daemon` alone is then kept for a reconnect's Last-Event-ID).
 * The ring only: the persister's files hold nothing newer.
 */
export function followOptions(params: URLSearchParams, lastEventId: string | undefined, target: ReadTarget, nowMs = Date.now()): ReadOptions {
  const values = paramFlags(params);
  if (lastEventId !== undefined && lastEventId !== '') {
    if (!/^[0-9]+$/.test(lastEventId) || !Number.isSafeInteger(Number(lastEventId))) {
      throw new ParamError(`invalid value ${JSON.stringify(lastEventId)} for Last-Event-ID: not a seq (a whole number)`);
    }
    // The reconnecting browser's own cursor is newer than the `after` its URL was opened with.
    values['after-seq'] = Number(lastEventId);
  }
  if (values['after-seq'] !== undefined) delete values.n;
  else if (values.daemon !== undefined) {
    // Whose seq a Last-Event-ID will be: a page opens its stream naming the daemon its status showed, so that the
    // EventSource's own reconnect after a memlogd restart resumes right. Until there is a cursor it changes nothing.
    if (values.daemon.length > 64) throw new ParamError(`invalid value ${JSON.stringify(values.daemon)} for daemon: a daemon id is 1 to 64 characters`);
    delete values.daemon;
  }
  return checked({ ...values, o: 'json', f: true, socket: target.socket }, nowMs);
}
