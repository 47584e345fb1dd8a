/**
 * ring-codecs: why the ring's blocks are zstd level 1. The LogHub samples
 * (https://github.com/logpai/loghub), interleaved line by line over their
 * sources as on a busy system, cut into the ring's 64 KiB blocks and
 * compressed in this process: zstd level 1 (what the ring uses) beside zstd
 * level 3, zstd --fast=5, and Node's own deflate at level 1.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { BlockCodec } from '../../src/ring/zstd.js';
import { BLOCK_BYTES } from '../../src/ring/blocks.js';
import { CORPUS_DIR } from '../corpus.js';
import type { FigureSpec, Values } from '../figures.js';
import { MB, type Scenario } from './types.js';

/** Bytes of interleaved text compressed per codec. */
const TEXT_BYTES = 24 * 1024 * 1024;

function interleavedText(): Buffer {
  const files = fs
    .readdirSync(CORPUS_DIR)
    .filter((f) => f.endsWith('.log'))
    .sort()
    .map((f) => fs.readFileSync(path.join(CORPUS_DIR, f), 'utf8').split('\n').filter((l) => l.length > 0));
  const parts: string[] = [];
  let bytes = 0;
  for (let i = 0; bytes < TEXT_BYTES; i++) {
    // A fixed, uneven turn order, so that neighbouring lines mostly come from different sources.
    const lines = files[(i * 7) % files.length];
    const line = lines[Math.floor(i / files.length) % lines.length];
    parts.push(line);
    bytes += Buffer.byteLength(line);
  }
  return Buffer.from(parts.join(''));
}

type Compress = (block: Buffer) => number;

function measure(text: Buffer, compress: Compress): { ratio: number; mbps: number } {
  let out = 0;
  const started = process.hrtime.bigint();
  for (let at = 0; at < text.length; at += BLOCK_BYTES) out += compress(text.subarray(at, at + BLOCK_BYTES));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { ratio: text.length / out, mbps: text.length / seconds / MB };
}

const CODECS: { key: string; label: string }[] = [
  { key: 'zstd1', label: 'zstd level 1 (the ring)' },
  { key: 'zstd3', label: 'zstd level 3' },
  { key: 'zstdFast5', label: 'zstd --fast=5' },
  { key: 'deflate1', label: 'deflate level 1 (node:zlib)' },
];

export const codecs: Scenario = {
  name: 'ring-codecs',
  description: `compression ratio and speed of 64 KiB blocks of LogHub text (${TEXT_BYTES / 1024 / 1024} MiB, the samples interleaved line by line) for zstd level 1, as the ring uses, next to zstd 3, zstd --fast=5 and deflate 1, in one process`,
  figures: (): FigureSpec[] =>
    CODECS.flatMap(({ key, label }) => [
      { key: `${key}Ratio`, label: `${label}: ratio`, format: 'ratio' as const },
      { key: `${key}Mbps`, label: `${label}: MB/s compressed`, format: 'mbps' as const },
    ]).concat([{ key: 'zstd1Decompress', label: 'zstd level 1: MB/s decompressed', format: 'mbps' }]),
  async run(): Promise<Values> {
    const text = interleavedText();
    const codec = new BlockCodec();
    const dst = Buffer.allocUnsafe(codec.bound(BLOCK_BYTES));
    const compressors: Record<string, Compress> = {
      zstd1: (b) => codec.compress(dst, b),
      zstd3: (b) => codec.compressAt(dst, b, 3),
      zstdFast5: (b) => codec.compressAt(dst, b, -5),
      deflate1: (b) => zlib.deflateRawSync(b, { level: 1 }).length,
    };
    const values: Values = {};
    for (const { key } of CODECS) {
      const { ratio, mbps } = measure(text, compressors[key]);
      values[`${key}Ratio`] = ratio;
      values[`${key}Mbps`] = mbps;
    }
    const blocks: Buffer[] = [];
    for (let at = 0; at < text.length; at += BLOCK_BYTES) blocks.push(Buffer.from(dst.subarray(0, codec.compress(dst, text.subarray(at, at + BLOCK_BYTES)))));
    const raw = Buffer.allocUnsafe(BLOCK_BYTES);
    const started = process.hrtime.bigint();
    for (const b of blocks) codec.decompress(raw, b);
    values.zstd1Decompress = text.length / (Number(process.hrtime.bigint() - started) / 1e9) / MB;
    return values;
  },
};
