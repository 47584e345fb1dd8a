/**
 * Go-style flags, as the upstream programs take them: `-name value`,
 * `-name=value`, `--name` alike; a bare `-flag` for booleans; parsing stops at
 * the first argument that is not a flag, or after `--`. Node's util.parseArgs
 * (and the usual libraries) read `-socket` as six short flags, which would
 * break every upstream command line, hence this small parser.
 */

/** `strings`: a string flag that may be given more than once; its value is every one given, in order. */
export type FlagType = 'string' | 'strings' | 'int' | 'bool';

export interface FlagSpec {
  type: FlagType;
  help: string;
  /** Shown in the usage text. */
  default?: string | number | boolean;
  /** Placeholder for the value in the usage text. */
  arg?: string;
}

export type FlagSpecs = Record<string, FlagSpec>;

export type FlagValues<S extends FlagSpecs> = {
  [K in keyof S]?: S[K]['type'] extends 'bool'
    ? boolean
    : S[K]['type'] extends 'int'
      ? number
      : S[K]['type'] extends 'strings'
        ? string[]
        : string;
};

export class UsageError extends Error {}

/**
 * A flag's value that cannot be used. Told in one line naming the flag and
 * the value (JSON-quoted, so that a control character shows), without the
 * usage hint: the command line was understood, one value was wrong.
 */
export class InvalidValueError extends UsageError {
  constructor(
    readonly flag: string,
    readonly value: string,
    /** Why the value cannot be used, alone (for callers that name the value their own way, as memlog web's query parameters). */
    readonly why: string,
  ) {
    super(`invalid value ${JSON.stringify(value)} for flag -${flag}: ${why}`);
  }
}

export interface Parsed<S extends FlagSpecs> {
  values: FlagValues<S>;
  rest: string[];
  help: boolean;
}

export function parseFlags<S extends FlagSpecs>(argv: readonly string[], specs: S): Parsed<S> {
  const values: Record<string, string | string[] | number | boolean> = {};
  let i = 0;
  let help = false;
  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      i++;
      break;
    }
    if (arg.length < 2 || arg[0] !== '-') break;
    const body = arg.startsWith('--') ? arg.slice(2) : arg.slice(1);
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    if (name === 'h' || name === 'help') {
      help = true;
      continue;
    }
    const spec = Object.prototype.hasOwnProperty.call(specs, name) ? specs[name] : undefined;
    if (!spec) throw new UsageError(`flag provided but not defined: -${name}`);
    let text: string | undefined = eq < 0 ? undefined : body.slice(eq + 1);
    if (spec.type === 'bool') {
      if (text === undefined || text === 'true' || text === '1') values[name] = true;
      else if (text === 'false' || text === '0') values[name] = false;
      else throw new UsageError(`invalid boolean value "${text}" for flag -${name}`);
      continue;
    }
    // The next argument is the value even when it starts with `-` (`-since -15m`, `-n -1` to be refused as such).
    if (text === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: -${name}`);
      text = argv[++i];
    }
    if (spec.type === 'int') {
      if (!/^[0-9]+$/.test(text)) throw new InvalidValueError(name, text, 'not a whole number (0 or more)');
      const n = Number(text);
      if (!Number.isSafeInteger(n)) throw new InvalidValueError(name, text, 'too large');
      values[name] = n;
    } else if (spec.type === 'strings') {
      const before = values[name];
      values[name] = Array.isArray(before) ? [...before, text] : [text];
    } else {
      values[name] = text;
    }
  }
  return { values: values as FlagValues<S>, rest: argv.slice(i), help };
}

export function usage(synopsis: string, specs: FlagSpecs): string {
  const lines = [`Usage: ${synopsis}`];
  for (const [name, spec] of Object.entries(specs)) {
    const arg = spec.type === 'bool' ? '' : ` ${spec.arg ?? (spec.type === 'int' ? 'N' : 'VALUE')}`;
    const again = spec.type === 'strings' ? ' (may be given more than once)' : '';
    const def = spec.default === undefined ? '' : ` (default ${JSON.stringify(spec.default)})`;
    lines.push(`  -${name}${arg}`, `        ${spec.help}${again}${def}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * A command's flags: parsed, or, when -help was asked, its usage printed and
 * undefined returned (the command then exits 0).
 */
export function parseCommandLine<S extends FlagSpecs>(argv: readonly string[], specs: S, synopsis: string): Parsed<S> | undefined {
  const parsed = parseFlags(argv, specs);
  if (!parsed.help) return parsed;
  process.stdout.write(usage(synopsis, specs));
  return undefined;
}
