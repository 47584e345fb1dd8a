/** dump: a mode 0 reader gets the whole ring (1,000,000 entries), from connect to end of stream. */
import { Scope } from '../children.js';
import { Daemon } from '../daemon.js';
import type { FigureSpec, Values } from '../figures.js';
import { DumpReader, seconds } from '../workload.js';
import { fill, ringConfig } from './load.js';
import { FULL_RING } from './memory.js';
import { MB, type Context, type Scenario } from './types.js';

export const dump: Scenario = {
  name: 'dump',
  description: 'a mode 0 reader (its own process) dumps a full ring of 1,000,000 100-byte entries (--ring N changes it): time from connect to end of stream',
  figures: (ctx: Context): FigureSpec[] => [
    {
      key: 'ms',
      label: `dump time ms (${ctx.ring.toLocaleString('en-US')} entries)`,
      format: 'ms',
      target: ctx.ring === FULL_RING ? { op: '<=', value: 1000, note: 'issue, with 1,000,000 entries' } : undefined,
    },
    { key: 'mbps', label: 'dump MB/s', format: 'mbps' },
    { key: 'entries', label: 'entries received', format: 'count' },
    { key: 'readerCpu', label: 'reader CPU µs/entry', format: 'us' },
  ],
  async run(ctx: Context): Promise<Values> {
    const scope = new Scope();
    try {
      const daemon = await Daemon.start(scope, { template: ctx.template, ...ringConfig(ctx.ring) });
      const query = daemon.requireQuery();
      await fill(scope, daemon, ctx.ring);
      const reader = await DumpReader.start(scope, query);
      const r = await reader.run();
      daemon.assertAlive();
      await daemon.stop();
      const sec = seconds(r.connectAt, r.endAt);
      const entries = r.lines + r.memlogd;
      return { ms: sec * 1000, mbps: r.bytes / MB / sec, entries, readerCpu: r.cpuMicros / entries };
    } finally {
      await scope.close();
    }
  },
};
