/**
 * What the property tests (test/prop-*.test.ts) share: fast-check's run
 * options, and generators of the untrusted input memlog parses.
 *
 * Reproducing a failure: fast-check prints `seed: S, path: P` in the error.
 *   MEMLOG_FC_SEED=S node --test --test-name-pattern='<test name>' dist/test/prop-<file>.test.js
 * replays it (every property of the run then starts from seed S); add
 * MEMLOG_FC_PATH=P to go straight to the shrunk counterexample.
 * MEMLOG_FC_SCALE=F multiplies the runs and time limits (say 20 for a long fuzzing session).
 */
import fc from 'fast-check';

function envNumber(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined || text === '') return undefined;
  const n = Number(text);
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number (got ${JSON.stringify(text)})`);
  return n;
}

const SEED = envNumber('MEMLOG_FC_SEED');
const PATH = process.env.MEMLOG_FC_PATH || undefined;
const SCALE = envNumber('MEMLOG_FC_SCALE') ?? 1;

/**
 * Options for fc.assert: at most numRuns runs and timeLimitMs of running (the
 * runs done by then count; the suite must stay fast), the seed from
 * MEMLOG_FC_SEED if set.
 */
export function runs<T>(numRuns: number, timeLimitMs = 2000): fc.Parameters<T> {
  const params: fc.Parameters<T> = {
    numRuns: Math.max(1, Math.round(numRuns * SCALE)),
    interruptAfterTimeLimit: Math.round(timeLimitMs * SCALE),
  };
  if (SEED !== undefined) params.seed = SEED;
  if (PATH !== undefined) params.path = PATH;
  return params;
}

// ---------------------------------------------------------------------------
// Bytes

/**
 * The bytes, printed short in a counterexample: runs of one byte as
 * Buffer.alloc(n, b), the rest as hex. (fast-check prints a Buffer as a list
 * of every byte, unreadable for the long lines these tests like.)
 */
export function printable(buf: Buffer): Buffer {
  const show = (): string => {
    const parts: string[] = [];
    let i = 0;
    while (i < buf.length) {
      let j = i;
      while (j < buf.length && buf[j] === buf[i]) j++;
      if (j - i >= 8) {
        parts.push(`Buffer.alloc(${j - i}, 0x${buf[i].toString(16)})`);
        i = j;
        continue;
      }
      const start = i;
      // Up to the next run of 8 or more.
      while (i < buf.length) {
        let k = i;
        while (k < buf.length && buf[k] === buf[i]) k++;
        if (k - i >= 8) break;
        i = k;
      }
      parts.push(`Buffer.from('${buf.toString('hex', start, i)}', 'hex')`);
    }
    return parts.length === 1 ? parts[0] : `Buffer.concat([${parts.join(', ')}])`;
  };
  // Not enumerable: deepEqual does not see it.
  Object.defineProperty(buf, fc.toStringMethod, { value: show });
  return buf;
}

const concatBytes = (parts: readonly Uint8Array[]): Buffer => printable(Buffer.concat(parts));

/** Bytes that sit on the edges of UTF-8's well-formed table, and ASCII that parsers care about. */
export const EDGE_BYTES = [
  0x00, 0x09, 0x0a, 0x0d, 0x1f, 0x20, 0x22, 0x25, 0x2e, 0x2f, 0x3b, 0x5c, 0x7e, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2,
  0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xfe, 0xff,
];

/** Any string, lone surrogates included (fc.string's 'binary' unit never gives one). */
export const anyString = (maxLength = 40): fc.Arbitrary<string> =>
  fc.string({
    maxLength,
    unit: fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom('a', 'Z', '0', '_', '.', '-', '/', '%', '~', '"', '\\', ' ', '\n', '\t', '\0', '\u007f', '\u2028', '\ufeff', '\ufffd', 'é', '✓', '😀') },
      { weight: 3, arbitrary: fc.string({ minLength: 1, maxLength: 1, unit: 'binary' }) },
      { weight: 2, arbitrary: fc.string({ minLength: 1, maxLength: 1, unit: 'binary-ascii' }) },
      { weight: 1, arbitrary: fc.char16bits() },
    ),
  });

/** Byte strings biased to UTF-8: valid sequences, cut ones, edge bytes, ASCII controls. */
export const utf8ishBytes = (maxPieces = 30): fc.Arbitrary<Buffer> =>
  fc
    .array(
      fc.oneof(
        { weight: 3, arbitrary: anyString(6).map((s) => Buffer.from(s, 'utf8')) },
        // A character with the end of its UTF-8 sequence cut off (a lone lead byte, a short sequence).
        { weight: 2, arbitrary: fc.tuple(fc.string({ minLength: 1, maxLength: 1, unit: 'binary' }), fc.nat(3)).map(([c, cut]) => Buffer.from(c, 'utf8').subarray(0, Math.max(0, Buffer.byteLength(c) - 1 - cut))) },
        { weight: 2, arbitrary: fc.constantFrom(...EDGE_BYTES).map((b) => Buffer.from([b])) },
        { weight: 1, arbitrary: fc.uint8Array({ maxLength: 8 }).map((a) => Buffer.from(a)) },
      ),
      { maxLength: maxPieces },
    )
    .map(concatBytes);

/**
 * A byte stream for line splitters: many newlines, runs without one (some
 * long), arbitrary bytes in between.
 */
export const lineStream = (opts: { longRun?: number; maxPieces?: number; also?: readonly number[] } = {}): fc.Arbitrary<Buffer> => {
  const longRun = opts.longRun ?? 200;
  const also = opts.also ?? [];
  return fc
    .array(
      fc.oneof(
        { weight: 4, arbitrary: fc.constant(Buffer.from('\n')) },
        // CR LF ends a line without its CR; a lone CR is part of it.
        { weight: 2, arbitrary: fc.constantFrom(Buffer.from('\r\n'), Buffer.from('\r')) },
        { weight: 3, arbitrary: fc.uint8Array({ maxLength: 12 }).map((a) => Buffer.from(a)) },
        { weight: 2, arbitrary: fc.stringMatching(/^[ -~]{0,20}$/).map((s) => Buffer.from(s)) },
        { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 0, max: longRun }), fc.integer({ min: 0, max: 255 })).map(([n, b]) => Buffer.alloc(n, b === 10 ? 0x78 : b)) },
        ...(also.length > 0 ? [{ weight: 2, arbitrary: fc.constantFrom(...also).map((b) => Buffer.from([b])) }] : []),
      ),
      { maxLength: opts.maxPieces ?? 40 },
    )
    .map(concatBytes);
};

/** How to cut a stream into reads: at given places (some reads empty), or in reads of one size. */
export type Chunking = { cuts: number[] } | { size: number };

export const chunking: fc.Arbitrary<Chunking> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ cuts: fc.array(fc.nat(), { maxLength: 12 }) }) },
  { weight: 1, arbitrary: fc.record({ size: fc.integer({ min: 1, max: 17 }) }) },
);

/** The reads a chunking gives (copies: a reader may not keep a view of a chunk it was handed). */
export function chunksOf(data: Uint8Array, how: Chunking): Buffer[] {
  const out: Buffer[] = [];
  if ('size' in how) {
    for (let i = 0; i < data.length; i += how.size) out.push(Buffer.from(data.subarray(i, i + how.size)));
    return out;
  }
  const cuts = how.cuts.map((c) => c % (data.length + 1)).sort((a, b) => a - b);
  let at = 0;
  for (const c of cuts) {
    out.push(Buffer.from(data.subarray(at, c)));
    at = c;
  }
  out.push(Buffer.from(data.subarray(at)));
  return out;
}

// ---------------------------------------------------------------------------
// The reference UTF-8 decoder: Go's (one U+FFFD per byte that is not part of a
// well-formed sequence), written from the Unicode table of well-formed
// sequences, independently of src/entry/json-escape.ts.

/** For each lead byte: the allowed range of the second byte, and how many bytes in all. */
function wellFormed(lead: number): { lo: number; hi: number; len: number } | undefined {
  if (lead >= 0xc2 && lead <= 0xdf) return { lo: 0x80, hi: 0xbf, len: 2 };
  if (lead === 0xe0) return { lo: 0xa0, hi: 0xbf, len: 3 };
  if ((lead >= 0xe1 && lead <= 0xec) || lead === 0xee || lead === 0xef) return { lo: 0x80, hi: 0xbf, len: 3 };
  if (lead === 0xed) return { lo: 0x80, hi: 0x9f, len: 3 };
  if (lead === 0xf0) return { lo: 0x90, hi: 0xbf, len: 4 };
  if (lead >= 0xf1 && lead <= 0xf3) return { lo: 0x80, hi: 0xbf, len: 4 };
  if (lead === 0xf4) return { lo: 0x80, hi: 0x8f, len: 4 };
  return undefined;
}

export function goDecode(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const b0 = bytes[i];
    if (b0 < 0x80) {
      out += String.fromCharCode(b0);
      i++;
      continue;
    }
    const form = wellFormed(b0);
    let ok = form !== undefined && i + form.len <= bytes.length;
    if (form && ok) {
      ok = bytes[i + 1] >= form.lo && bytes[i + 1] <= form.hi;
      for (let k = 2; k < form.len && ok; k++) ok = bytes[i + k] >= 0x80 && bytes[i + k] <= 0xbf;
    }
    if (!form || !ok) {
      out += '\ufffd';
      i++;
      continue;
    }
    let cp = b0 & (form.len === 2 ? 0x1f : form.len === 3 ? 0x0f : 0x07);
    for (let k = 1; k < form.len; k++) cp = (cp << 6) | (bytes[i + k] & 0x3f);
    out += String.fromCodePoint(cp);
    i += form.len;
  }
  return out;
}

/** Whether a string is well-formed UTF-16 (no lone surrogates). */
export function isWellFormed(s: string): boolean {
  return !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);
}

/** Whether bytes are well-formed UTF-8. */
export function isUtf8(bytes: Uint8Array): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}
