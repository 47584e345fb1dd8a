/**
 * JSON string escaping straight from bytes to bytes, so that an entry's message
 * never becomes a JS string on the way from a pipe to a follower.
 *
 * Bytes that are not valid UTF-8 become U+FFFD, one per offending byte, as Go's
 * encoding/json does. The output is at most MAX_ESCAPE_GROWTH times the input.
 */

export const MAX_ESCAPE_GROWTH = 6; // a control byte becomes \u00XX

const HEX = [48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 97, 98, 99, 100, 101, 102];

/** For each byte below 0x80: 0 = copy as is, otherwise the letter after the backslash (or 117 'u'). */
const ASCII_ESCAPE = new Uint8Array(128);
for (let b = 0; b < 0x20; b++) ASCII_ESCAPE[b] = 117; // \u00XX
ASCII_ESCAPE[8] = 98; // \b
ASCII_ESCAPE[9] = 116; // \t
ASCII_ESCAPE[10] = 110; // \n
ASCII_ESCAPE[12] = 102; // \f
ASCII_ESCAPE[13] = 114; // \r
ASCII_ESCAPE[34] = 34; // \"
ASCII_ESCAPE[92] = 92; // \\

/** Length of the valid UTF-8 sequence starting at src[i] (lead byte >= 0x80), or 0 if invalid. */
function utf8SequenceLength(src: Uint8Array, i: number, end: number): number {
  const b0 = src[i];
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    return i + 1 < end && (src[i + 1] & 0xc0) === 0x80 ? 2 : 0;
  }
  if (b0 >= 0xe0 && b0 <= 0xef) {
    if (i + 2 >= end) return 0;
    const b1 = src[i + 1];
    const lo = b0 === 0xe0 ? 0xa0 : 0x80; // no overlong forms
    const hi = b0 === 0xed ? 0x9f : 0xbf; // no surrogates
    return b1 >= lo && b1 <= hi && (src[i + 2] & 0xc0) === 0x80 ? 3 : 0;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    if (i + 3 >= end) return 0;
    const b1 = src[i + 1];
    const lo = b0 === 0xf0 ? 0x90 : 0x80;
    const hi = b0 === 0xf4 ? 0x8f : 0xbf; // nothing above U+10FFFF
    return b1 >= lo && b1 <= hi && (src[i + 2] & 0xc0) === 0x80 && (src[i + 3] & 0xc0) === 0x80 ? 4 : 0;
  }
  return 0;
}

/**
 * Writes the JSON string body (no quotes) for src[start, end) into dst at pos and
 * returns the new position. dst must have MAX_ESCAPE_GROWTH * (end - start) bytes free.
 */
export function escapeJsonBytes(src: Uint8Array, start: number, end: number, dst: Uint8Array, pos: number): number {
  let i = start;
  while (i < end) {
    const b = src[i];
    if (b < 0x80) {
      const e = ASCII_ESCAPE[b];
      if (e === 0) {
        dst[pos++] = b;
      } else if (e === 117) {
        dst[pos++] = 92;
        dst[pos++] = 117;
        dst[pos++] = 48;
        dst[pos++] = 48;
        dst[pos++] = HEX[b >> 4];
        dst[pos++] = HEX[b & 15];
      } else {
        dst[pos++] = 92;
        dst[pos++] = e;
      }
      i++;
      continue;
    }
    const n = utf8SequenceLength(src, i, end);
    if (n === 0) {
      dst[pos++] = 0xef;
      dst[pos++] = 0xbf;
      dst[pos++] = 0xbd;
      i++;
    } else {
      for (let k = 0; k < n; k++) dst[pos++] = src[i + k];
      i += n;
    }
  }
  return pos;
}

/** Convenience for cold paths: the JSON string body of some bytes, as a Buffer. */
export function escapeJsonBuffer(src: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(src.length * MAX_ESCAPE_GROWTH);
  const n = escapeJsonBytes(src, 0, src.length, out, 0);
  return Buffer.from(out.subarray(0, n));
}
