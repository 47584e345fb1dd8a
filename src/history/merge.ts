/**
 * The disk and the ring as one history (see disk-seen.ts for how a ring
 * entry is known to be on disk already).
 */
import { DiskSeen } from './disk-seen.js';
import { compareTimes, type HistoryEntry } from './history-entry.js';

/**
 * Disk and ring as one history: a time-ordered merge of two finite,
 * time-ordered streams that prints each entry once (ring entries the disk
 * already holds are dropped). Equal times: the disk's first.
 */
export function mergeHistory(disk: AsyncIterable<HistoryEntry>, ring: AsyncIterable<HistoryEntry>): AsyncIterable<HistoryEntry> {
  return {
    async *[Symbol.asyncIterator]() {
      const d = disk[Symbol.asyncIterator]();
      const r = ring[Symbol.asyncIterator]();
      const seen = new DiskSeen();
      try {
        let [dh, rh] = await Promise.all([d.next(), r.next()]);
        while (!dh.done || !rh.done) {
          if (!dh.done && (rh.done || compareTimes(dh.value, rh.value) <= 0)) {
            seen.add(dh.value);
            yield dh.value;
            dh = await d.next();
          } else if (!rh.done) {
            if (!seen.has(rh.value)) yield rh.value;
            rh = await r.next();
          }
        }
      } finally {
        // Stopped early (or done): both sides let go of what they hold (files, a connection).
        await Promise.all([d.return?.(), r.return?.()]);
      }
    },
  };
}
