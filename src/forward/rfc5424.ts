/**
 * STAND-IN, to be replaced by the rfc5424 helper's module of the same
 * signature: one entry as one RFC 5424 message (no framing). Minimal on
 * purpose: PRI, version, timestamp (to microseconds, RFC 5424's most), host,
 * app, procid, msgid, meta and memlog SD elements, message.
 */
import type { ForwardEntry } from './entry.js';
import type { MessageOptions } from './message-options.js';

/** A header field: printable US-ASCII without spaces, bounded, "-" when empty. */
function field(s: string | undefined, max: number): string {
  if (s === undefined || s === '') return '-';
  const clean = s.replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return clean === '' ? '-' : clean;
}

function paramValue(s: string): string {
  return s.replace(/["\\\]]/g, (c) => `\\${c}`);
}

export function formatRfc5424(entry: ForwardEntry, opts: MessageOptions): Buffer {
  const pri = (entry.facility ?? opts.facility) * 8 + (entry.severity ?? 5);
  // RFC 5424 allows six fraction digits: the receipt time's nanoseconds are cut to microseconds.
  const time = entry.time.replace(/(\.\d{6})\d+/, '$1');
  let sd = '';
  if (entry.seq !== undefined) {
    sd = `[meta sequenceId="${(entry.seq % 2147483647) + 1}"][memlog@32473 daemon="${paramValue(entry.daemon ?? '')}" seq="${entry.seq}"]`;
  }
  const text = `<${pri}>1 ${time} ${field(opts.hostname, 255)} ${field(entry.source, 48)} ${entry.pid === undefined ? '-' : entry.pid} ${field(entry.msgid, 32)} ${sd === '' ? '-' : sd} ${entry.msg}`;
  return Buffer.from(text, 'utf8');
}
