/**
 * A TCP syslog receiver for the forwarder's tests: RFC 6587 octet-counted
 * frames, each RFC 5424 message split into its fields. It can be stopped and
 * started again on the same port (a receiver restart), and can stop reading
 * (a receiver that hangs).
 */
import net from 'node:net';

export interface Received {
  pri: number;
  severity: number;
  facility: number;
  timestamp: string;
  hostname: string;
  app: string;
  procid: string;
  msgid: string;
  /** SD-ID -> params. */
  sd: Record<string, Record<string, string>>;
  msg: string;
}

const HEADER = /^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) /;

/** Splits an RFC 5424 message (strict enough for what we send); throws on anything else. */
export function parse5424(text: string): Received {
  const m = HEADER.exec(text);
  if (!m) throw new Error(`not RFC 5424: ${text.slice(0, 120)}`);
  let rest = text.slice(m[0].length);
  const sd: Record<string, Record<string, string>> = {};
  if (rest.startsWith('-')) rest = rest.slice(1);
  else {
    while (rest.startsWith('[')) {
      const id = /^\[([^ \]=\"]+)/.exec(rest);
      if (!id) throw new Error(`bad SD: ${rest.slice(0, 80)}`);
      rest = rest.slice(id[0].length);
      const params: Record<string, string> = {};
      for (;;) {
        const p = /^ ([^ \]=\"]+)="((?:[^"\\\]]|\\.)*)"/.exec(rest);
        if (!p) break;
        params[p[1]] = p[2].replace(/\\(["\\\]])/g, '$1');
        rest = rest.slice(p[0].length);
      }
      if (!rest.startsWith(']')) throw new Error(`bad SD end: ${rest.slice(0, 80)}`);
      rest = rest.slice(1);
      sd[id[1]] = params;
    }
  }
  const msg = rest.startsWith(' ') ? rest.slice(1) : rest;
  const pri = Number(m[1]);
  return { pri, severity: pri % 8, facility: pri >> 3, timestamp: m[2], hostname: m[3], app: m[4], procid: m[5], msgid: m[6], sd, msg };
}

export class SyslogReceiver {
  readonly messages: Received[] = [];
  connections = 0;
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  async start(): Promise<void> {
    const server = net.createServer((socket) => this.onConnection(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        server.off('error', reject);
        this.port = (server.address() as net.AddressInfo).port;
        resolve();
      });
    });
  }

  /** Closes the listener and every connection at once (a crash, as seen from the sender: RST or FIN). */
  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }

  private onConnection(socket: net.Socket): void {
    this.connections++;
    this.sockets.add(socket);
    if (this.paused) socket.pause();
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buf: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      let pos = 0;
      for (;;) {
        const sp = buf.indexOf(32, pos);
        if (sp < 0) break;
        const len = Number(buf.toString('latin1', pos, sp));
        if (!Number.isSafeInteger(len) || len <= 0) {
          socket.destroy(new Error(`bad frame length at ${pos}`));
          return;
        }
        if (sp + 1 + len > buf.length) break;
        this.messages.push(parse5424(buf.toString('utf8', sp + 1, sp + 1 + len)));
        pos = sp + 1 + len;
      }
      buf = buf.subarray(pos);
    });
  }

  /** Stops reading every connection (a receiver that has fallen behind); resume() reads again. */
  pause(): void {
    this.paused = true;
    for (const s of this.sockets) s.pause();
  }

  resume(): void {
    this.paused = false;
    for (const s of this.sockets) s.resume();
  }

  private paused = false;

  /** Messages of one app-name, in order. */
  of(app: string): Received[] {
    return this.messages.filter((m) => m.app === app);
  }
}
