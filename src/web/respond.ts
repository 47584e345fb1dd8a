/** Short answers of memlog web: one line of text (errors, refusals) or a JSON body. */
import type http from 'node:http';

/** A one-line text answer; a response already under way (headers sent) can only be cut off. */
export function sendText(res: http.ServerResponse, status: number, line: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = Buffer.from(line.replace(/[\r\n]+/g, ' ') + '\n');
  res.writeHead(status, { ...headers, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(body.length) });
  res.end(body);
}

export function sendBody(res: http.ServerResponse, contentType: string, body: string | Buffer): void {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': String(bytes.length) });
  res.end(bytes);
}
