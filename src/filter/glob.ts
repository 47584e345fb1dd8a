/**
 * Source globs, as `-source` takes them: `*` any run of characters, `?` any
 * one character, everything else literal (a source name may hold any
 * character, `/` included, so there is no path logic). A glob is matched
 * against the whole name.
 */

export class GlobError extends Error {}

/** Longest glob taken, in characters (a name is at most 512 bytes). */
export const MAX_GLOB = 1024;

/** The glob as an anchored regular expression; throws GlobError for one that cannot be a source name pattern. */
export function globToRegExp(glob: string): RegExp {
  if (glob.includes('\0')) throw new GlobError('a glob cannot contain a NUL character');
  if (glob.length > MAX_GLOB) throw new GlobError(`a glob is at most ${MAX_GLOB} characters`);
  let body = '';
  for (const ch of glob) {
    if (ch === '*') body += '[^]*';
    else if (ch === '?') body += '[^]';
    // Only the syntax characters: with the `u` flag, escaping anything else (`\-`) is an error.
    else body += ch.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
  }
  // Runs of `*` compile to one: `a****b` must not backtrack more than `a*b`.
  return new RegExp(`^${body.replace(/(\[\^\]\*)+/g, '[^]*')}$`, 'u');
}

/**
 * Which sources a set of `-source` globs admits: any of the including ones
 * (all sources when there are none), and none of the excluding ones.
 */
export class SourceMatcher {
  private readonly include: RegExp[];
  private readonly exclude: RegExp[];

  constructor(include: readonly string[], exclude: readonly string[]) {
    this.include = include.map(globToRegExp);
    this.exclude = exclude.map(globToRegExp);
  }

  /** Admits every source. */
  get all(): boolean {
    return this.include.length === 0 && this.exclude.length === 0;
  }

  matches(source: string): boolean {
    if (this.include.length > 0 && !this.include.some((re) => re.test(source))) return false;
    return !this.exclude.some((re) => re.test(source));
  }
}

/** Splits `-source` values into including and excluding globs (`!GLOB` excludes). */
export function splitSourceFlags(values: readonly string[]): { include: string[]; exclude: string[] } {
  const include: string[] = [];
  const exclude: string[] = [];
  for (const v of values) {
    if (v.startsWith('!')) exclude.push(v.slice(1));
    else include.push(v);
  }
  return { include, exclude };
}
