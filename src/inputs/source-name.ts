/**
 * The source name a sender asked for, made safe to show: the datagram payload is
 * untrusted bytes. Invalid UTF-8 and control characters (a newline in a name
 * would let a sender forge whole lines in text output) become U+FFFD.
 */

import { MAX_NAME_BYTES } from '../protocol/wire.js';

// ignoreBOM: a leading U+FEFF is part of the name as sent, not something to drop silently.
const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const lenient = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/g;

export const EMPTY_NAME = 'unnamed';

export interface NameCheck {
  name: string;
  /** What was wrong with the name as sent, if anything (for the daemon's own log). */
  problem?: string;
}

export function sourceName(payload: Uint8Array, truncated: boolean): NameCheck {
  if (payload.length === 0) {
    return { name: EMPTY_NAME, problem: `stream sent with an empty name; reading it as "${EMPTY_NAME}"` };
  }
  const problems: string[] = [];
  let decoded: string;
  try {
    decoded = strict.decode(payload);
  } catch {
    decoded = lenient.decode(payload);
    // A name cut at 512 bytes may end in half a character: that alone is not worth a second complaint.
    if (!truncated || lenient.decode(payload.subarray(0, payload.length - 3)).includes('\ufffd')) {
      problems.push('invalid UTF-8 replaced by U+FFFD');
    }
  }
  const name = decoded.replace(CONTROL, '\ufffd');
  if (truncated) problems.push(`name longer than ${MAX_NAME_BYTES} bytes cut to ${MAX_NAME_BYTES}`);
  if (name !== decoded) problems.push('control characters replaced by U+FFFD');
  return problems.length > 0 ? { name, problem: `source "${name}": ${problems.join('; ')}` } : { name };
}
