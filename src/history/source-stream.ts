/**
 * One source's entries from its files, oldest file first, filtered, one at a
 * time (readDiskHistory merges these). Lines are found in the raw chunks:
 * with a plain -grep literal, Buffer.indexOf finds the hits and only the
 * lines holding one are parsed; otherwise each line's time is read from its
 * bytes before anything else is made of it.
 */
import type { FileHandle } from 'node:fs/promises';
import type { CompiledFilter } from '../filter/entry-filter.js';
import { gzChunks, openLogFile, plainChunks, problemOf } from './file-chunks.js';
import { lineTime, parseJsonLine, textMessageStart } from './file-line.js';
import type { HistoryEntry } from './history-entry.js';
import type { LogFile, SourceFiles } from './log-dir.js';

/** A line longer than this is not one of ours (the persister's are far shorter): skipped, not buffered. */
const MAX_LINE = 16 << 20;
const NEWLINE = 10;
const EMPTY = Buffer.alloc(0);

interface Region {
  buf: Buffer;
  pos: number;
  /** Just after the region's last newline. */
  end: number;
}

/** The byte strings a plain literal appears as on disk: as it is (text, json) and JSON-escaped (json), if that differs. */
function needlesOf(literal: Buffer | undefined): Buffer[] | undefined {
  if (literal === undefined || literal.includes(NEWLINE) || literal.includes(13)) return undefined;
  const escaped = Buffer.from(JSON.stringify(literal.toString('utf8')).slice(1, -1));
  return escaped.equals(literal) ? [literal] : [literal, escaped];
}

export class SourceStream {
  private fileAt = 0;
  private file: LogFile | undefined;
  private chunks: AsyncGenerator<Buffer> | undefined;
  /** The current file's first problem has been reported (one warning per file). */
  private warned = false;
  private region: Region = { buf: EMPTY, pos: 0, end: 0 };
  /** The region after the current one (a chunk whose first line was joined to the last one's rest). */
  private queued: Region | undefined;
  /** The last chunk's unfinished line. */
  private carry: Buffer | undefined;
  private skippingLong = false;
  private closed = false;
  private readonly sourceBytes: Buffer | undefined;
  private readonly literal: Buffer | undefined;
  private readonly needles: Buffer[] | undefined;
  /** Per needle, its next hit in the region at or after pos (-1: none left). */
  private hits: number[] = [];
  private readonly textSeverityOk: boolean;

  constructor(
    private readonly files: SourceFiles,
    private readonly filter: CompiledFilter,
    private readonly warn: (msg: string) => void,
    private readonly chunkSize: number,
  ) {
    this.sourceBytes = files.source === undefined ? undefined : Buffer.from(files.source, 'utf8');
    this.literal = filter.pattern?.literal;
    this.needles = needlesOf(this.literal);
    // Text lines have no severity: they count as info.
    this.textSeverityOk = filter.severityPasses(undefined);
  }

  /** The next entry that passes the filter, or undefined at the end of the last file. */
  async next(): Promise<HistoryEntry | undefined> {
    for (;;) {
      const e = this.scan();
      if (e) return e;
      if (!(await this.refill())) return undefined;
    }
  }

  /** Stops early: closes the file being read. */
  async close(): Promise<void> {
    this.closed = true;
    const chunks = this.chunks;
    this.chunks = undefined;
    await chunks?.return(undefined);
  }

  private setRegion(r: Region): void {
    this.region = r;
    this.hits = this.needles ? this.needles.map(() => -2) : [];
  }

  /** The next passing entry in the region, or undefined once it is used up. */
  private scan(): HistoryEntry | undefined {
    for (;;) {
      const r = this.region;
      while (r.pos < r.end) {
        const buf = r.buf;
        let start = r.pos;
        if (this.needles) {
          const hit = this.nextHit(r);
          if (hit < 0) {
            r.pos = r.end;
            break;
          }
          start = Math.max(r.pos, buf.lastIndexOf(NEWLINE, hit) + 1);
        }
        const lineEnd = buf.indexOf(NEWLINE, start);
        r.pos = lineEnd + 1;
        const e = this.entryAt(buf, start, lineEnd);
        if (e) return e;
      }
      if (this.queued === undefined) return undefined;
      this.setRegion(this.queued);
      this.queued = undefined;
    }
  }

  private nextHit(r: Region): number {
    const needles = this.needles as Buffer[];
    let best = -1;
    for (let i = 0; i < needles.length; i++) {
      let h = this.hits[i];
      if (h !== -1 && h < r.pos) {
        h = r.buf.indexOf(needles[i], r.pos);
        if (h >= r.end) h = -1;
        this.hits[i] = h;
      }
      if (h >= 0 && (best < 0 || h < best)) best = h;
    }
    return best;
  }

