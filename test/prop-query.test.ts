/**
 * Properties of the query socket's request parser (src/protocol/wire.ts):
 * what a client sends is untrusted, arrives in any chunking, and must give the
 * same request, or a RequestError, with bounded buffering. See
 * test/prop-support.ts for reproducing a failure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MAX_FILTER_LINE, MODE_FILTER } from '../src/protocol/filter-request.js';
import { MAX_REQUEST_LINE, MODE_RESUME, RequestError, RequestParser, encodeRequest, parseResume, type QueryRequest } from '../src/protocol/wire.js';
import { anyString, chunking, chunksOf, printable, runs, utf8ishBytes } from './prop-support.js';

type Outcome = { request: QueryRequest } | { error: string } | { pending: true };

/** The request without fields that are undefined (the parser gives them as own properties). */
function normal(r: QueryRequest): QueryRequest {
  if (r.mode === MODE_FILTER) return r;
  if (r.mode !== MODE_RESUME) return { mode: r.mode };
  const out: QueryRequest = { mode: MODE_RESUME };
  if (r.daemon !== undefined) out.daemon = r.daemon;
  if (r.after !== undefined) out.after = r.after;
  return out;
}

/** Pushes the reads one by one, as the server does: stops at the first request or error. */
function parse(reads: Buffer[]): Outcome {
  const parser = new RequestParser();
  const buffered = (): number => (parser as unknown as { buffered?: Buffer }).buffered?.length ?? 0;
  for (const read of reads) {
    let request: QueryRequest | undefined;
    try {
      request = parser.push(read);
    } catch (err) {
      if (err instanceof RequestError) return { error: err.message };
      throw err; // anything else fails the property
    }
    if (request) return { request: normal(request) };
    // A filter request (mode 5) may be longer than a resume request.
    const limit = reads.find((r) => r.length > 0)?.[0] === MODE_FILTER ? MAX_FILTER_LINE : MAX_REQUEST_LINE;
    assert.ok(buffered() <= limit + read.length, `buffers ${buffered()} bytes`);
  }
  return { pending: true };
}

/** What clients send, and what they could send instead. */
const requestBytes: fc.Arbitrary<Buffer> = fc
  .tuple(
    fc.oneof(fc.constantFrom(0, 1, 2, 3, 3, 3, 3, 4, 5, 5, 10, 0x30, 0x33, 0x7b, 0xff), fc.integer({ min: 0, max: 255 })),
    fc.oneof(
      { weight: 3, arbitrary: fc.json().map((j) => Buffer.from(j)) },
      { weight: 2, arbitrary: fc.record({ daemon: fc.option(anyString(70), { nil: undefined }), after: fc.option(fc.oneof(fc.integer({ min: -3, max: 1e6 }), fc.double(), fc.constant(2 ** 53)), { nil: undefined }) }).map((o) => Buffer.from(JSON.stringify(o))) },
      { weight: 2, arbitrary: utf8ishBytes(20) },
      // Long lines, around the 4 KiB limit.
      { weight: 1, arbitrary: fc.tuple(fc.integer({ min: MAX_REQUEST_LINE - 40, max: MAX_REQUEST_LINE + 40 }), fc.constantFrom(0x20, 0x61, 0x0a)).map(([n, b]) => Buffer.concat([Buffer.from('{"after":1'), Buffer.alloc(n, b), Buffer.from('}')])) },
    ),
    fc.oneof(fc.constant(Buffer.from('\n')), fc.constant(Buffer.alloc(0)), utf8ishBytes(5)),
    fc.uint8Array({ maxLength: 10 }),
  )
  .map(([mode, body, end, after]) => printable(Buffer.concat([Buffer.from([mode]), body, end, after])));

test('query requests: any bytes in any chunking give the request of the whole, or a RequestError', () => {
  fc.assert(
    fc.property(fc.oneof(requestBytes, fc.uint8Array({ maxLength: 64 }).map((a) => printable(Buffer.from(a)))), chunking, (bytes, how) => {
      const whole = parse([bytes]);
      const chunked = parse(chunksOf(bytes, how));
      if ('request' in whole && 'error' in chunked) {
        // Allowed: a request line longer than MAX_REQUEST_LINE is only refused when it has to be buffered.
        assert.match(chunked.error, /longer than/);
        return;
      }
      if ('error' in whole && 'error' in chunked) return; // the message may name another problem seen first
      assert.deepEqual(chunked, whole);
    }),
    runs(3000),
  );
});

test('query requests: a client that never ends its line is refused once it has sent more than MAX_REQUEST_LINE', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 700 }), fc.integer({ min: 0, max: 255 }), (size, byte) => {
      const fill = byte === 10 ? 0x20 : byte;
      const parser = new RequestParser();
      let sent = 0;
      let refused = false;
      parser.push(Buffer.from([MODE_RESUME]));
      sent++;
      while (!refused && sent <= MAX_REQUEST_LINE + 2 * size) {
        try {
          assert.equal(parser.push(Buffer.alloc(size, fill)), undefined);
          sent += size;
        } catch (err) {
          assert.ok(err instanceof RequestError);
          refused = true;
        }
      }
      assert.ok(refused, `still buffering after ${sent} bytes`);
      assert.ok(sent <= MAX_REQUEST_LINE + size);
    }),
    runs(300),
  );
});

const validRequest: fc.Arbitrary<QueryRequest> = fc.oneof(
  fc.constantFrom<QueryRequest>({ mode: 0 }, { mode: 1 }, { mode: 2 }),
  fc
    .record(
      {
        // At most 64 UTF-16 code units, lone surrogates included.
        daemon: fc.oneof(anyString(64).filter((s) => s.length <= 64), fc.string({ maxLength: 64, unit: fc.char16bits() })),
        after: fc.oneof(fc.constant(-1), fc.constant(0), fc.constant(Number.MAX_SAFE_INTEGER), fc.integer({ min: -1, max: 2 ** 31 }), fc.maxSafeNat()),
      },
      { requiredKeys: [] },
    )
    .map((r): QueryRequest => ({ mode: MODE_RESUME, ...r })),
);

test('query requests: encodeRequest then the parser gives the request back, in any chunking, whatever follows it', () => {
  fc.assert(
    fc.property(validRequest, fc.uint8Array({ maxLength: 20 }), chunking, (request, trailing, how) => {
      const bytes = Buffer.concat([encodeRequest(request), trailing]);
      assert.deepEqual(parse([bytes]), { request });
      assert.deepEqual(parse(chunksOf(bytes, how)), { request });
    }),
    runs(3000),
  );
});

test('query requests: parseResume gives a valid request or a RequestError, for any line', () => {
  fc.assert(
    fc.property(fc.oneof(requestBytes.map((b) => printable(b.subarray(1))), fc.uint8Array({ maxLength: 64 }).map((a) => printable(Buffer.from(a)))), (line) => {
      let r: QueryRequest;
      try {
        r = parseResume(line);
      } catch (err) {
        assert.ok(err instanceof RequestError, String(err));
        return;
      }
      assert.equal(r.mode, MODE_RESUME);
      if (r.mode !== MODE_RESUME) return;
      if (r.daemon !== undefined) assert.ok(typeof r.daemon === 'string' && r.daemon.length <= 64);
      if (r.after !== undefined) assert.ok(Number.isSafeInteger(r.after) && r.after >= -1);
    }),
    runs(3000),
  );
});
