// STAND-IN until the rfc5424 branch lands (same signatures).
import type { ForwardEntry } from './entry.js';
import type { MessageOptions } from './message-options.js';
import { formatRfc3339Nano } from '../entry/rfc3339.js';

export function formatRfc5424(entry: ForwardEntry, opts: MessageOptions): Buffer {
  const fac = entry.facility ?? opts.facility;
  const sev = entry.lost ? 4 : (entry.severity ?? 6);
  const t = formatRfc3339Nano(entry.sec, entry.nsec);
  const ts = t.slice(0, 19) + '.' + String(entry.nsec).padStart(9, '0').slice(0, 6) + 'Z';
  const app = entry.source.replace(/[^\x21-\x7e]/g, '_').slice(0, 48) || '-';
  let sd = '';
  if (entry.seq !== undefined) sd += `[meta sequenceId="${(entry.seq % 2147483647) + 1}"]`;
  sd += `[memlog@32473${entry.daemon !== undefined ? ` daemon="${entry.daemon}"` : ''}${entry.seq !== undefined ? ` seq="${entry.seq}"` : ''} ns="${String(entry.nsec).padStart(9, '0')}"${entry.lost ? ` lost="${entry.lost.count}" from="${entry.lost.from}" to="${entry.lost.to}"` : ''}]`;
  return Buffer.from(`<${fac * 8 + sev}>1 ${ts} ${opts.hostname} ${app} ${entry.pid ?? '-'} - ${sd}${entry.msg === '' ? '' : ' ' + entry.msg}`);
}

export function frameOctetCounted(messages: Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const m of messages) parts.push(Buffer.from(`${m.length} `), m);
  return Buffer.concat(parts);
}
