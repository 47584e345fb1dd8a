/**
 * Real log text for the filter and forward scenarios: the LogHub samples in
 * /work/shared/corpus (or $MEMLOG_CORPUS), each line cut to at most 99 bytes,
 * spread over 100 sources (or as many as asked) and written into a daemon
 * through one socketpair per source, a block per source in turn (so the
 * sources interleave in the ring as they would on a busy system).
 */
import fs from 'node:fs';
import path from 'node:path';
import { sendFdsAsync, socketpair } from '../src/native.js';

export const CORPUS_DIR = process.env.MEMLOG_CORPUS ?? '/work/shared/corpus';
export const SOURCES = 100;
const MAX_LINE = 99;
/** Bytes written to one source before the next one's turn. */
const BLOCK = 64 * 1024;

export function corpusLines(): string[] {
  const lines: string[] = [];
  for (const name of fs.readdirSync(CORPUS_DIR).filter((f) => f.endsWith('.log')).sort()) {
    for (const line of fs.readFileSync(path.join(CORPUS_DIR, name), 'utf8').split('\n')) {
      let l = line.trimEnd();
      // Cut to 99 bytes without splitting a character.
      while (Buffer.byteLength(l) > MAX_LINE) l = l.slice(0, -1);
      if (l.length >= 20) lines.push(l);
    }
  }
  if (lines.length === 0) throw new Error(`no log lines in ${CORPUS_DIR}`);
  return lines;
}

/** A word of at least 6 characters found in the fraction of lines nearest to `fraction`. */
export function wordWithFrequency(lines: string[], fraction: number): string {
  const counts = new Map<string, number>();
  for (const line of lines) for (const w of new Set(line.split(/[^A-Za-z]+/))) if (w.length >= 6) counts.set(w, (counts.get(w) ?? 0) + 1);
  let best = '';
  let bestDiff = Infinity;
  for (const [w, c] of counts) {
    const diff = Math.abs(c / lines.length - fraction);
    if (diff < bestDiff || (diff === bestDiff && w < best)) {
      best = w;
      bestDiff = diff;
    }
  }
  return best;
}

/** Entry i's text: the corpus lines in a fixed shuffled order, again and again. */
export function entryText(lines: string[], i: number): string {
  return lines[(i * 7919) % lines.length];
}

export function sourceName(s: number): string {
  return `svc-${String(s).padStart(2, '0')}`;
}

/**
 * Writes n entries, entry i from source i % sources, into the daemon; returns
 * the text of all of them, one per line (for grep to read), source by source.
 */
export async function fillFromCorpus(logSocket: string, lines: string[], n: number, sources = SOURCES): Promise<Buffer> {
  const perSource: string[][] = Array.from({ length: sources }, () => []);
  for (let i = 0; i < n; i++) perSource[i % sources].push(entryText(lines, i));
  const data = perSource.map((ls) => Buffer.from(ls.join('\n') + '\n'));
  const fds: number[] = [];
  try {
    for (let s = 0; s < sources; s++) {
      const [mine, theirs] = socketpair();
      fds.push(mine);
      await sendFdsAsync(logSocket, Buffer.from(sourceName(s)), [theirs]);
      fs.closeSync(theirs);
    }
    const offsets = new Array<number>(sources).fill(0);
    for (let left = sources; left > 0; ) {
      left = 0;
      for (let s = 0; s < sources; s++) {
        const buf = data[s];
        if (offsets[s] >= buf.length) continue;
        const end = Math.min(buf.length, offsets[s] + BLOCK);
        // Blocking writes: the daemon, another process, takes them as it reads.
        while (offsets[s] < end) offsets[s] += fs.writeSync(fds[s], buf, offsets[s], end - offsets[s]);
        if (offsets[s] < buf.length) left++;
      }
    }
  } finally {
    for (const fd of fds) fs.closeSync(fd);
  }
  return Buffer.concat(data);
}
