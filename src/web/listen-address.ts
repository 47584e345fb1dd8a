/** memlog web's -listen: `HOST:PORT` or `[V6]:PORT`, and whether the host is loopback (no token needed). */
import net from 'node:net';

export interface ListenAddress {
  /** As given, without brackets: a name (localhost), an IPv4 or an IPv6 address. */
  host: string;
  /** 0: a free port, chosen by the kernel. */
  port: number;
}

export class ListenAddressError extends Error {}

export const DEFAULT_LISTEN = '127.0.0.1:8080';

export function parseListen(text: string): ListenAddress {
  let host: string;
  let portText: string;
  const v6 = /^\[([^\]]*)\]:([^:]*)$/.exec(text);
  if (v6) {
    [, host, portText] = v6;
    if (net.isIPv6(host) === false) throw new ListenAddressError(`"${host}" in brackets is not an IPv6 address`);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) throw new ListenAddressError('give HOST:PORT or [IPV6]:PORT');
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) throw new ListenAddressError('an IPv6 address goes in brackets: [::1]:8080');
  }
  if (host === '') throw new ListenAddressError('the host is missing (give 127.0.0.1, ::1 or a name)');
  if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) > 65535) throw new ListenAddressError(`port "${portText}" is not 0 to 65535`);
  if (!net.isIP(host) && !/^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$/.test(host)) throw new ListenAddressError(`"${host}" is neither an IP address nor a host name`);
  return { host, port: Number(portText) };
}

/** 127.0.0.0/8, ::1, ::ffff:127.x.y.z and localhost: reachable from this machine only. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === 'localhost.') return true;
  if (net.isIPv4(h)) return h.startsWith('127.');
  if (net.isIPv6(h)) {
    const list = new net.BlockList();
    list.addAddress('::1', 'ipv6');
    list.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');
    return list.check(h, 'ipv6');
  }
  return false;
}

/** The URL a browser uses for the address: IPv6 in brackets. */
export function urlOf(host: string, port: number): string {
  return `http://${net.isIPv6(host) ? `[${host}]` : host}:${port}/`;
}
