/**
 * The volume chart: entries per time bucket, stacked per source (the busiest
 * few and "other") or per severity, drawn by uPlot above the list. A drag
 * across it picks a time range. The legend is the page's own, written with
 * textContent (uPlot's would be too, but ours also shows what the cursor is on).
 */
import uPlot from 'uplot';
import { LEVEL_NAMES } from './levels.js';
import type { Store } from './store.js';
import { shortLocal } from './time.js';

export type ChartMode = 'source' | 'severity';

/** The busiest sources drawn each on their own; the rest are "other". */
const TOP_SOURCES = 6;
/** About this many buckets across the chart. */
const BUCKETS = 120;
const NICE_MS = [1, 2, 5, 10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800].map((s) => s * 1000);
const HEIGHT = 150;

interface Series {
  label: string;
  color: string;
  counts: number[];
  total: number;
}

/** The theme's colours (CSS custom properties), read once per chart build, not per redraw. */
function readColours(el: Element): Map<string, string> {
  const style = getComputedStyle(el);
  const names = ['--muted', '--grid', '--series-other', ...Array.from({ length: TOP_SOURCES }, (_, k) => `--series-${k}`), ...Array.from({ length: 8 }, (_, k) => `--sev-${k}`), '--sev-none'];
  return new Map(names.map((n) => [n, style.getPropertyValue(n).trim() || '#888']));
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

/** A time axis label for v (seconds), as precise as the ticks' spacing (incr, seconds) needs. */
function tickLabel(v: number, incr: number): string {
  const d = new Date(v * 1000);
  const hm = `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
  if (incr >= 86400) return `${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
  if (incr >= 3600 && d.getHours() === 0 && d.getMinutes() === 0) return `${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
  if (incr >= 60) return hm;
  return `${hm}:${pad2(d.getSeconds())}`;
}

export class VolumeChart {
  mode: ChartMode = 'source';
  private plot: uPlot | undefined;
  private plotKeys = '';
  private series: Series[] = [];
  private xs: number[] = [];
  private bucketMs = 1000;
  /** The x scale, in seconds: exactly the buckets' span, so a drag's edges are the times they show. */
  private xMin = 0;
  private xMax = 1;
  private drawnVersion = -1;
  private width = 0;
  private colours: Map<string, string>;

  constructor(
    private readonly el: HTMLElement,
    private readonly legend: HTMLElement,
    private readonly store: Store,
    /** A range dragged across the chart, in ms since the epoch. */
    private readonly onSelect: (fromMs: number, toMs: number) => void,
  ) {
    this.width = el.clientWidth;
    this.colours = readColours(el);
    new ResizeObserver(() => {
      const w = this.el.clientWidth;
      if (w === this.width) return;
      this.width = w;
      this.plot?.setSize({ width: w, height: HEIGHT });
    }).observe(el);
    // The other scheme's colours: drawn again from scratch.
    matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => this.rebuild());
  }

  setMode(mode: ChartMode): void {
    this.mode = mode;
    this.rebuild();
  }

  rebuild(): void {
    this.colours = readColours(this.el);
    this.plot?.destroy();
    this.plot = undefined;
    this.plotKeys = '';
    this.drawnVersion = -1;
    this.update(true);
  }

  /** Counts again and redraws, if the entries changed (or live: the time axis reaches now). */
  update(live: boolean): void {
    if (this.store.version === this.drawnVersion && !live) return;
    this.drawnVersion = this.store.version;
    this.count(live);
    const keys = `${this.mode}|${this.series.map((s) => s.label).join('\u0000')}`;
    // uPlot draws series in order: the stack's top (everything) first, the first series last, on top.
    const stacked: number[][] = [];
    const acc = new Array<number>(this.xs.length).fill(0);
    for (const s of this.series) {
      for (let i = 0; i < acc.length; i++) acc[i] += s.counts[i];
      stacked.push(acc.slice());
    }
    const data: uPlot.AlignedData = [this.xs, ...stacked.reverse()];
    if (!this.plot || keys !== this.plotKeys) {
      this.plot?.destroy();
      this.plot = this.make([...this.series].reverse(), data);
      this.plotKeys = keys;
    } else {
      this.plot.setData(data);
    }
    // uPlot ranges x to the data (the buckets' middles; a lone one gets a day): the buckets' span instead.
    this.plot.setScale('x', { min: this.xMin, max: this.xMax });
    this.showLegend(null);
  }

  /** Buckets the held entries into this.xs and this.series. */
  private count(live: boolean): void {
    const store = this.store;
    let [lo, hi] = store.timeRange();
    if (live) hi = Math.max(hi, Date.now());
    if (!Number.isFinite(lo)) lo = hi = Date.now();
    const span = Math.max(hi - lo, 1000);
    this.bucketMs = NICE_MS.find((b) => b * BUCKETS >= span) ?? NICE_MS[NICE_MS.length - 1];
    const start = Math.floor(lo / this.bucketMs) * this.bucketMs;
    const n = Math.floor((hi - start) / this.bucketMs) + 1;
    this.xs = Array.from({ length: n }, (_, i) => (start + (i + 0.5) * this.bucketMs) / 1000);
    this.xMin = start / 1000;
    this.xMax = (start + n * this.bucketMs) / 1000;
    const labels: string[] = [];
    const colours: string[] = [];
    let seriesOf: Int32Array;
    if (this.mode === 'source') {
      const top = [...store.perSource.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, TOP_SOURCES);
      const other = top.length;
      // Every source id counts as "other" unless it is one of the top ones.
      seriesOf = new Int32Array(store.sourceNames.length).fill(other);
      const ids = new Map(store.sourceNames.map((name, id) => [name, id]));
      top.forEach(([name], k) => {
        const id = ids.get(name);
        if (id !== undefined) seriesOf[id] = k;
        labels.push(name);
        colours.push(this.colour(`--series-${k}`));
      });
      labels.push('other');
      colours.push(this.colour('--series-other'));
    } else {
      seriesOf = Int32Array.from({ length: 9 }, (_, k) => k);
      for (let sev = 0; sev <= 8; sev++) {
        labels.push(sev === 8 ? 'none' : LEVEL_NAMES[sev]);
        colours.push(this.colour(`--sev-${sev === 8 ? 'none' : sev}`));
      }
    }
    const counts = store.countBuckets(start, this.bucketMs, n, this.mode === 'severity', seriesOf, labels.length);
    const series = labels.map((label, k) => ({ label, color: colours[k], counts: Array.from(counts[k]), total: counts[k].reduce((a, b) => a + b, 0) }));
    // A series with nothing to show is not worth a legend entry (a severity nobody logged, no "other").
    this.series = series.filter((s) => s.total > 0);
  }

  private make(drawn: Series[], data: uPlot.AlignedData): uPlot {
    const axis = this.colour('--muted');
    const grid = this.colour('--grid');
    const bars = uPlot.paths.bars?.({ size: [0.9, 40], gap: 0 });
    const opts: uPlot.Options = {
      width: this.width || 600,
      height: HEIGHT,
      legend: { show: false },
      cursor: { drag: { x: true, y: false, setScale: false }, points: { show: false }, y: false },
      select: { show: true, left: 0, top: 0, width: 0, height: 0 },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max) * 1.1] } },
      axes: [
        // One line per tick, in the browser's time zone (uPlot's second line of dates is cut at the left edge).
        { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, size: 34, space: 70, values: (_u, splits, _ax, _space, incr) => splits.map((v) => tickLabel(v, incr)) },
        { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { show: false }, size: 44 },
      ],
      series: [{}, ...drawn.map((s) => ({ label: s.label, stroke: s.color, fill: s.color, width: 0, paths: bars, points: { show: false } }))],
      hooks: {
        setSelect: [
          (u: uPlot) => {
            if (u.select.width < 3) return;
            const from = u.posToVal(u.select.left, 'x') * 1000;
            const to = u.posToVal(u.select.left + u.select.width, 'x') * 1000;
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            this.onSelect(from, to);
          },
        ],
        setCursor: [(u: uPlot) => this.showLegend(u.cursor.idx ?? null)],
      },
    };
    return new uPlot(opts, data, this.el);
  }

  /** The legend: each series' total, or its count in the bucket under the cursor. */
  private showLegend(idx: number | null): void {
    const items: HTMLElement[] = [];
    const head = document.createElement('span');
    head.className = 'when';
    if (idx === null || idx >= this.xs.length) head.textContent = `per ${this.bucketLabel()}`;
    else head.textContent = `${shortLocal(this.xs[idx] * 1000 - this.bucketMs / 2).slice(6, 14)} +${this.bucketLabel()}`;
    items.push(head);
    for (const s of this.series) {
      const item = document.createElement('span');
      item.className = 'item';
      const swatch = document.createElement('span');
      swatch.className = 'swatch';
      swatch.style.background = s.color;
      const name = document.createElement('span');
      name.className = 'name';
      name.textContent = s.label;
      const count = document.createElement('span');
      count.className = 'count';
      count.textContent = String(idx === null || idx >= this.xs.length ? s.total : s.counts[idx]);
      item.append(swatch, name, count);
      items.push(item);
    }
    this.legend.replaceChildren(...items);
  }

  private colour(name: string): string {
    return this.colours.get(name) ?? '#888';
  }

  private bucketLabel(): string {
    const s = this.bucketMs / 1000;
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${s / 60}m`;
    if (s < 86400) return `${s / 3600}h`;
    return `${s / 86400}d`;
  }
}
