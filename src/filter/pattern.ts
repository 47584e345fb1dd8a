/**
 * `-grep` patterns: a JavaScript regular expression (without the `u` flag,
 * which refuses escapes such as `\-` that grep users type), `-i` for ignore case. A pattern with no special
 * character is a literal: those are searched as bytes (Buffer.indexOf, a
 * memmem), never through the regular expression engine.
 */

export class PatternError extends Error {}

/** Longest pattern taken, in characters. */
export const MAX_PATTERN = 4096;

export interface Pattern {
  source: string;
  ignoreCase: boolean;
  /** The regular expression, unanchored (flag `i` with -i). */
  regexp: RegExp;
  /** The pattern's UTF-8 bytes when it is a plain literal searched case-sensitively, else undefined. */
  literal: Buffer | undefined;
  /** The pattern's bytes, lower case, when it is a plain ASCII literal searched ignoring case. */
  asciiFoldedLiteral: Buffer | undefined;
}

const SPECIAL = /[\\^$.*+?()[\]{}|]/;

/** Compiles a pattern; throws PatternError naming what is wrong. */
export function compilePattern(source: string, ignoreCase: boolean): Pattern {
  if (source.length > MAX_PATTERN) throw new PatternError(`a pattern is at most ${MAX_PATTERN} characters`);
  let regexp: RegExp;
  try {
    regexp = new RegExp(source, ignoreCase ? 'i' : '');
  } catch (err) {
    throw new PatternError(`not a valid regular expression: ${(err as Error).message.replace(/^Invalid regular expression: /, '')}`);
  }
  const plain = source.length > 0 && !SPECIAL.test(source) && !source.includes('\ufffd');
  // eslint-disable-next-line no-control-regex
  const ascii = /^[\x00-\x7f]*$/.test(source);
  return {
    source,
    ignoreCase,
    regexp,
    literal: plain && !ignoreCase ? Buffer.from(source, 'utf8') : undefined,
    asciiFoldedLiteral: plain && ignoreCase && ascii ? Buffer.from(source.toLowerCase(), 'latin1') : undefined,
  };
}
