/** start: time from exec to both sockets ready; and idle RSS with the default ring. */
import { Scope, sleep } from '../children.js';
import { Daemon } from '../daemon.js';
import type { FigureSpec, Values } from '../figures.js';
import { rss } from '../proc-stats.js';
import { MB, type Context, type Scenario } from './types.js';

export const start: Scenario = {
  name: 'start',
  description: 'time from spawn (exec) to both sockets ready: the log socket path exists and the query socket accepts a connection (polled every ms); then VmRSS 1 s after start, default ring',
  figures: (): FigureSpec[] => [
    { key: 'ready', label: 'exec to sockets ready ms', format: 'ms', target: { op: '<=', value: 150, note: 'issue' } },
    { key: 'idle', label: 'idle RSS MB (default ring)', format: 'mb' },
  ],
  async run(ctx: Context): Promise<Values> {
    const scope = new Scope();
    try {
      const startedAt = Date.now();
      const daemon = await Daemon.start(scope, { template: ctx.template });
      await sleep(Math.max(0, 1000 - (Date.now() - startedAt)));
      daemon.assertAlive();
      const values = { ready: daemon.readyMs, idle: rss(daemon.pid) / MB };
      await daemon.stop();
      return values;
    } finally {
      await scope.close();
    }
  },
};
