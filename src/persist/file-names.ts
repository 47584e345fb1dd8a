/**
 * File names for source names. A source name is whatever a sender chose (any
 * Unicode, `/`, `..`, NUL, control characters, empty, very long), so it never
 * goes into a path as it is. The rule, deterministic and one-to-one:
 *
 * Take the name's UTF-8 bytes. The bytes `A-Z a-z 0-9 _ . -` are kept as they
 * are, except a `.` at the very start; every other byte, `%` included, becomes
 * `%XX` (two uppercase hex digits). The empty name becomes `%` alone, which no
 * other name can give. If the result is longer than 200 bytes, its first 180
 * are kept and `~` is added, then the first 16 hex digits of the SHA-256 of
 * the name's UTF-8 bytes (`~` appears nowhere else, as it would be encoded).
 *
 * So a stem never holds `/` or NUL, never starts with `.` (no hidden files, no
 * `.` or `..`), and `<stem>.log.<n>.gz` stays well under the 255-byte limit of
 * file names. Unhashed stems decode back to their name (sourceOfStem).
 * A name that is not valid UTF-16 (a lone surrogate) is encoded as U+FFFD, as
 * it would be written anywhere else: the rule is one-to-one on UTF-8 bytes.
 */
import { createHash } from 'node:crypto';

export const MAX_STEM_BYTES = 200;
const KEPT_BEFORE_HASH = 180;
const HASH_DIGITS = 16;

const DOT = 0x2e;
const PERCENT = 0x25;
const HEX = '0123456789ABCDEF';
const KEPT = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-') KEPT[c.charCodeAt(0)] = 1;

/** Names that are their own stem, the common case: checked without encoding anything. */
const PLAIN = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,199}$/;
const HASHED = /^[A-Za-z0-9_%-][A-Za-z0-9_.%-]{179}~[0-9a-f]{16}$/;

export function fileStem(source: string): string {
  if (PLAIN.test(source)) return source;
  if (source.length === 0) return '%';
  const bytes = Buffer.from(source, 'utf8');
  let stem = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b < 128 && KEPT[b] === 1 && !(i === 0 && b === DOT)) stem += String.fromCharCode(b);
    else stem += '%' + HEX[b >> 4] + HEX[b & 15];
  }
  if (stem.length <= MAX_STEM_BYTES) return stem;
  const hash = createHash('sha256').update(bytes).digest('hex').slice(0, HASH_DIGITS);
  return stem.slice(0, KEPT_BEFORE_HASH) + '~' + hash;
}

// ignoreBOM: a name may start with U+FEFF, and it must come back.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The source name a stem stands for, or undefined if it is hashed or not a stem fileStem gives. */
export function sourceOfStem(stem: string): string | undefined {
  if (stem === '%') return '';
  if (stem.length === 0 || stem.length > MAX_STEM_BYTES) return undefined;
  const bytes = new Uint8Array(stem.length);
  let n = 0;
  for (let i = 0; i < stem.length; i++) {
    const c = stem.charCodeAt(i);
    if (c === PERCENT) {
      const hex = stem.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(hex)) return undefined;
      bytes[n++] = parseInt(hex, 16);
      i += 2;
    } else if (c < 128 && KEPT[c] === 1) {
      bytes[n++] = c;
    } else {
      return undefined;
    }
  }
  let source: string;
  try {
    source = strictUtf8.decode(bytes.subarray(0, n));
  } catch {
    return undefined;
  }
  // Only the canonical spelling counts (`%41` is not a stem: `A` would be kept as it is).
  return fileStem(source) === stem ? source : undefined;
}

/** Whether fileStem can give this string (for names read back from a saved state, which is not trusted either). */
export function isFileStem(stem: string): boolean {
  return HASHED.test(stem) || sourceOfStem(stem) !== undefined;
}
