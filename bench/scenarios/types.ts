/** What a scenario is, and what it is given to run. */
import type { FigureSpec, Values } from '../figures.js';

export interface Context {
  /** The daemon's command template (see daemon.ts). */
  template: string;
  /** Multiplies line counts. */
  scale: number;
  /** Entries in the ring for the memory and dump scenarios. */
  ring: number;
  /** The compiled null reader's path (compiled on first use). */
  nullReader(): string;
  /** A progress note on stderr. */
  note(msg: string): void;
}

export interface Scenario {
  name: string;
  description: string;
  /** The figures one run yields, in table order, with their targets under these options. */
  figures(ctx: Context): FigureSpec[];
  run(ctx: Context): Promise<Values>;
}

/** A line count times the scale, at least min. */
export function scaled(ctx: Context, lines: number, min = 1): number {
  return Math.max(min, Math.round(lines * ctx.scale));
}

export const MB = 1e6;
