/**
 * The source checkboxes, from /api/status's ringSources (one per name: a
 * name sent by several processes is listed once), with how many entries the
 * ring holds of each. None checked means every source.
 */

interface Item {
  box: HTMLInputElement;
  count: HTMLSpanElement;
  label: HTMLLabelElement;
}

export class SourceList {
  private readonly items = new Map<string, Item>();

  constructor(
    private readonly el: HTMLElement,
    private readonly changed: () => void,
  ) {}

  /** The names checked. */
  checked(): string[] {
    return [...this.items.entries()].filter(([, it]) => it.box.checked).map(([name]) => name);
  }

  /** Checks exactly these (adding any not listed yet: a URL may name a source the ring no longer holds). */
  setChecked(names: string[]): void {
    for (const name of names) this.item(name);
    for (const [name, it] of this.items) it.box.checked = names.includes(name);
  }

  /** Takes a status object's ringSources: adds new names, updates counts. */
  update(ringSources: unknown): void {
    if (!Array.isArray(ringSources)) return;
    const counts = new Map<string, number>();
    for (const s of ringSources as unknown[]) {
      if (s === null || typeof s !== 'object') continue;
      const { source, entries } = s as { source?: unknown; entries?: unknown };
      if (typeof source !== 'string') continue;
      counts.set(source, (counts.get(source) ?? 0) + (typeof entries === 'number' ? entries : 0));
    }
    for (const [name, n] of counts) this.item(name).count.textContent = n.toLocaleString('en-US');
    for (const [name, it] of this.items) if (!counts.has(name)) it.count.textContent = '0';
  }

  private item(name: string): Item {
    const known = this.items.get(name);
    if (known) return known;
    const label = document.createElement('label');
    label.className = 'src';
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.name = 'source';
    box.value = name;
    box.addEventListener('change', () => this.changed());
    const text = document.createElement('span');
    text.className = 'name';
    text.textContent = name;
    label.title = name;
    const count = document.createElement('span');
    count.className = 'count';
    label.append(box, text, count);
    const item = { box, count, label };
    this.items.set(name, item);
    // Kept in name order.
    const after = [...this.items.keys()].sort().find((n) => n > name);
    this.el.insertBefore(label, after ? (this.items.get(after) as Item).label : null);
    return item;
  }
}
