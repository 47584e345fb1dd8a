/**
 * What an OTLP/HTTP receiver's answer means for the batch it answers, as the
 * OTLP spec says: 2xx acknowledged (maybe with partial_success rejections to
 * tell the user); 429, 502, 503, 504 retry, after Retry-After if it says; 400
 * never retry. The answer comes from an untrusted peer: everything taken from
 * it is bounded and made one printable line.
 */
import { SendError } from './sender.js';

export interface HttpAnswer {
  status: number;
  /** Retry-After and Location, the only headers that matter here. */
  retryAfter?: string;
  location?: string;
  /** At most the first bytes of the body (the caller bounds it). */
  body: Buffer;
  /** The body was longer than what was read, or broke off. */
  truncated: boolean;
}

export type OtlpOutcome =
  /** Acknowledged; report, when set, is the receiver's partial_success to tell the user. */
  | { kind: 'ok'; report?: string }
  /** The receiver says this request can never succeed (400): the records are dropped, and the user told. */
  | { kind: 'dropped'; report: string }
  /** 413 for a request of several records: send it again in halves. */
  | { kind: 'split' }
  | { kind: 'error'; error: SendError };

/** The longest wait a Retry-After may impose: the receiver is not trusted to stop the forwarder for a day. */
export const MAX_RETRY_AFTER_MS = 10 * 60_000;

/** How much of a receiver's text goes into a message. */
const EXCERPT_CHARS = 300;

/** Retry-After (RFC 9110): delay-seconds or an HTTP date; in ms from now, bounded; undefined if absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  let ms: number;
  if (/^\d{1,10}$/.test(v)) {
    ms = Number(v) * 1000;
  } else {
    // HTTP dates always name the weekday; Date.parse alone would also take "5" or "2024".
    if (!/^[A-Za-z]{3,9},/.test(v)) return undefined;
    const t = Date.parse(v);
    if (Number.isNaN(t)) return undefined;
    ms = Math.max(0, t - now);
  }
  return Math.min(ms, MAX_RETRY_AFTER_MS);
}

/** Text from a peer as one printable line of at most max characters. */
export function oneLine(text: string, max = EXCERPT_CHARS): string {
  const flat = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}...` : flat;
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/**
 * What the receiver said in an error's body: a google.rpc.Status's message
 * (what OTLP receivers send) when the body is one, else the start of the text.
 */
export function bodyExcerpt(answer: HttpAnswer): string {
  if (answer.body.length === 0) return '';
  const v = parseJson(answer.body);
  if (typeof v === 'object' && v !== null && typeof (v as { message?: unknown }).message === 'string') {
    return oneLine((v as { message: string }).message);
  }
  const text = answer.body.subarray(0, EXCERPT_CHARS * 4).toString('utf8');
  // A protobuf Status or other binary: say what it is rather than print noise.
  const odd = text.replace(/[\t\n\r\u0020-\u007e\u00a0-\uffef]/g, '').length;
  if (odd > text.length / 10) return `(${answer.body.length}${answer.truncated ? '+' : ''} bytes of binary)`;
  return oneLine(text);
}

/** The partial_success of a 2xx's ExportLogsServiceResponse, as a message; undefined when there is nothing to tell. */
export function partialSuccessReport(answer: HttpAnswer, records: number, url: string): string | undefined {
  if (answer.body.length === 0 || answer.truncated) return undefined;
  const v = parseJson(answer.body);
  if (typeof v !== 'object' || v === null) return undefined;
  const p = (v as { partialSuccess?: unknown }).partialSuccess;
  if (typeof p !== 'object' || p === null) return undefined;
  const { rejectedLogRecords, errorMessage } = p as { rejectedLogRecords?: unknown; errorMessage?: unknown };
  // int64 in proto3 JSON is a decimal string; numbers are accepted too.
  const rejected =
    typeof rejectedLogRecords === 'number' ? rejectedLogRecords : typeof rejectedLogRecords === 'string' && /^\d{1,18}$/.test(rejectedLogRecords) ? Number(rejectedLogRecords) : 0;
  const why = typeof errorMessage === 'string' ? oneLine(errorMessage) : '';
  if (Number.isSafeInteger(rejected) && rejected > 0) {
    return `${url}: the receiver rejected ${rejected} of ${records} log records: ${why || 'it gave no reason'}`;
  }
  if (why) return `${url}: the receiver took all ${records} log records, with a warning: ${why}`;
  return undefined;
}

function said(answer: HttpAnswer): string {
  const excerpt = bodyExcerpt(answer);
  return excerpt ? `: ${excerpt}` : '';
}

/** What a receiver's answer to a request of `records` log records means. */
export function interpretAnswer(answer: HttpAnswer, records: number, url: string, now: number): OtlpOutcome {
  const { status } = answer;
  if (status >= 200 && status < 300) return { kind: 'ok', report: partialSuccessReport(answer, records, url) };
  if (status === 400) {
    return {
      kind: 'dropped',
      report: `${url}: the receiver refused ${records} log record${records === 1 ? '' : 's'} as invalid (HTTP 400${said(answer)}); dropped, since a 400 is never retried`,
    };
  }
  if (status === 413) {
    if (records > 1) return { kind: 'split' };
    return { kind: 'dropped', report: `${url}: the receiver refused a log record as too large (HTTP 413${said(answer)}); dropped it` };
  }
  const retryAfterMs = parseRetryAfter(answer.retryAfter, now);
  const wait = retryAfterMs !== undefined ? ` (it asks to wait ${Math.ceil(retryAfterMs / 1000)} s)` : '';
  if (status === 408 || status === 429 || status >= 500) {
    // 429/502/503/504 are OTLP's retryable answers; other 5xx are retried too, since the logs must not be lost.
    return { kind: 'error', error: new SendError(`${url}: HTTP ${status}${said(answer)}${wait}`, false, retryAfterMs) };
  }
  if (status >= 300 && status < 400) {
    const to = answer.location ? ` to ${oneLine(answer.location, 200)}` : '';
    return { kind: 'error', error: new SendError(`${url}: HTTP ${status}, a redirect${to}: give the receiver's own URL`, true) };
  }
  let hint = '';
  if (status === 404) hint = ' (is the path right? the usual one is /v1/logs)';
  else if (status === 415) hint = ' (the receiver does not take OTLP/JSON)';
  // Other 4xx (401, 403, 404...) say something is wrong with the destination, not with these records: not dropped.
  return { kind: 'error', error: new SendError(`${url}: HTTP ${status}${said(answer)}${hint}`, true, retryAfterMs) };
}
