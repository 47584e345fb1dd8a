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

/** TLS errors that mean the server's certificate does not verify: trying again with the same CA cannot help. */
const CERTIFICATE_ERRORS = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'INVALID_CA',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

export function isCertificateError(code: string | undefined): boolean {
  return code !== undefined && CERTIFICATE_ERRORS.has(code);
}

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
      const tlsProblem = isCertificateError(code);
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
