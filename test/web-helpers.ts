/** What the memlog web tests share: the server as a process, plain HTTP requests, and an event stream reader. */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { BIN, waitFor } from './helpers.js';

export interface WebProcess {
  proc: ChildProcess;
  /** `http://127.0.0.1:PORT/`, from its startup line. */
  url: string;
  stderr(): string;
  /** Signals it (SIGTERM by default) and resolves with its exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts bin/memlog-web with args and waits for its one startup line; stopped after the test. */
export async function startWeb(t: { after(fn: () => void | Promise<void>): void }, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<WebProcess> {
  const proc = spawn(process.execPath, [BIN('memlog-web'), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stdout = '';
  let stderr = '';
  proc.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    return exited;
  };
  t.after(() => stop().then(() => undefined));
  const url = await waitFor('memlog web to print its URL', () => {
    if (proc.exitCode !== null) throw new Error(`memlog web exited with ${proc.exitCode}: ${stderr}`);
    const m = /^memlog web: (http:\/\/\S+\/)\n/.exec(stdout);
    return m ? m[1] : undefined;
  });
  return { proc, url, stderr: () => stderr, stop };
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

/** One request with the path sent exactly as given (fetch would tidy `..` away), the whole answer read. */
export function request(base: string, rawPath: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: rawPath, method: opts.method ?? 'GET', headers: opts.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

export interface SseEvent {
  event: string;
  id?: string;
  data: string;
  retry?: string;
}

/**
 * An event stream as a browser's EventSource reads it: events parsed as
 * they come (comments kept apart), with pause() to stop reading (a stalled
 * browser) and close() to go away.
 */
export class EventReader {
  readonly events: SseEvent[] = [];
  comments = 0;
  status = 0;
  headers: http.IncomingHttpHeaders = {};
  ended = false;
  bytes = 0;
  private res: http.IncomingMessage | undefined;
  private readonly req: http.ClientRequest;
  private buffer = '';

  private constructor(base: string, rawPath: string, headers: Record<string, string>, ready: (r: EventReader) => void, fail: (err: Error) => void) {
    const u = new URL(base);
    this.req = http.request({ host: u.hostname, port: u.port, path: rawPath, headers: { Accept: 'text/event-stream', ...headers } }, (res) => {
      this.res = res;
      this.status = res.statusCode ?? 0;
      this.headers = res.headers;
      res.setEncoding('utf8');
      res.on('data', (text: string) => {
        this.bytes += Buffer.byteLength(text);
        this.feed(text);
      });
      res.on('end', () => (this.ended = true));
      res.on('close', () => (this.ended = true));
      res.on('error', () => {});
      ready(this);
    });
    this.req.on('error', fail);
    this.req.end();
  }

  static open(base: string, rawPath: string, headers: Record<string, string> = {}): Promise<EventReader> {
    return new Promise((resolve, reject) => new EventReader(base, rawPath, headers, resolve, reject));
  }

  private feed(text: string): void {
    const buf = this.buffer + text;
    let pos = 0;
    for (;;) {
      const end = buf.indexOf('\n\n', pos);
      if (end < 0) break;
      const block = buf.slice(pos, end);
      pos = end + 2;
      const ev: SseEvent = { event: 'message', data: '' };
      let data: string[] | undefined;
      let fields = 0;
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) {
          this.comments++;
          continue;
        }
        const colon = line.indexOf(':');
        const name = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        fields++;
        if (name === 'event') ev.event = value;
        else if (name === 'id') ev.id = value;
        else if (name === 'retry') ev.retry = value;
        else if (name === 'data') (data ??= []).push(value);
      }
      if (data) ev.data = data.join('\n');
      if (fields > 0) this.events.push(ev);
    }
    this.buffer = buf.slice(pos);
  }

  /** Waits for an event that pred accepts (each event looked at once, however long the stream). */
  async waitForEvent(what: string, pred: (e: SseEvent) => boolean, timeoutMs?: number): Promise<SseEvent> {
    let next = 0;
    return waitFor(
      what,
      () => {
        for (; next < this.events.length; next++) if (pred(this.events[next])) return this.events[next];
        if (this.ended) throw new Error(`the stream ended (${this.events.length} events)`);
        return undefined;
      },
      timeoutMs,
    );
  }

  /** Entries received (default events), parsed. */
  entries(): Record<string, unknown>[] {
    return this.events.filter((e) => e.event === 'message').map((e) => JSON.parse(e.data) as Record<string, unknown>);
  }

  pause(): void {
    this.res?.pause();
  }

  resume(): void {
    this.res?.resume();
  }

  close(): void {
    this.req.destroy();
  }
}
