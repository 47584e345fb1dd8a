/** latency: write-to-follower latency at a steady rate, writer and follower in one process (one clock); followLatency, for ring-follow too. */
import { Helper, Scope, numberField, type Message } from '../children.js';
import { Daemon } from '../daemon.js';
import type { FigureSpec, Values } from '../figures.js';
import { LINE_LEN } from '../workload.js';
import type { Context, Scenario } from './types.js';

const RATES = [10_000, 200_000];
const WARMUP_MS = 500;
const MEASURE_MS = 2000;

function k(rate: number): string {
  return `${rate / 1000}k`;
}

export const latency: Scenario = {
  name: 'latency',
  description: `write-to-follower latency at ${RATES.map((r) => r.toLocaleString('en-US')).join(' and ')} lines/s: one process writes 100-byte lines carrying their send time, paced from a 1 ms timer, and follows (mode 1); ${WARMUP_MS / 1000} s warm-up, then ${MEASURE_MS / 1000} s measured per rate; default ring`,
  figures: (): FigureSpec[] =>
    RATES.flatMap((rate): FigureSpec[] => [
      { key: `p50_${rate}`, label: `p50 ms at ${k(rate)} lines/s`, format: 'ms' },
      { key: `p99_${rate}`, label: `p99 ms at ${k(rate)} lines/s`, format: 'ms', target: rate === 200_000 ? { op: '<=', value: 5, note: 'issue' } : undefined },
      { key: `max_${rate}`, label: `max ms at ${k(rate)} lines/s`, format: 'ms' },
      { key: `lost_${rate}`, label: `lines lost at ${k(rate)} lines/s`, format: 'count' },
      { key: `achieved_${rate}`, label: `lines/s sent at ${k(rate)}`, format: 'rate' },
    ]),
  async run(ctx: Context): Promise<Values> {
    const scope = new Scope();
    try {
      const daemon = await Daemon.start(scope, { template: ctx.template });
      const values = await followLatency(scope, daemon, { rates: RATES, warmupMs: WARMUP_MS, measureMs: MEASURE_MS });
      await daemon.stop();
      return values;
    } finally {
      await scope.close();
    }
  },
};

export interface LatencyPlan {
  rates: number[];
  warmupMs: number;
  measureMs: number;
  /** The lines' text after their stamp: padding to LINE_LEN (default), or LogHub's lines (ring-follow). */
  text?: 'loghub';
}

/** Runs the latency client (latency-client.ts) against a started daemon: per rate R, p50_R, p99_R, max_R (ms), lost_R, achieved_R. */
export async function followLatency(scope: Scope, daemon: Daemon, plan: LatencyPlan): Promise<Values> {
  const args = [daemon.logSocket, daemon.requireQuery(), plan.rates.join(','), String(plan.warmupMs), String(plan.measureMs), String(LINE_LEN)];
  const client = new Helper('latency client', 'latency-client.js', plan.text ? [...args, plan.text] : args, scope);
  const report = await client.nextWith('rates', 60_000).catch((err: unknown) => {
    daemon.assertAlive();
    throw err;
  });
  daemon.assertAlive();
  const values: Values = {};
  for (const r of report.rates as Message[]) {
    const rate = numberField(r, 'rate');
    values[`p50_${rate}`] = numberField(r, 'p50Ms');
    values[`p99_${rate}`] = numberField(r, 'p99Ms');
    values[`max_${rate}`] = numberField(r, 'maxMs');
    values[`lost_${rate}`] = numberField(r, 'sent') - numberField(r, 'received');
    values[`achieved_${rate}`] = numberField(r, 'achievedRate');
  }
  return values;
}
