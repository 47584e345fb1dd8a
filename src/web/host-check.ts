/**
 * Without a token, the server trusts whoever can reach loopback, and a web
 * page on another site can reach loopback through the browser by DNS
 * rebinding (its own name made to resolve to 127.0.0.1): the browser then
 * sends that name in the Host header. So without a token, a request must name
 * the server by an IP address or `localhost`, as a person's browser does; a
 * name never resolves by rebinding into an address literal.
 */
import net from 'node:net';

/** Whether the Host header (absent: an HTTP/1.0 client, not a browser) may be answered without a token. */
export function hostAllowed(host: string | undefined): boolean {
  if (host === undefined) return true;
  const h = host.toLowerCase();
  const v6 = /^\[([0-9a-f:.]+)\](?::[0-9]{1,5})?$/.exec(h);
  if (v6) return net.isIPv6(v6[1]);
  const m = /^([^:]+)(?::[0-9]{1,5})?$/.exec(h);
  if (!m) return false;
  const name = m[1].replace(/\.$/, '');
  return name === 'localhost' || net.isIPv4(name);
}
