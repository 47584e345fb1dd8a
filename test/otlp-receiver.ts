/**
 * An OTLP/HTTP logs receiver for tests, over HTTP or HTTPS, that decodes what
 * it gets with the OpenTelemetry JS packages' own protobuf types
 * (@opentelemetry/otlp-transformer's generated root): each request goes
 * JSON -> fromObject -> verify -> encode -> decode -> toObject and must come
 * back exactly as sent, so a misspelled key, a number where OTLP/JSON wants a
 * string, or a field of the wrong type is a decode error the test sees.
 *
 * It can be told to answer the next N requests with 429 (+ Retry-After), 503,
 * 400, 413, or 200 with partial_success; otherwise it answers 200 {}.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';

/**
 * The part of a protobufjs generated message type used here. The package's
 * root.d.ts types the root as an untyped protobufjs Root, so this interface
 * says what the generated static methods are.
 */
interface GeneratedType {
  fromObject(object: Record<string, unknown>): unknown;
  verify(message: unknown): string | null;
  encode(message: unknown): { finish(): Uint8Array };
  decode(bytes: Uint8Array): unknown;
  toObject(message: unknown, options: { longs: StringConstructor; enums: NumberConstructor; bytes: StringConstructor }): Record<string, unknown>;
}

interface LogsService {
  ExportLogsServiceRequest: GeneratedType;
  ExportLogsServiceResponse: GeneratedType;
}

const require = createRequire(import.meta.url);
// The package has no "exports" map: its build/ files can be required by path (pinned version: the path is stable).
const root = require('@opentelemetry/otlp-transformer/build/src/generated/root.js') as {
  opentelemetry: { proto: { collector: { logs: { v1: LogsService } } } };
};
const { ExportLogsServiceRequest, ExportLogsServiceResponse } = root.opentelemetry.proto.collector.logs.v1;
const CONVERSION = { longs: String, enums: Number, bytes: String };

export interface KeyValue {
  key: string;
  value: { stringValue?: string; intValue?: string; boolValue?: boolean; doubleValue?: number };
}

export interface DecodedLogRecord {
  timeUnixNano?: string;
  observedTimeUnixNano?: string;
  severityNumber?: number;
  severityText?: string;
  body?: { stringValue?: string };
  attributes?: KeyValue[];
}

export interface DecodedRequest {
  resourceAttributes: KeyValue[];
  scope: { name?: string; version?: string };
  records: DecodedLogRecord[];
}

/** Decodes an OTLP/JSON ExportLogsServiceRequest with the OpenTelemetry types; throws saying what is wrong. */
export function decodeLogsRequest(body: Buffer): Record<string, unknown> {
  const json = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  const message = ExportLogsServiceRequest.fromObject(json);
  const problem = ExportLogsServiceRequest.verify(message);
  if (problem) throw new Error(`ExportLogsServiceRequest does not verify: ${problem}`);
  const back = ExportLogsServiceRequest.toObject(ExportLogsServiceRequest.decode(ExportLogsServiceRequest.encode(message).finish()), CONVERSION);
  // What the protobuf types did not take (an unknown key, a value of the wrong kind) is missing or changed here.
  assert.deepStrictEqual(back, json, 'the request is not what the OTLP types decode it to');
  return back;
}

function flatten(decoded: Record<string, unknown>): DecodedRequest[] {
  const out: DecodedRequest[] = [];
  for (const rl of (decoded.resourceLogs ?? []) as { resource?: { attributes?: KeyValue[] }; scopeLogs?: unknown[] }[]) {
    for (const sl of (rl.scopeLogs ?? []) as { scope?: { name?: string; version?: string }; logRecords?: DecodedLogRecord[] }[]) {
      out.push({ resourceAttributes: rl.resource?.attributes ?? [], scope: sl.scope ?? {}, records: sl.logRecords ?? [] });
    }
  }
  return out;
}

export type ScriptedAnswer =
  | { status: 429 | 503 | 502 | 504; retryAfter?: string }
  | { status: 400 | 413 | 404; message: string }
  | { status: 200; rejected: number; message: string }
  /** Reads the request and never answers. */
  | { status: 'hang' };

export interface OtlpReceiver {
  /** The -to URL: otlp://127.0.0.1:PORT or otlps://... */
  url: string;
  port: number;
  /** Every HTTP request that came, whatever the answer. */
  requests: number;
  /** Requests answered 2xx, decoded. */
  accepted: DecodedRequest[];
  /** Decode failures and wrong requests (method, path, content type): a test asserts there are none. */
  errors: string[];
  /** The log records of every accepted request, in arrival order. */
  records(): DecodedLogRecord[];
  /** Answers the next n requests with answer. */
  answerNext(n: number, answer: ScriptedAnswer): void;
  close(): Promise<void>;
}

export async function startOtlpReceiver(opts: { tls?: { key: Buffer; cert: Buffer }; path?: string } = {}): Promise<OtlpReceiver> {
  const script: ScriptedAnswer[] = [];
  const expectedPath = opts.path ?? '/v1/logs';
  const receiver: OtlpReceiver = {
    url: '',
    port: 0,
    requests: 0,
    accepted: [],
    errors: [],
    records: () => receiver.accepted.flatMap((r) => r.records),
    answerNext: (n, answer) => {
      for (let i = 0; i < n; i++) script.push(answer);
    },
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };

  const handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      receiver.requests++;
      const reply = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
        const text = JSON.stringify(body);
        res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
        res.end(text);
      };
      if (req.method !== 'POST' || req.url !== expectedPath) {
        receiver.errors.push(`${req.method} ${req.url}: expected POST ${expectedPath}`);
        return reply(404, { code: 5, message: 'not found' });
      }
      if (req.headers['content-type'] !== 'application/json') {
        receiver.errors.push(`Content-Type ${req.headers['content-type']}`);
        return reply(415, { code: 3, message: 'unsupported content type' });
      }
      let decoded: DecodedRequest[];
      try {
        decoded = flatten(decodeLogsRequest(Buffer.concat(chunks)));
      } catch (err) {
        receiver.errors.push((err as Error).message);
        return reply(400, { code: 3, message: 'cannot decode' });
      }
      const answer = script.shift();
      if (answer === undefined || answer.status === 200) {
        receiver.accepted.push(...decoded);
        if (answer === undefined) return reply(200, {});
        // The response as the OTLP types make it, so its JSON is theirs too.
        const response = ExportLogsServiceResponse.fromObject({ partialSuccess: { rejectedLogRecords: String(answer.rejected), errorMessage: answer.message } });
        return reply(200, ExportLogsServiceResponse.toObject(response, CONVERSION));
      }
      if (answer.status === 'hang') return;
      if ('message' in answer) return reply(answer.status, { code: 3, message: answer.message });
      return reply(answer.status, { code: 14, message: 'unavailable' }, answer.retryAfter !== undefined ? { 'Retry-After': answer.retryAfter } : {});
    });
  };

  const server: http.Server = opts.tls ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert }, handle) : http.createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  receiver.port = (server.address() as AddressInfo).port;
  receiver.url = `${opts.tls ? 'otlps' : 'otlp'}://127.0.0.1:${receiver.port}`;
  return receiver;
}
