/**
 * Which files under the persister's directory hold which source, oldest
 * first: X.log.<N> (oldest rotated) ... X.log.1, then X.log; a rotated file
 * may be gzipped (X.log.<N>.gz). Anything else (the resume state, temporary
 * files, other people's files, directories not named like a log file) is not
 * ours and is left alone. Whole files are left out here, before anything is
 * opened, when the source filter refuses their source or -since comes after
 * their mtime (a file's mtime is at or after its last line's time).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileStem, isFileStem, sourceOfStem } from '../persist/file-names.js';
import type { CompiledFilter } from '../filter/entry-filter.js';

export interface LogFile {
  path: string;
  /** 0 for X.log, N for X.log.N[.gz]. */
  index: number;
  gz: boolean;
}

export interface SourceFiles {
  stem: string;
  /** From the stem, or from knownSources for a hashed stem; undefined: each line says. */
  source: string | undefined;
  /** Oldest first. */
  files: LogFile[];
}

/** `<stem>.log`, `<stem>.log.<N>`, `<stem>.log.<N>.gz`; the stem is the longest that fits. */
const LOG_NAME = /^(.+)\.log(?:\.([1-9][0-9]{0,5})(\.gz)?)?$/;

export function listLogDir(dir: string, filter: CompiledFilter, knownSources: readonly string[] | undefined, warn: (msg: string) => void): SourceFiles[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    warn(`cannot read ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return [];
  }
  const sinceMs = filter.filter.since ? filter.filter.since.sec * 1000 + filter.filter.since.nsec / 1e6 : undefined;
  let hashed: Map<string, string> | undefined;
  const byStem = new Map<string, SourceFiles>();
  for (const name of names) {
    const m = LOG_NAME.exec(name);
    if (!m || name.startsWith('.')) continue;
    const stem = m[1];
    if (!isFileStem(stem)) continue;
    let sf = byStem.get(stem);
    if (sf === undefined) {
      let source = sourceOfStem(stem);
      if (source === undefined) {
        hashed ??= new Map((knownSources ?? []).map((s) => [fileStem(s), s]));
        source = hashed.get(stem);
      }
      sf = { stem, source, files: [] };
      byStem.set(stem, sf);
    }
    sf.files.push({ path: path.join(dir, name), index: m[2] === undefined ? 0 : Number(m[2]), gz: m[3] !== undefined });
  }
  const out: SourceFiles[] = [];
  for (const sf of byStem.values()) {
    if (sf.source !== undefined && !filter.sources.matches(sf.source)) continue;
    // X.log.N and X.log.N.gz both there: a gzip was just finished, the original not yet deleted. They hold the same lines.
    const plain = new Set(sf.files.filter((f) => !f.gz).map((f) => f.index));
    sf.files = sf.files.filter((f) => !f.gz || !plain.has(f.index)).filter((f) => sinceMs === undefined || !olderThan(f.path, sinceMs));
    sf.files.sort((a, b) => (a.index === 0 ? 1 : b.index === 0 ? -1 : b.index - a.index));
    if (sf.files.length > 0) out.push(sf);
  }
  return out;
}

/** A regular file last written before ms: none of its lines can be at or after it. Anything else is opened (and reported there). */
function olderThan(file: string, ms: number): boolean {
  try {
    const s = fs.lstatSync(file);
    return s.isFile() && s.mtimeMs < ms;
  } catch {
    return false;
  }
}
