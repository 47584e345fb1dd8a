/**
 * Real log text: the LogHub samples in /work/shared/corpus (or $MEMLOG_CORPUS),
 * from https://github.com/logpai/loghub (its license asks that any use refer
 * to that URL). Two ways of writing them into a daemon:
 *  - fillFromCorpus (the filter and forward scenarios): each line cut to at
 *    most 99 bytes, spread over 100 sources (or as many as asked), one
 *    socketpair per source, a 64 KiB block per source in turn;
 *  - CorpusReplay (the ring-* scenarios, issue 13): whole lines as in the
 *    files, each source replaying one file in its order from its own offset,
 *    a few lines per source in turn, so that the ring holds them interleaved
 *    as a busy system's ring does.
 */
import fs from 'node:fs';
import path from 'node:path';
import { sendFdsAsync, socketpair } from '../src/native.js';

export const CORPUS_DIR = process.env.MEMLOG_CORPUS ?? '/work/shared/corpus';
export const CORPUS_URL = 'https://github.com/logpai/loghub';
export const SOURCES = 100;
const MAX_LINE = 99;
/** Bytes written to one source before the next one's turn. */
const BLOCK = 64 * 1024;

export interface CorpusFile {
  name: string;
  lines: string[];
}

/**
 * The corpus file by file. Cut (the default): each line cut to 99 bytes
 * without splitting a character, lines under 20 characters left out. whole:
 * the lines as they are in the files, only empty ones left out.
 */
export function corpusFiles(whole = false): CorpusFile[] {
  const files: CorpusFile[] = [];
  for (const name of fs.readdirSync(CORPUS_DIR).filter((f) => f.endsWith('.log')).sort()) {
    const lines: string[] = [];
    for (const line of fs.readFileSync(path.join(CORPUS_DIR, name), 'utf8').split('\n')) {
      let l = line.trimEnd();
      if (whole) {
        if (l.length > 0) lines.push(l);
        continue;
      }
      while (Buffer.byteLength(l) > MAX_LINE) l = l.slice(0, -1);
      if (l.length >= 20) lines.push(l);
    }
    if (lines.length > 0) files.push({ name, lines });
  }
  if (files.length === 0) throw new Error(`no log lines in ${CORPUS_DIR}`);
  return files;
}

