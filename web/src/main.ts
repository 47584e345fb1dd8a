/**
 * memlog web's page: wires the controls, the URL, the feed, the list and the
 * chart. Entries are taken in as they come and drawn once per animation frame;
 * the chart is redrawn at most CHART_MS apart.
 */
import { VolumeChart, type ChartMode } from './chart.js';
import { Feed, type State } from './feed.js';
import { filterParams, filtersFromQuery, sameFilters, type Filters } from './filters.js';
import { VirtualList } from './list.js';
import { SourceList } from './sources.js';
import { MAX_HELD, Store, type Held } from './store.js';
import { rfc3339 } from './time.js';

const CHART_MS = 500;
const STATUS_MS = 5000;

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
}

const ui = {
  state: byId<HTMLElement>('state'),
  pause: byId<HTMLButtonElement>('pause'),
  live: byId<HTMLButtonElement>('live'),
  priority: byId<HTMLSelectElement>('priority'),
  grep: byId<HTMLInputElement>('grep'),
  icase: byId<HTMLInputElement>('icase'),
  since: byId<HTMLInputElement>('since'),
  until: byId<HTMLInputElement>('until'),
  sources: byId<HTMLElement>('sources'),
  allSources: byId<HTMLButtonElement>('all-sources'),
  chart: byId<HTMLElement>('chart'),
  legend: byId<HTMLElement>('legend'),
  chartMode: byId<HTMLButtonElement>('chart-mode'),
  list: byId<HTMLElement>('list'),
  problem: byId<HTMLElement>('problem'),
  held: byId<HTMLElement>('held'),
  bottom: byId<HTMLButtonElement>('to-bottom'),
};

const store = new Store();
/** Entries in, not yet drawn. Bounded: a hidden tab gets no frames, and older entries than MAX_HELD would be dropped anyway. */
let pending: Held[] = [];
let frame = 0;
let heldShown = -1;
let chartDue = 0;
let chartTimer: number | undefined;

function schedule(): void {
  if (frame === 0) frame = requestAnimationFrame(draw);
}

/** Entries in one frame above which the list is drawn every other frame only (a fast stream: half the style, layout and paint). */
const BUSY_FRAME = 16;
const HELD_MS = 250;
let skipNext = false;
let chartWanted = false;
let heldDue = 0;
let bottomHidden: boolean | undefined;

function draw(now: number): void {
  frame = 0;
  const arrived = pending.length;
  if (arrived > 0) {
    const batch = pending;
    pending = [];
    for (const h of batch) store.push(h);
  }
  // A frame without the list's work is where the chart goes, so that the two never add up in one frame.
  let listDrawn = false;
  if (skipNext) {
    skipNext = false;
    schedule();
  } else {
    list.render();
    listDrawn = true;
    skipNext = arrived > BUSY_FRAME;
  }
  if (chartWanted && (!listDrawn || !skipNext)) {
    chartWanted = false;
    chartDue = now + CHART_MS;
    chart.update(feed.state !== 'history');
  } else if (chartWanted) {
    schedule();
  }
  if (store.length !== heldShown && now >= heldDue) {
    heldShown = store.length;
    heldDue = now + HELD_MS;
    ui.held.textContent = `${heldShown.toLocaleString('en-US')} held`;
  } else if (store.length !== heldShown) {
    schedule();
  }
  if (bottomHidden !== list.stick) {
    bottomHidden = list.stick;
    ui.bottom.hidden = list.stick;
  }
}

/** The chart at most CHART_MS apart: asked for by a timer, drawn in a frame (see draw). */
function scheduleChart(): void {
  if (chartTimer !== undefined || chartWanted) return;
  const wait = Math.max(0, chartDue - performance.now());
  chartTimer = window.setTimeout(() => {
    chartTimer = undefined;
    chartWanted = true;
    schedule();
  }, wait);
}

const list = new VirtualList(ui.list, store, schedule);
const sources = new SourceList(ui.sources, () => apply());
const chart = new VolumeChart(ui.chart, ui.legend, store, (from, to) => {
  ui.since.value = rfc3339(from);
  ui.until.value = rfc3339(to);
  apply();
});

const feed = new Feed({
  entry(h) {
    pending.push(h);
    if (pending.length > MAX_HELD + MAX_HELD / 2) pending = pending.slice(-MAX_HELD);
    schedule();
    scheduleChart();
  },
  state: showState,
  problem(text) {
    ui.problem.textContent = text;
    ui.problem.hidden = text === '';
  },
});

function showState(s: State): void {
  ui.state.textContent = s;
  ui.state.dataset.state = s;
  ui.pause.textContent = s === 'paused' ? 'Resume' : 'Pause';
  ui.pause.disabled = s === 'history';
  ui.live.hidden = s !== 'history';
}

/** The filters the controls show. */
function controls(): Filters {
  return {
    sources: sources.checked(),
    p: ui.priority.value,
    grep: ui.grep.value,
    i: ui.icase.checked,
    since: ui.since.value.trim(),
    until: ui.until.value.trim(),
  };
}

function showFilters(f: Filters): void {
  sources.setChecked(f.sources);
  ui.priority.value = f.p;
  ui.grep.value = f.grep;
  ui.icase.checked = f.i;
  ui.since.value = f.since;
  ui.until.value = f.until;
}

let current: Filters | undefined;

/** Takes the controls' filters, if they changed: into the URL, and the view starts again with them. */
function apply(force = false): void {
  const f = controls();
  if (!force && current && sameFilters(f, current)) return;
  current = f;
  const q = filterParams(f).toString();
  history.replaceState(null, '', q ? `?${q}` : location.pathname);
  pending = [];
  store.clear();
  list.reset();
  chart.update(true);
  // An end to the range means a window of the past; a start alone still follows.
  if (f.until) feed.history(f);
  else feed.follow(f);
  showState(feed.state);
  schedule();
}

ui.pause.addEventListener('click', () => {
  if (feed.state === 'paused') feed.resume();
  else feed.pause();
  showState(feed.state);
});
ui.live.addEventListener('click', () => {
  ui.since.value = '';
  ui.until.value = '';
  apply();
});
ui.allSources.addEventListener('click', () => {
  sources.setChecked([]);
  apply();
});
ui.priority.addEventListener('change', () => apply());
ui.icase.addEventListener('change', () => apply());
for (const input of [ui.grep, ui.since, ui.until]) {
  input.addEventListener('change', () => apply());
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') apply();
  });
}
ui.chartMode.addEventListener('click', () => {
  const next: ChartMode = chart.mode === 'source' ? 'severity' : 'source';
  ui.chartMode.textContent = next === 'source' ? 'By severity' : 'By source';
  chart.setMode(next);
});
ui.bottom.addEventListener('click', () => list.toBottom());

async function refreshSources(): Promise<void> {
  try {
    const r = await fetch('/api/status');
    if (r.ok) sources.update(((await r.json()) as { ringSources?: unknown }).ringSources);
  } catch {
    // The feed says when the server is away.
  }
}

// The test hook (read-only), as WEB-CONTRACT.md gives it.
Object.defineProperty(window, 'memlogPage', {
  value: Object.freeze({
    seqs: (): number[] => store.seqs(),
    held: (): number => store.length,
    state: (): string => feed.state,
  }),
});

showFilters(filtersFromQuery(location.search));
void refreshSources();
window.setInterval(() => void refreshSources(), STATUS_MS);
apply(true);
