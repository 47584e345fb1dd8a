/**
 * A persister directory to read, made once per bench process (the repeats
 * share it; it goes with the bench's other temporary directories at exit):
 * text-format files of a few dozen sources, each rotated into several files,
 * the oldest third of them gzipped, with lines from the LogHub samples in
 * /work/shared/corpus (repeated as needed) under timestamps spread evenly
 * over a month. One line in NEEDLE_EVERY holds NEEDLE.
 */
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { makeTempDir } from './children.js';
import { formatRfc3339Seconds } from '../src/entry/rfc3339.js';

export const CORPUS = process.env.MEMLOG_CORPUS ?? '/work/shared/corpus';
export const NEEDLE = 'memlog-bench-needle';
export const NEEDLE_EVERY = 1000;
const SOURCES = 36;
/** X.log.5 ... X.log.1, X.log: the oldest two (a third) gzipped. */
const FILES_PER_SOURCE = 6;
const GZIPPED = 2;
const T0 = Date.UTC(2026, 0, 1) / 1000;
const SPAN_SEC = 30 * 86400;

export interface DiskData {
  dir: string;
  files: string[];
  /** Bytes of text in all files, before compression. */
  textBytes: number;
  /** Bytes on disk. */
  diskBytes: number;
  needles: number;
}

const gzip = promisify(zlib.gzip);

function corpusLines(): { name: string; lines: string[] }[] {
  const files = fs.existsSync(CORPUS) ? fs.readdirSync(CORPUS).filter((f) => f.endsWith('.log')) : [];
  if (files.length === 0) throw new Error(`no *.log samples in ${CORPUS} (set MEMLOG_CORPUS)`);
  return files.map((f) => ({
    name: f.replace(/_.*$/, '').toLowerCase(),
    lines: fs
      .readFileSync(path.join(CORPUS, f), 'utf8')
      .split('\n')
      .map((l) => l.trimEnd())
      .filter((l) => l !== '' && !l.includes(NEEDLE)),
  }));
}

let made: { bytes: number; data: DiskData } | undefined;

/** The directory for about `bytes` of text (made on first use, then the same one). */
export async function diskData(bytes: number, note: (msg: string) => void): Promise<DiskData> {
  if (made && made.bytes === bytes) return made.data;
  const t = Date.now();
  const dir = makeTempDir();
  const samples = corpusLines();
  const perFile = Math.ceil(bytes / (SOURCES * FILES_PER_SOURCE));
  const perSource = perFile * FILES_PER_SOURCE;
  const files: string[] = [];
  let textBytes = 0;
  let diskBytes = 0;
  let needles = 0;
  const gzips: Promise<void>[] = [];
  for (let s = 0; s < SOURCES; s++) {
    const { name, lines } = samples[s % samples.length];
    const source = `${name}-${s}`;
    let written = 0;
    let j = s * 7919; // each source starts somewhere else in its sample
    for (let f = FILES_PER_SOURCE - 1; f >= 0; f--) {
      const parts: string[] = [];
      let size = 0;
      while (size < perFile) {
        const sec = T0 + Math.floor((SPAN_SEC * (written + size)) / perSource);
        const needle = j % NEEDLE_EVERY === 500;
        const line = `${formatRfc3339Seconds(sec)} ${source} ${lines[j % lines.length]}${needle ? ` [${NEEDLE}]` : ''}\n`;
        if (needle) needles++;
        parts.push(line);
        size += line.length; // the samples are ASCII
        j++;
      }
      written += size;
      textBytes += size;
      const text = Buffer.from(parts.join(''));
      const file = path.join(dir, f === 0 ? `${source}.log` : `${source}.log.${f}`);
      if (f >= FILES_PER_SOURCE - GZIPPED) {
        files.push(`${file}.gz`);
        gzips.push(
          gzip(text).then((gz) => {
            fs.writeFileSync(`${file}.gz`, gz);
            diskBytes += gz.length;
          }),
        );
      } else {
        files.push(file);
        fs.writeFileSync(file, text);
        diskBytes += text.length;
      }
      if (gzips.length >= 8) await Promise.all(gzips.splice(0));
    }
  }
  await Promise.all(gzips);
  const data: DiskData = { dir, files, textBytes, diskBytes, needles };
  made = { bytes, data };
  note(`(made ${(textBytes / 1e6).toFixed(0)} MB of text in ${files.length} files, ${(diskBytes / 1e6).toFixed(0)} MB on disk, in ${((Date.now() - t) / 1000).toFixed(0)} s) `);
  return data;
}