  /** The line buf[start, end) as an entry if it passes the filter. */
  private entryAt(buf: Buffer, start: number, end: number): HistoryEntry | undefined {
    const t = lineTime(buf, start, end);
    if (t === undefined || t.json) {
      if (t !== undefined && !this.filter.inWindow(t.sec, t.nsec)) return undefined;
      if (buf[start] !== 123 /* { */) return this.malformed(buf, start, end);
      const e = parseJsonLine(buf, start, end);
      if (e === undefined) return this.malformed(buf, start, end);
      return this.filter.matches(e) ? e : undefined;
    }
    if (!this.textSeverityOk || !this.filter.inWindow(t.sec, 0)) return undefined;
    const m0 = textMessageStart(buf, start, end, this.sourceBytes);
    if (m0 < 0) return this.malformed(buf, start, end);
    if (this.literal !== undefined && buf.subarray(m0, end).indexOf(this.literal) < 0) return undefined;
    const source = this.files.source ?? buf.toString('utf8', start + 21, m0 - 1);
    if (this.files.source === undefined && !this.filter.sources.matches(source)) return undefined;
    const msg = buf.toString('utf8', m0, end);
    const pattern = this.filter.pattern;
    if (pattern !== undefined && this.literal === undefined) {
      pattern.regexp.lastIndex = 0;
      if (!pattern.regexp.test(msg)) return undefined;
    }
    return { sec: t.sec, nsec: 0, source, msg, precision: 's' };
  }

  private malformed(buf: Buffer, start: number, end: number): undefined {
    const snippet = buf.toString('utf8', start, Math.min(end, start + 80));
    this.problem(`a line that is not a log line (${JSON.stringify(snippet)}${end - start > 80 ? '...' : ''}): skipped, as are any others like it in this file`);
    return undefined;
  }

  private problem(msg: string): void {
    if (this.warned) return;
    this.warned = true;
    this.warn(`${this.file?.path}: ${msg}`);
  }

  /** Moves on to the next chunk (or file) with whole lines in it. False: no more. */
  private async refill(): Promise<boolean> {
    for (;;) {
      if (this.closed) return false;
      if (this.chunks === undefined && !(await this.openNext())) return false;
      const chunks = this.chunks as AsyncGenerator<Buffer>;
      let chunk: Buffer | undefined;
      try {
        const r = await chunks.next();
        chunk = r.done ? undefined : r.value;
      } catch (err) {
        // A damaged gzip file: what came before the damage has been read; its unfinished line is part of the damage.
        this.problem(problemOf(err));
        this.carry = undefined;
        this.chunks = undefined;
        continue;
      }
      if (chunk === undefined) {
        this.chunks = undefined;
        const rest = this.carry;
        this.carry = undefined;
        const skipping = this.skippingLong;
        this.skippingLong = false;
        // A last line without its newline: in X.log it is being written (the next read has it); a rotated file is complete.
        if (rest !== undefined && !skipping && (this.file as LogFile).index !== 0) {
          const buf = Buffer.concat([rest, Buffer.from('\n')]);
          this.setRegion({ buf, pos: 0, end: buf.length });
          return true;
        }
        continue;
      }
      if (this.takeChunk(chunk)) return true;
    }
  }

  /** Makes the chunk's whole lines the region (the first joined to the last chunk's rest). False: no whole line in it. */
  private takeChunk(chunk: Buffer): boolean {
    const first = chunk.indexOf(NEWLINE);
    if (first < 0) {
      if (this.skippingLong) return false;
      this.carry = this.carry === undefined ? chunk : Buffer.concat([this.carry, chunk]);
      if (this.carry.length > MAX_LINE) {
        this.problem(`a line longer than ${MAX_LINE} bytes: skipped, as are any others like it in this file`);
        this.carry = undefined;
        this.skippingLong = true;
      }
      return false;
    }
    const last = chunk.lastIndexOf(NEWLINE);
    const rest = this.carry;
    this.carry = last + 1 < chunk.length ? chunk.subarray(last + 1) : undefined;
    if (this.skippingLong) {
      this.skippingLong = false;
      this.setRegion({ buf: chunk, pos: first + 1, end: last + 1 });
      return true;
    }
    if (rest === undefined) {
      this.setRegion({ buf: chunk, pos: 0, end: last + 1 });
      return true;
    }
    const joined = Buffer.concat([rest, chunk.subarray(0, first + 1)]);
    this.setRegion({ buf: joined, pos: 0, end: joined.length });
    if (first < last) this.queued = { buf: chunk, pos: first + 1, end: last + 1 };
    return true;
  }

  /** Opens the next file that can be read; each one that cannot is reported by name. */
  private async openNext(): Promise<boolean> {
    while (this.fileAt < this.files.files.length) {
      const file = this.files.files[this.fileAt++];
      this.file = file;
      this.warned = false;
      let opened: { fh: FileHandle; size: number };
      try {
        opened = await openLogFile(file.path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          // Gone since the listing: gzipped meanwhile (X.log.N became X.log.N.gz), else deleted by a bound; not a fault of the file.
          if (!file.gz && file.index > 0) this.files.files.splice(this.fileAt, 0, { ...file, path: `${file.path}.gz`, gz: true });
          continue;
        }
        this.problem(`${problemOf(err)}; skipped`);
        continue;
      }
      if (this.closed) {
        await opened.fh.close();
        return false;
      }
      this.chunks = file.gz ? gzChunks(opened.fh, this.chunkSize) : plainChunks(opened.fh, opened.size, this.chunkSize);
      return true;
    }
    return false;
  }
}
