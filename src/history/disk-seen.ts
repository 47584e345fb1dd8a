/**
 * What the disk holds, as far as the merge has read it: to tell whether a
 * ring entry is on disk already. Two kinds of evidence:
 *
 * - json lines name their daemon and seq. The persister writes each source
 *   in seq order, so per (daemon, source) the highest seq read so far covers
 *   every lower one of that source (the gaps are other sources' seqs, or
 *   lines memlogd lost, which the ring does not have either).
 * - text lines (and json lines without a seq, from an upstream daemon) say
 *   only time, source and message. Per source: the messages of the last
 *   second read (a multiset: the same line twice in a second counts twice),
 *   the exact time too where the line has nanoseconds; a ring entry of that
 *   source from an earlier second is taken as on disk (the persister wrote a
 *   later line of that source, so it wrote this one).
 */
import type { HistoryEntry } from './history-entry.js';

class Multiset {
  private readonly counts = new Map<string, number>();

  add(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  /** Takes one key out; false if there was none. */
  take(key: string): boolean {
    const n = this.counts.get(key);
    if (n === undefined) return false;
    if (n === 1) this.counts.delete(key);
    else this.counts.set(key, n - 1);
    return true;
  }
}

interface SecondSeen {
  sec: number;
  /** Messages of second-precision lines in that second. */
  msgs: Multiset;
  /** `<nsec>\n<msg>` of nanosecond lines without a seq in that second. */
  exact: Multiset;
}

export class DiskSeen {
  private readonly maxSeq = new Map<string, number>();
  private readonly seconds = new Map<string, SecondSeen>();

  /** A disk entry the merge has passed. */
  add(e: HistoryEntry): void {
    if (e.seq !== undefined && e.daemon !== undefined) {
      const key = `${e.daemon}\0${e.source}`;
      const max = this.maxSeq.get(key);
      if (max === undefined || e.seq > max) this.maxSeq.set(key, e.seq);
      return;
    }
    let s = this.seconds.get(e.source);
    if (s === undefined || s.sec !== e.sec) {
      s = { sec: e.sec, msgs: new Multiset(), exact: new Multiset() };
      this.seconds.set(e.source, s);
    }
    if (e.precision === 's') s.msgs.add(e.msg);
    else s.exact.add(`${e.nsec}\n${e.msg}`);
  }

  /** Whether a ring entry (no earlier than every disk entry added) is on disk; a match is used up. */
  has(e: HistoryEntry): boolean {
    if (e.seq !== undefined && e.daemon !== undefined) {
      const max = this.maxSeq.get(`${e.daemon}\0${e.source}`);
      if (max !== undefined) return e.seq <= max;
    }
    const s = this.seconds.get(e.source);
    if (s === undefined || e.sec > s.sec) return false;
    if (e.sec < s.sec) return true;
    return s.exact.take(`${e.nsec}\n${e.msg}`) || s.msgs.take(e.msg);
  }
}
