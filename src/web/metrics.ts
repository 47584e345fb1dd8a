/**
 * memlogd's status (query mode 4) as Prometheus metrics, in the text
 * exposition format 0.0.4: per family a HELP and a TYPE line, then its
 * samples. Label values are escaped (`\\`, `\"`, `\n`); source names can hold
 * anything but control characters. A source name that appears more than once
 * (the same name from several senders) is summed into one series: a pid label
 * would make a new series for every restart of a service. Fields a memlogd
 * does not send (an older one, no rate limit, no syslog) leave their families
 * out, except the counters of things that are then simply zero.
 */
import type { DaemonStatus } from '../protocol/wire.js';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

type Labels = Record<string, string>;
interface Sample {
  labels?: Labels;
  value: number;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function labelText(labels: Labels | undefined): string {
  if (!labels) return '';
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length > 0 ? `{${parts.join(',')}}` : '';
}

/** The exposition text, family by family. */
class Exposition {
  private text = '';

  family(name: string, type: 'counter' | 'gauge', help: string, samples: Sample[]): void {
    if (samples.length === 0) return;
    this.text += `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n`;
    for (const s of samples) this.text += `${name}${labelText(s.labels)} ${formatValue(s.value)}\n`;
  }

  /** One unlabelled sample, if the value is a number. */
  one(name: string, type: 'counter' | 'gauge', help: string, value: number | undefined): void {
    if (value !== undefined) this.family(name, type, help, [{ value }]);
  }

