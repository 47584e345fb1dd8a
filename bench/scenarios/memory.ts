/** memory: idle RSS, then peak RSS once the ring holds its million entries. */
import { Scope, sleep } from '../children.js';
import { Daemon } from '../daemon.js';
import type { FigureSpec, Values } from '../figures.js';
import { peakRss, rss } from '../proc-stats.js';
import { fill, ringConfig } from './load.js';
import { MB, type Context, type Scenario } from './types.js';

export const FULL_RING = 1_000_000;

export const memory: Scenario = {
  name: 'memory',
  description: 'RSS of a daemon with a ring of 1,000,000 entries (maxLines 1000000, maxBytes 110000000; --ring N changes it): idle (VmRSS 1 s after start, before any writer), then peak (VmHWM) once 8 writers have filled the ring with 100-byte lines',
  figures: (ctx: Context): FigureSpec[] => [
    { key: 'idle', label: `idle RSS MB (ring ${ctx.ring.toLocaleString('en-US')})`, format: 'mb', target: { op: '<=', value: 45, note: 'issue' } },
    {
      key: 'peak',
      label: `peak RSS MB, ring full (${ctx.ring.toLocaleString('en-US')})`,
      format: 'mb',
      target: ctx.ring === FULL_RING ? { op: '<=', value: 150, note: 'issue, with 1,000,000 entries' } : undefined,
    },
    { key: 'after', label: 'RSS MB after the fill', format: 'mb' },
    { key: 'fillRate', label: 'fill: ingested lines/s', format: 'rate' },
  ],
  async run(ctx: Context): Promise<Values> {
    const scope = new Scope();
    try {
      const startedAt = Date.now();
      const daemon = await Daemon.start(scope, { template: ctx.template, ...ringConfig(ctx.ring) });
      await sleep(Math.max(0, 1000 - (Date.now() - startedAt)));
      daemon.assertAlive();
      const idle = rss(daemon.pid);
      const f = await fill(scope, daemon, ctx.ring);
      await sleep(200);
      daemon.assertAlive();
      const values = { idle: idle / MB, peak: peakRss(daemon.pid) / MB, after: rss(daemon.pid) / MB, fillRate: f.rate };
      await daemon.stop();
      return values;
    } finally {
      await scope.close();
    }
  },
};
