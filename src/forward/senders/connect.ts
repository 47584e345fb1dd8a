/**
 * Opens a TCP or TLS connection to a destination, bounded in time, with the
 * command line's TLS options. The server's certificate is verified against
 * -tls-ca (or the system's CAs) unless -tls-insecure; the error says which
 * check failed, in one line.
 */
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { SendError, type TlsOptions } from '../sender.js';

/** PEM files read once per connection attempt: a renewed certificate is picked up at the next reconnect. */
export function tlsContextOptions(opts: TlsOptions, host: string): tls.ConnectionOptions {
  const read = (file: string | undefined, what: string): Buffer | undefined => {
    if (file === undefined) return undefined;
    try {
      return fs.readFileSync(file);
    } catch (err) {
      throw new SendError(`cannot read the ${what} ${file}: ${(err as Error).message}`, true);
    }
  };
  const servername = opts.servername ?? (net.isIP(host) ? undefined : host);
  const options: tls.ConnectionOptions = {
    ca: read(opts.ca, 'CA file (-tls-ca)'),
    cert: read(opts.cert, 'certificate (-tls-cert)'),
    key: read(opts.key, 'key (-tls-key)'),
    servername,
    rejectUnauthorized: opts.insecure !== true,
  };
  // The name given is the one checked (an IP address too, against the certificate's IP entries).
  // Only set when given: Node fails on checkServerIdentity present but undefined.
  const name = opts.servername;
  if (name !== undefined) options.checkServerIdentity = (_host, cert) => tls.checkServerIdentity(name, cert);
  return options;
}

/** Connects; resolves once connected (and the TLS handshake verified); rejects with a SendError. */
export function connectStream(host: string, port: number, secure: TlsOptions | undefined, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    let socket: net.Socket;
    try {
      socket = secure ? tls.connect({ host, port, ...tlsContextOptions(secure, host) }) : net.connect({ host, port });
    } catch (err) {
      reject(err instanceof SendError ? err : new SendError((err as Error).message, true));
      return;
    }
    const where = `${host}:${port}`;
    const timer = setTimeout(() => fail(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      const code = (err as NodeJS.ErrnoException).code;
      const tlsProblem = code !== undefined && /CERT|SELF_SIGNED|UNABLE_TO|HOSTNAME|ERR_TLS|ALTNAME/.test(code);
      reject(new SendError(`cannot connect to ${where}: ${err.message}${tlsProblem ? ' (the server certificate failed verification: see -tls-ca, -tls-servername, -tls-insecure)' : ''}`, tlsProblem));
    };
    socket.once('error', fail);
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      socket.off('error', fail);
      socket.setNoDelay(true);
      resolve(socket);
    });
  });
}
