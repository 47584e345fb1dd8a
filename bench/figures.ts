/** Figures, their targets, min / median / max over the repeats, and the table. */

export type Format = 'rate' | 'us' | 'ms' | 'mb' | 'count' | 'pct' | 'mbps' | 'ratio';

export interface Target {
  op: '>=' | '<=' | '==';
  value: number;
  /** Where the target comes from, or why it is judged this way. */
  note?: string;
}

export interface FigureSpec {
  key: string;
  label: string;
  format: Format;
  target?: Target;
}

/** One run's values, by figure key. A missing key: the run did not produce it. */
export type Values = Record<string, number>;

export interface FigureSummary extends FigureSpec {
  values: number[];
  min: number;
  median: number;
  max: number;
  /** Judged on the median; undefined when there is no target. */
  met?: boolean;
  /** How many runs met the target on their own. */
  runsMet?: number;
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function meets(t: Target, v: number): boolean {
  if (!Number.isFinite(v)) return false;
  switch (t.op) {
    case '>=':
      return v >= t.value;
    case '<=':
      return v <= t.value;
    case '==':
      return v === t.value;
  }
}

export function summarize(spec: FigureSpec, runs: Values[]): FigureSummary {
  const values = runs.map((r) => r[spec.key]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const s: FigureSummary = {
    ...spec,
    values,
    min: values.length ? Math.min(...values) : NaN,
    median: median(values),
    max: values.length ? Math.max(...values) : NaN,
  };
  if (spec.target && values.length > 0) {
    const t = spec.target;
    s.met = meets(t, s.median);
    s.runsMet = values.filter((v) => meets(t, v)).length;
  }
  return s;
}

export function formatValue(v: number, f: Format): string {
  if (!Number.isFinite(v)) return '-';
  switch (f) {
    case 'rate':
    case 'count':
      return Math.round(v).toLocaleString('en-US');
    case 'us':
      return v.toFixed(3);
    case 'ms':
      return v < 10 ? v.toFixed(2) : v.toFixed(1);
    case 'mb':
    case 'mbps':
      return v.toFixed(1);
    case 'pct':
      return `${v.toFixed(1)} %`;
    case 'ratio':
      return `${v.toFixed(2)}x`;
  }
}

export function formatTarget(t: Target | undefined, f: Format): string {
  if (!t) return '';
  return `${t.op === '==' ? '=' : t.op === '>=' ? '≥' : '≤'} ${formatValue(t.value, f)}`;
}

export function formatMet(s: FigureSummary): string {
  if (s.met === undefined) return '';
  const all = s.values.length;
  const word = s.met ? 'yes' : 'NO';
  return s.runsMet === all || s.runsMet === 0 ? word : `${word} (${s.runsMet}/${all} runs)`;
}

export interface TableRow {
  scenario: string;
  summary?: FigureSummary;
  /** A run that failed: its message instead of figures. */
  error?: string;
}

export function renderTable(rows: TableRow[]): string {
  const header = ['scenario', 'figure', 'min', 'median', 'max', 'target', 'met'];
  const cells: string[][] = rows.map((r) => {
    if (!r.summary) return [r.scenario, `ERROR: ${r.error ?? ''}`, '', '', '', '', ''];
    const s = r.summary;
    return [r.scenario, s.label, formatValue(s.min, s.format), formatValue(s.median, s.format), formatValue(s.max, s.format), formatTarget(s.target, s.format), formatMet(s)];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (i === 1 && c[1].startsWith('ERROR') ? 0 : c[i].length))));
  const right = new Set([2, 3, 4]);
  const line = (c: string[]): string =>
    c
      .map((x, i) => (right.has(i) ? x.padStart(widths[i]) : x.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('  ')];
  let last = '';
  for (const c of cells) {
    const row = [...c];
    if (row[0] === last) row[0] = '';
    else last = row[0];
    out.push(line(row));
  }
  return out.join('\n');
}

/** The same table as Markdown, for docs. */
export function renderMarkdown(rows: TableRow[]): string {
  const out = ['| scenario | figure | min | median | max | target | met |', '| --- | --- | ---: | ---: | ---: | --- | --- |'];
  let last = '';
  for (const r of rows) {
    const name = r.scenario === last ? '' : r.scenario;
    last = r.scenario;
    if (!r.summary) {
      out.push(`| ${name} | ERROR: ${(r.error ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ')} | | | | | |`);
      continue;
    }
    const s = r.summary;
    out.push(`| ${name} | ${s.label} | ${formatValue(s.min, s.format)} | ${formatValue(s.median, s.format)} | ${formatValue(s.max, s.format)} | ${formatTarget(s.target, s.format)} | ${formatMet(s)} |`);
  }
  return out.join('\n');
}
