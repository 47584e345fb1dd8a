/**
 * memlog web's token (-token): a request carries it as `Authorization: Bearer
 * TOKEN` or as the cookie `memlog_token`, set by `GET /?token=TOKEN`. Tokens
 * are compared as SHA-256 digests with timingSafeEqual: the time taken says
 * nothing about how much of a guess was right, nor about the token's length.
 */
import crypto from 'node:crypto';
import type http from 'node:http';

export const TOKEN_COOKIE = 'memlog_token';

function digest(text: string): Buffer {
  return crypto.createHash('sha256').update(text, 'utf8').digest();
}

export class TokenCheck {
  private readonly want: Buffer;

  constructor(token: string) {
    this.want = digest(token);
  }

  /** Whether text is the token, in constant time. */
  matches(text: string): boolean {
    return crypto.timingSafeEqual(digest(text), this.want);
  }

  /** Whether the request carries the token, in its Authorization header or its cookie. */
  allows(req: http.IncomingMessage): boolean {
    const bearer = bearerToken(req.headers.authorization);
    if (bearer !== undefined && this.matches(bearer)) return true;
    const cookie = cookieValue(req.headers.cookie, TOKEN_COOKIE);
    return cookie !== undefined && this.matches(cookie);
  }
}

function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return m ? m[1] : undefined;
}

/** A cookie's value from a Cookie header (`a=1; memlog_token=...`); the token is sent as set, not quoted or encoded. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The Set-Cookie value that holds the token for the browser's later requests. */
export function tokenCookie(token: string): string {
  return `${TOKEN_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`;
}

/**
 * A -token value must survive a cookie and a header as is: printable ASCII
 * without spaces, `;`, `,` or quotes (RFC 6265's cookie-octet). Undefined if it
 * can be used, else why not.
 */
export function tokenProblem(token: string): string | undefined {
  if (token.length < 8) return 'at least 8 characters';
  if (token.length > 1024) return 'at most 1024 characters';
  if (!/^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]+$/.test(token)) return 'printable ASCII only, without spaces, quotes, commas, semicolons or backslashes';
  return undefined;
}