  toString(): string {
    return this.text;
  }
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function records(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.map(record).filter((r): r is Record<string, unknown> => r !== undefined) : [];
}

/** Sums field over items by their `source` name, in order of first appearance. */
function bySource(items: Record<string, unknown>[], field: string): Sample[] {
  const sums = new Map<string, number>();
  for (const item of items) {
    const name = item.source;
    const value = num(item[field]);
    if (typeof name !== 'string' || value === undefined) continue;
    sums.set(name, (sums.get(name) ?? 0) + value);
  }
  return [...sums].map(([source, value]) => ({ labels: { source }, value }));
}

export function metricsText(status: DaemonStatus): string {
  const m = new Exposition();
  const ring = record(status.ring) ?? {};
  m.family('memlog_info', 'gauge', "memlogd's identity: its id (new at each start) and pid; always 1", [
    { labels: { daemon: status.daemon, pid: String(status.pid) }, value: 1 },
  ]);
  m.one('memlog_uptime_seconds', 'gauge', 'Seconds since memlogd started', num(status.uptimeSeconds));
  m.one('memlog_ring_entries', 'gauge', 'Entries held in the ring', num(ring.entries));
  m.one('memlog_ring_bytes', 'gauge', 'Message bytes held in the ring', num(ring.bytes));
  m.one('memlog_ring_stored_bytes', 'gauge', 'Bytes the ring uses to store its messages (compressed blocks included)', num(ring.stored));
  m.one('memlog_ring_max_entries', 'gauge', 'Entries the ring holds at most (-max-lines)', num(ring.maxLines));
  m.one('memlog_ring_max_bytes', 'gauge', 'Message bytes the ring holds at most (-max-bytes)', num(ring.maxBytes));
  m.one('memlog_ring_first_seq', 'gauge', 'Sequence number of the oldest entry held', num(ring.first));
  m.one('memlog_entries_total', 'counter', 'Entries added to the ring since memlogd started (the next sequence number)', num(ring.next));
  m.one('memlog_ring_dropped_total', 'counter', 'Entries that left the ring to make room for newer ones', num(ring.dropped));
  m.one('memlog_ring_sources', 'gauge', 'Sources known to the ring', num(ring.sources));
  const held = records(status.ringSources);
  m.family('memlog_source_entries', 'gauge', 'Entries held in the ring, by source name', bySource(held, 'entries'));
  m.family('memlog_source_bytes', 'gauge', 'Message bytes held in the ring, by source name', bySource(held, 'bytes'));

  const streams = Array.isArray(status.streams) ? status.streams : undefined;
  m.one('memlog_streams_open', 'gauge', 'Log streams memlogd reads now', streams?.length);
  m.one('memlog_streams_accepted_total', 'counter', 'Log streams accepted since memlogd started', num(status.streamsAccepted));
  m.one('memlog_streams_refused_total', 'counter', 'Log streams refused (too many streams, bad fds)', num(status.refused));
  m.one('memlog_streams_duplicate_total', 'counter', 'Fds handed over for a stream memlogd reads already', num(status.duplicateStreams));
  m.one('memlog_query_clients', 'gauge', "Open connections to memlogd's query socket, this status query included", num(status.queryClients));
  m.one('memlog_readers_lost_total', 'counter', 'Entries readers lost because the ring dropped them before they were read', num(status.readersLost));

  const rateLimit = record(status.rateLimit);
  const suppressed = record(rateLimit?.suppressed);
  m.one('memlog_rate_limit_suppressed_total', 'counter', 'Entries dropped by the per-source rate limit', num(suppressed?.total) ?? 0);
  m.family('memlog_rate_limit_source_suppressed_total', 'counter', 'Entries dropped by the rate limit, by source name', bySource(records(suppressed?.sources), 'count'));
  m.one('memlog_rate_limit_burst', 'gauge', 'Entries a source may send per interval (-rate-limit-burst)', num(rateLimit?.burst));
  m.one('memlog_rate_limit_interval_seconds', 'gauge', "The rate limit's interval", rateLimit && num(rateLimit.intervalMs) !== undefined ? (rateLimit.intervalMs as number) / 1000 : undefined);

  const memory = record(status.memory);
  m.one('memlog_memory_rss_bytes', 'gauge', "memlogd's resident memory", num(memory?.rss));
  m.one('memlog_memory_heap_used_bytes', 'gauge', "memlogd's JavaScript heap in use", num(memory?.heapUsed));
  m.one('memlog_memory_heap_total_bytes', 'gauge', "memlogd's JavaScript heap reserved", num(memory?.heapTotal));
  m.one('memlog_memory_external_bytes', 'gauge', "memlogd's memory outside the JavaScript heap held by JavaScript objects (the ring's buffers)", num(memory?.external));

  const syslog = record(status.syslog);
  if (syslog) {
    m.one('memlog_syslog_datagrams_total', 'counter', 'Syslog datagrams received', num(syslog.datagrams));
    m.one('memlog_syslog_stream_messages_total', 'counter', 'Syslog messages received over stream connections', num(syslog.streamMessages));
    m.one('memlog_syslog_suppressed_total', 'counter', 'Syslog messages dropped by the rate limit', num(syslog.suppressed));
    m.one('memlog_syslog_truncated_total', 'counter', 'Syslog messages cut to -max-line-len', num(syslog.truncated));
    m.one('memlog_syslog_connections', 'gauge', 'Syslog stream connections open', num(syslog.connections));
    m.one('memlog_syslog_connections_accepted_total', 'counter', 'Syslog stream connections accepted', num(syslog.connectionsAccepted));
    const refused = record(syslog.refused) ?? {};
    m.family(
      'memlog_syslog_refused_total',
      'counter',
      'Syslog datagrams and connections refused, by reason',
      Object.entries(refused)
        .filter(([, v]) => num(v) !== undefined)
        .map(([reason, v]) => ({ labels: { reason }, value: v as number })),
    );
  }
  const kmsg = record(status.kmsg);
  if (kmsg) {
    m.one('memlog_kmsg_reading', 'gauge', 'Whether memlogd reads the kernel log (1) or stopped (0)', typeof kmsg.reading === 'boolean' ? Number(kmsg.reading) : undefined);
    m.one('memlog_kmsg_lines_total', 'counter', 'Kernel log records read', num(kmsg.lines));
    m.one('memlog_kmsg_bytes_total', 'counter', 'Kernel log bytes read', num(kmsg.bytes));
    m.one('memlog_kmsg_truncated_total', 'counter', 'Kernel log records cut to -max-line-len', num(kmsg.truncated));
  }
  return m.toString();
}