export function corpusLines(): string[] {
  return corpusFiles().flatMap((f) => f.lines);
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

/** One stream per source, handed to the daemon (source names svc-00, svc-01, ...): our ends, blocking. */
async function openSources(logSocket: string, sources: number): Promise<number[]> {
  const fds: number[] = [];
  try {
    for (let s = 0; s < sources; s++) {
      const [mine, theirs] = socketpair();
      fds.push(mine);
      try {
        await sendFdsAsync(logSocket, Buffer.from(sourceName(s)), [theirs]);
      } finally {
        fs.closeSync(theirs);
      }
    }
  } catch (err) {
    for (const fd of fds) fs.closeSync(fd);
    throw err;
  }
  return fds;
}

/**
 * Writes n entries, entry i from source i % sources, into the daemon; returns
 * the text of all of them, one per line (for grep to read), source by source.
 */
export async function fillFromCorpus(logSocket: string, lines: string[], n: number, sources = SOURCES): Promise<Buffer> {
  const perSource: string[][] = Array.from({ length: sources }, () => []);
  for (let i = 0; i < n; i++) perSource[i % sources].push(entryText(lines, i));
  const data = perSource.map((ls) => Buffer.from(ls.join('\n') + '\n'));
  const fds = await openSources(logSocket, sources);
  try {
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

/** Sources of the ring-* scenarios' replay. */
export const REPLAY_SOURCES = 60;
/** Lines a source writes at its turn: small, so that the sources interleave finely in the ring. */
export const REPLAY_LINES_PER_TURN = 1;
/** A source's text holds at least this many lines (a one-line corpus is repeated), so that a turn is one write. */
const MIN_CYCLE = 256;

/** One source's text: its file's lines from an offset on, in order, wrapping, each ending in a newline; read again and again. */
class SourceText {
  private readonly text: Buffer;
  /** ends[i]: where line i ends (after its newline); ends[-1] is 0. */
  private readonly ends: Uint32Array;
  private line = 0;

  constructor(lines: string[], offset: number) {
    const rotated: string[] = [];
    for (let i = 0; rotated.length < Math.max(lines.length, MIN_CYCLE); i++) rotated.push(lines[(offset + i) % lines.length]);
    const bufs = rotated.map((l) => Buffer.from(`${l}\n`));
    this.text = Buffer.concat(bufs);
    this.ends = new Uint32Array(bufs.length);
    let end = 0;
    bufs.forEach((b, i) => (this.ends[i] = end += b.length));
  }

  /** The next count lines (fewer at the end of the text, which then starts again). */
  next(count: number): { bytes: Buffer; lines: number } {
    const from = this.line === 0 ? 0 : this.ends[this.line - 1];
    const last = Math.min(this.ends.length, this.line + count);
    const bytes = this.text.subarray(from, this.ends[last - 1]);
    const lines = last - this.line;
    this.line = last === this.ends.length ? 0 : last;
    return { bytes, lines };
  }
}

/**
 * A replay of corpus files as many sources (the ring-* scenarios): source s
 * replays file s % files, from an offset of its own (the sources of one file
 * start spread over it), in the file's order, again and again. write(n)
 * writes n lines more, round robin, REPLAY_LINES_PER_TURN lines per source
 * at its turn, with blocking writes: the daemon, another process, takes them
 * as it reads, and reads them a turn or a few at a time when it keeps up,
 * so the sources interleave in its ring by a few lines.
 */
export class CorpusReplay {
  private readonly texts: SourceText[];
  private fds: number[] = [];
  private turn = 0;
  /** Lines and bytes written so far. */
  lines = 0;
  bytes = 0;

  constructor(
    files: CorpusFile[],
    readonly sources = REPLAY_SOURCES,
    private readonly linesPerTurn = REPLAY_LINES_PER_TURN,
  ) {
    const perFile = Math.ceil(sources / files.length);
    this.texts = Array.from({ length: sources }, (_, s) => {
      const f = files[s % files.length];
      return new SourceText(f.lines, Math.floor((Math.floor(s / files.length) * f.lines.length) / perFile));
    });
  }

  /** Hands one stream per source to the daemon; call once, before write. */
  async open(logSocket: string): Promise<void> {
    this.fds = await openSources(logSocket, this.sources);
  }

  /** Writes n more lines; returns once the kernel has them all (not necessarily the daemon). */
  write(n: number): void {
    if (this.fds.length !== this.sources) throw new Error('CorpusReplay.write before open');
    for (let left = n; left > 0; this.turn = (this.turn + 1) % this.sources) {
      const { bytes, lines } = this.texts[this.turn].next(Math.min(left, this.linesPerTurn));
      const fd = this.fds[this.turn];
      for (let off = 0; off < bytes.length; ) off += fs.writeSync(fd, bytes, off, bytes.length - off);
      left -= lines;
      this.lines += lines;
      this.bytes += bytes.length;
    }
  }

  /** Closes our ends: the daemon reads what is left, then closes its own. */
  close(): void {
    for (const fd of this.fds) fs.closeSync(fd);
    this.fds = [];
  }
}

/** The synthetic lines of the other scenarios as a corpus: 100 bytes with the newline, all the same. */
export function syntheticFiles(): CorpusFile[] {
  return [{ name: 'synthetic', lines: ['a'.repeat(99)] }];
}

/** The corpus's whole lines interleaved file by file (line i of each file in turn): for one stream of mixed text. */
export function interleavedLines(files: CorpusFile[]): string[] {
  const out: string[] = [];
  const longest = Math.max(...files.map((f) => f.lines.length));
  for (let i = 0; i < longest; i++) for (const f of files) if (i < f.lines.length) out.push(f.lines[i]);
  return out;
}
