/**
 * The filters, which are also the page's URL parameters and the API's:
 * `source` (repeatable), `p`, `grep`, `i`, `since`, `until`, with logread's meanings.
 */
import { LEVEL_NAMES, parseLevel } from './levels.js';

export interface Filters {
  sources: string[];
  /** A level name, or '' for all. */
  p: string;
  grep: string;
  /** Ignore case in grep. */
  i: boolean;
  since: string;
  until: string;
}

export const NO_FILTERS: Filters = { sources: [], p: '', grep: '', i: false, since: '', until: '' };

/** The filters a URL's query holds; values the page cannot show are dropped, the rest the server checks. */
export function filtersFromQuery(search: string): Filters {
  const q = new URLSearchParams(search);
  const level = parseLevel(q.get('p') ?? '');
  const i = (q.get('i') ?? '').toLowerCase();
  return {
    sources: [...new Set(q.getAll('source').filter((s) => s !== ''))],
    p: level === undefined ? '' : LEVEL_NAMES[level],
    grep: q.get('grep') ?? '',
    i: i === '1' || i === 'true',
    since: (q.get('since') ?? '').trim(),
    until: (q.get('until') ?? '').trim(),
  };
}

/** The query parameters for filters (empty ones left out), for the URL and the API alike. */
export function filterParams(f: Filters): URLSearchParams {
  const q = new URLSearchParams();
  for (const s of f.sources) q.append('source', s);
  if (f.p) q.set('p', f.p);
  if (f.grep) q.set('grep', f.grep);
  if (f.grep && f.i) q.set('i', '1');
  if (f.since) q.set('since', f.since);
  if (f.until) q.set('until', f.until);
  return q;
}

export function sameFilters(a: Filters, b: Filters): boolean {
  return filterParams(a).toString() === filterParams(b).toString();
}
