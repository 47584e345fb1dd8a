/**
 * A `-to URL`: which transport, where. Parsed strictly: a typo in a scheme or
 * a port is an error at start, not a forwarder that silently sends nowhere.
 */

export const SCHEMES = ['tcp', 'tls', 'relp', 'relp+tls', 'udp', 'otlp', 'otlps'] as const;
export type Scheme = (typeof SCHEMES)[number];

export interface Destination {
  scheme: Scheme;
  host: string;
  port: number;
  /** The URL as given, for messages and for naming the cursor. */
  url: string;
  /** OTLP only: the path to POST to (default /v1/logs). */
  path: string;
}

export class DestinationError extends Error {}

const DEFAULT_PORTS: Partial<Record<Scheme, number>> = { tls: 6514, udp: 514, relp: 2514, 'relp+tls': 2514, otlp: 4318, otlps: 4318 };

/** Longest -to URL: its cursor is saved in one fixed-size record. */
export const MAX_URL = 1024;

export function parseDestination(text: string): Destination {
  if (text.length > MAX_URL) throw new DestinationError(`-to URL of ${text.length} characters: at most ${MAX_URL}`);
  const m = /^([a-z+]+):\/\/(.*)$/.exec(text);
  if (!m) throw new DestinationError(`-to ${JSON.stringify(text)}: not a URL; expected SCHEME://HOST:PORT with SCHEME one of ${SCHEMES.join(', ')}`);
  const scheme = m[1] as Scheme;
  if (!(SCHEMES as readonly string[]).includes(scheme)) {
    throw new DestinationError(`-to ${JSON.stringify(text)}: unknown scheme "${m[1]}"; expected one of ${SCHEMES.join(', ')}`);
  }
  let url: URL;
  try {
    // WHATWG URL parses host, IPv6 brackets and port for any special-less scheme through http.
    url = new URL(`http://${m[2]}`);
  } catch {
    throw new DestinationError(`-to ${JSON.stringify(text)}: cannot read a host and port in it`);
  }
  if (url.username || url.password || url.search || url.hash) throw new DestinationError(`-to ${JSON.stringify(text)}: only SCHEME://HOST:PORT${scheme.startsWith('otlp') ? '[/PATH]' : ''} is understood`);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new DestinationError(`-to ${JSON.stringify(text)}: no host`);
  // new URL drops a port that is http's default (80): read it from the text instead.
  const portText = /:(\d+)(?:\/.*)?$/.exec(m[2])?.[1];
  const port = portText !== undefined ? Number(portText) : DEFAULT_PORTS[scheme];
  if (port === undefined) throw new DestinationError(`-to ${JSON.stringify(text)}: give a port (${scheme}:// has no usual one)`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new DestinationError(`-to ${JSON.stringify(text)}: port must be 1 to 65535`);
  let path = url.pathname;
  if (!scheme.startsWith('otlp')) {
    if (path !== '/' && path !== '') throw new DestinationError(`-to ${JSON.stringify(text)}: a ${scheme}:// destination has no path`);
    path = '';
  } else if (path === '/' || path === '') {
    path = '/v1/logs';
  }
  return { scheme, host, port, url: text, path };
}
