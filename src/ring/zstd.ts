/**
 * Zstandard through zstd-napi's low-level binding: one context each way,
 * reused, compressing into and decompressing out of buffers we own, so that a
 * block costs no allocation beyond its stored copy.
 */
import { createRequire } from 'node:module';

type Binding = typeof import('zstd-napi/binding.js');

let loaded: Binding | undefined;

/** Loaded on first use: a raw ring (and every client) never maps the library. */
function binding(): Binding {
  // The binding is CommonJS (module.exports set from a .node file): require it.
  loaded ??= createRequire(import.meta.url)('zstd-napi/binding.js') as Binding;
  return loaded;
}

/** zstd level 1: the fast end, where log text still compresses 6-7x in 64 KiB blocks. */
export const LEVEL = 1;

export class BlockCodec {
  private readonly cctx = new (binding().CCtx)();
  private readonly dctx = new (binding().DCtx)();

  /** The most a block of n bytes can take once compressed. */
  bound(n: number): number {
    return binding().compressBound(n);
  }

  /** Compresses src into dst (at least bound(src.length) long); returns the bytes written. */
  compress(dst: Buffer, src: Buffer): number {
    return this.cctx.compress(dst, src, LEVEL);
  }

  /** The same at another level (for comparisons). */
  compressAt(dst: Buffer, src: Buffer, level: number): number {
    return this.cctx.compress(dst, src, level);
  }

  /** Decompresses src into dst; returns the bytes written (the block's raw length). */
  decompress(dst: Buffer, src: Buffer): number {
    return this.dctx.decompress(dst, src);
  }
}
