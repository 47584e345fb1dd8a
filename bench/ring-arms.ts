/**
 * The compressed ring's scenarios (issue 13) run memlogd twice in one run,
 * with the same workload: -compress-ring=false (the raw ring), then
 * -compress-ring=true. Each figure is given for both, then as compressed /
 * raw, where the issue's target is judged.
 */
import type { FigureSpec, Format, Target, Values } from './figures.js';

export const ISSUE = 'issue 13';

export interface Arm {
  /** Suffix of the figure keys. */
  key: 'raw' | 'comp';
  /** The daemon's flag for this arm, put after the template's words. */
  flag: string;
}

export const ARMS: readonly Arm[] = [
  { key: 'raw', flag: '-compress-ring=false' },
  { key: 'comp', flag: '-compress-ring=true' },
];

/** A figure measured in both arms. */
export interface Compared {
  key: string;
  label: string;
  format: Format;
  /** On the compressed arm's figure itself. */
  target?: Target;
  /** 'ratio' (2.50x, the default) or 'pct' (compressed as a % of raw); false: no ratio row (a check, say). */
  ratio?: 'ratio' | 'pct' | false;
  ratioTarget?: Target;
  /** With bestOfTurns: which of the tries' values is kept (default 'min'). */
  best?: 'min' | 'max';
}

/** Three rows per figure: raw, compressed, compressed / raw (two when ratio is false). */
export function comparedFigures(list: Compared[]): FigureSpec[] {
  return list.flatMap((c): FigureSpec[] => {
    const rows: FigureSpec[] = [
      // A check (lines lost == 0) holds for both arms; a target on a figure, for the compressed one.
      { key: `${c.key}_raw`, label: `${c.label}: raw`, format: c.format, target: c.target?.op === '==' ? c.target : undefined },
      { key: `${c.key}_comp`, label: `${c.label}: compressed`, format: c.format, target: c.target },
    ];
    if (c.ratio !== false) rows.push({ key: `${c.key}_ratio`, label: `${c.label}: compressed / raw`, format: c.ratio ?? 'ratio', target: c.ratioTarget });
    return rows;
  });
}

type ByArm = Record<Arm['key'], Values>;

/**
 * The values of both arms as one run's: key_raw, key_comp, and key_ratio
 * for each compared figure that has one. Values that are not compared
 * (notes) are kept under their arm's suffix too.
 */
export function compare(list: Compared[], byArm: ByArm): Values {
  const values: Values = {};
  for (const arm of ARMS) for (const [k, x] of Object.entries(byArm[arm.key])) values[`${k}_${arm.key}`] = x;
  for (const c of list) {
    const raw = byArm.raw[c.key];
    const comp = byArm.comp[c.key];
    if (c.ratio === false || raw === undefined || comp === undefined) continue;
    values[`${c.key}_ratio`] = (comp / raw) * (c.ratio === 'pct' ? 100 : 1);
  }
  return values;
}

/** Runs one arm after the other (raw first), each its own daemon; see compare. */
export async function runArms(list: Compared[], one: (arm: Arm) => Promise<Values>): Promise<Values> {
  const byArm: Partial<ByArm> = {};
  for (const arm of ARMS) byArm[arm.key] = await one(arm);
  return compare(list, byArm as ByArm);
}

/**
 * tries measurements of each arm, the arms taking turns in the order raw,
 * compressed, compressed, raw, raw, ... (so that a busy spell of the machine
 * falls on both, and going first or second does too); each figure
 * is the best of its arm's tries: the highest where best is 'max', the
 * lowest otherwise (a check's worst is its 'max').
 */
export async function bestOfTurns(list: Compared[], tries: number, one: (arm: Arm) => Promise<Values>): Promise<Values> {
  const best = new Map(list.map((c) => [c.key, c.best ?? 'min']));
  const byArm: ByArm = { raw: {}, comp: {} };
  for (let t = 0; t < tries; t++) {
    for (const arm of t % 2 === 0 ? ARMS : [...ARMS].reverse()) {
      const kept = byArm[arm.key];
      for (const [k, x] of Object.entries(await one(arm))) {
        const was = kept[k];
        kept[k] = was === undefined ? x : best.get(k) === 'max' ? Math.max(was, x) : Math.min(was, x);
      }
    }
  }
  return compare(list, byArm);
}
