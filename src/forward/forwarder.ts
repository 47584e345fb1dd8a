/**
 * The forwarder: one route per destination, side by side (route.ts), all
 * reading the same memlogd. A destination's cursor lives in the state
 * directory, named after its URL.
 */
import type { Filter } from '../filter/entry-filter.js';
import { queryStatus } from '../clients/query-client.js';
import { CursorStore } from './cursor-store.js';
import type { Destination } from './destination.js';
import type { MessageOptions } from './message-options.js';
import { Route } from './route.js';
import type { SenderOptions, TlsOptions } from './sender.js';
import { makeSender } from './senders/index.js';

export interface ForwarderOptions {
  socket: string;
  destinations: Destination[];
  stateDir: string;
  message: MessageOptions;
  tls: TlsOptions;
  filter?: Filter;
  warn(msg: string): void;
  info(msg: string): void;
  connectTimeoutMs?: number;
  helloTimeoutMs?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** RELP's window (entries unacknowledged at once). */
  relpWindow?: number;
}

export class Forwarder {
  readonly routes: Route[];

  private readonly socket: string;

  constructor(opts: ForwarderOptions) {
    this.socket = opts.socket;
    CursorStore.prepare(opts.stateDir);
    const urls = new Set<string>();
    this.routes = opts.destinations.map((destination) => {
      // Two routes with one cursor file would overwrite each other's.
      if (urls.has(destination.url)) throw new Error(`-to ${destination.url} is given twice`);
      urls.add(destination.url);
      const senderOptions: SenderOptions = {
        destination,
        message: opts.message,
        tls: opts.tls,
        connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
        relpWindow: opts.relpWindow,
      };
      return new Route({
        socket: opts.socket,
        url: destination.url,
        makeSender: () => makeSender(senderOptions),
        cursors: new CursorStore(opts.stateDir, destination.url),
        filter: opts.filter,
        warn: opts.warn,
        info: opts.info,
        helloTimeoutMs: opts.helloTimeoutMs,
        minBackoffMs: opts.minBackoffMs,
        maxBackoffMs: opts.maxBackoffMs,
      });
    });
  }

  run(): Promise<void> {
    return Promise.all(this.routes.map((r) => r.run())).then(() => undefined);
  }

  stop(): void {
    for (const r of this.routes) r.stop();
  }

  /**
   * A shutdown: first send what memlogd holds now (what the other services
   * said last) to every destination that is up, then stop. Bounded by
   * timeoutMs; a memlogd that is gone ends it at once.
   */
  async drainThenStop(timeoutMs = 10_000): Promise<void> {
    try {
      const status = await queryStatus(this.socket, 1000);
      const target = status.ring.next - 1;
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline && !this.routes.every((r) => r.caughtUp(status.daemon, target))) await new Promise((r) => setTimeout(r, 10));
    } catch {
      // memlogd is gone (or an upstream one, which has no status): nothing more to drain.
    }
    this.stop();
  }
}
