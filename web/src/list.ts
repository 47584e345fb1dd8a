/**
 * The virtual list: one spacer as tall as every held entry, and a small pool
 * of row elements showing only those in view (plus a margin), reused as the
 * view moves. Rows have a fixed height, so positions are arithmetic and the
 * page never measures a row. Log text goes in with textContent only.
 */
import { LEVEL_NAMES, LEVEL_SHORT } from './levels.js';
import type { Held, Store } from './store.js';
import { shortLocal } from './time.js';

/** An entry row's class by severity (8: none). */
const SEV_CLASS = Array.from({ length: 9 }, (_, k) => `entry sev-${k === 8 ? 'none' : k}`);

/** Rows drawn beyond each edge of the view, so a small scroll shows no blank. */
const MARGIN = 20;

/** A row's cells are text nodes kept for good: a new value is set as their data (text only, no node made or removed). */
interface Row {
  el: HTMLDivElement;
  time: Text;
  level: Text;
  source: Text;
  msg: Text;
  cls: string;
  seq: number;
  shown: Held | undefined;
}

function cell(parent: HTMLElement, cls: string): Text {
  const s = document.createElement('span');
  s.className = cls;
  const t = document.createTextNode('');
  s.appendChild(t);
  parent.appendChild(s);
  return t;
}

function setText(t: Text, v: string): void {
  if (t.data !== v) t.data = v;
}

/** The row's tooltip: every field memlogd sent, as text. */
function tooltip(h: Held): string {
  const w = h.wire;
  const head = [String(w.time), h.source];
  if (typeof w.pid === 'number') head.push(`pid ${w.pid}`);
  if (h.sev >= 0) head.push(LEVEL_NAMES[h.sev]);
  if (h.seq >= 0) head.push(`seq ${h.seq}`);
  const known = new Set(['time', 'source', 'msg', 'seq', 'pid', 'severity', 'daemon']);
  const extra = Object.entries(w).filter(([k]) => !known.has(k));
  const lines = [head.join('  '), h.msg];
  if (extra.length > 0) lines.push(extra.map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`).join('\n'));
  return lines.join('\n');
}

export class VirtualList {
  private readonly spacer: HTMLDivElement;
  private readonly rows: HTMLDivElement;
  private readonly pool: Row[] = [];
  private readonly rowH: number;
  private viewH: number;
  /** The scroll position as last set or seen: never read back from the DOM while drawing (no forced layout). */
  private top = 0;
  private totalShown = -1;
  private firstShown = -1;
  /** Stays at the newest entry: true until the reader scrolls up, and again once they scroll back down. */
  stick = true;

  constructor(
    private readonly el: HTMLElement,
    private readonly store: Store,
    private readonly changed: () => void,
  ) {
    this.rowH = parseFloat(getComputedStyle(el).getPropertyValue('--row-h')) || 20;
    this.spacer = document.createElement('div');
    this.spacer.className = 'spacer';
    this.rows = document.createElement('div');
    this.rows.className = 'rows';
    el.append(this.spacer, this.rows);
    // The tooltip is made when the pointer comes to a row, not for every row drawn (thousands a second).
    this.rows.addEventListener('pointerover', (ev) => {
      const target = (ev.target as Element).closest('.rows > div');
      const row = this.pool.find((r) => r.el === target);
      if (row?.shown && row.el.title === '') row.el.title = tooltip(row.shown);
    });
    this.viewH = el.clientHeight;
    new ResizeObserver(() => {
      this.viewH = this.el.clientHeight;
      this.changed();
    }).observe(el);
    el.addEventListener(
      'scroll',
      () => {
        this.top = el.scrollTop;
        this.stick = this.top + this.viewH >= this.store.length * this.rowH - this.rowH / 2;
        this.changed();
      },
      { passive: true },
    );
  }

  /** Back to the newest entry and following it. */
  toBottom(): void {
    this.stick = true;
    this.changed();
  }

  /** Forgets what is drawn (the store was cleared). */
  reset(): void {
    this.stick = true;
    this.top = 0;
    this.el.scrollTop = 0;
    this.totalShown = -1;
    this.firstShown = -1;
    for (const r of this.pool) this.hide(r);
  }

  /** A pool row out of use: hidden, and no longer an .entry, so that only what is shown is one. */
  private hide(row: Row): void {
    row.shown = undefined;
    row.el.hidden = true;
    row.el.className = row.cls = 'free';
    delete row.el.dataset.seq;
    row.seq = -1;
    row.el.title = '';
    for (const t of [row.time, row.level, row.source, row.msg]) setText(t, '');
  }

  /** Draws what is in view: called once per animation frame at most, writes only. */
  render(): void {
    const n = this.store.length;
    const total = n * this.rowH;
    if (total !== this.totalShown) {
      this.spacer.style.height = `${total}px`;
      this.totalShown = total;
    }
    const dropped = this.store.droppedSinceRender;
    this.store.droppedSinceRender = 0;
    const bottom = Math.max(0, total - this.viewH);
    let top = this.top;
    if (this.stick) top = bottom;
    // The oldest entries left: a reader scrolled up keeps their lines in view.
    else if (dropped > 0) top = Math.max(0, top - dropped * this.rowH);
    top = Math.min(top, bottom);
    if (top !== this.top) {
      this.top = top;
      this.el.scrollTop = top;
    }
    // Stuck to the bottom, nothing is drawn above the view: the reader is not scrolling, and every row shown changes anyway.
    const first = Math.max(0, Math.floor(top / this.rowH) - (this.stick ? 0 : MARGIN));
    const end = Math.min(n, Math.ceil((top + this.viewH) / this.rowH) + MARGIN);
    const want = end - first;
    while (this.pool.length < want) this.pool.push(this.newRow());
    if (first !== this.firstShown) {
      this.rows.style.transform = `translateY(${first * this.rowH}px)`;
      this.firstShown = first;
    }
    for (let k = 0; k < this.pool.length; k++) {
      const row = this.pool[k];
      if (k < want) this.fill(row, this.store.at(first + k));
      else if (row.shown !== undefined) this.hide(row);
    }
  }

  private newRow(): Row {
    const el = document.createElement('div');
    el.hidden = true;
    const row: Row = { el, time: cell(el, 'time'), level: cell(el, 'level'), source: cell(el, 'source'), msg: cell(el, 'msg'), cls: '', seq: -1, shown: undefined };
    this.rows.appendChild(el);
    return row;
  }

  private fill(row: Row, h: Held): void {
    if (row.shown === h) return;
    row.shown = h;
    if (row.el.hidden) row.el.hidden = false;
    // Only what differs is written: an unchanged class or attribute costs no style work.
    let cls: string;
    if (h.kind === 'entry') {
      cls = SEV_CLASS[h.sev < 0 ? 8 : h.sev];
      setText(row.level, h.sev < 0 ? '' : LEVEL_SHORT[h.sev]);
    } else {
      cls = h.kind === 'lost' ? 'lost' : 'notice';
      setText(row.level, h.kind === 'lost' ? 'LOST' : '—');
    }
    if (row.cls !== cls) row.el.className = row.cls = cls;
    if (h.seq !== row.seq) {
      if (h.seq >= 0) row.el.dataset.seq = String(h.seq);
      else delete row.el.dataset.seq;
      row.seq = h.seq;
    }
    setText(row.time, shortLocal(h.ms));
    setText(row.source, h.source);
    setText(row.msg, h.msg);
    if (row.el.title !== '') row.el.title = '';
  }
}
