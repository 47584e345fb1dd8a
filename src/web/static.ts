/**
 * The page's files: `/` is index.html, `/assets/NAME` any file under the
 * page's directory (dist/web/, built by scripts/bundle.mjs). A name is taken
 * apart into segments, each of which must be a plain file or directory name
 * (no `..`, no dotfiles, no separators once decoded), so nothing outside the
 * directory can be named; what is served must be a regular file.
 */
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { sendText } from './respond.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

export function contentType(name: string): string {
  return TYPES[path.extname(name).toLowerCase()] ?? 'application/octet-stream';
}

/** The path under dir that an /assets/ name stands for, or undefined if it names nothing servable. */
export function assetPath(dir: string, rawName: string): string | undefined {
  if (rawName === '') return undefined;
  const segments: string[] = [];
  for (const raw of rawName.split('/')) {
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      return undefined;
    }
    if (seg === '' || seg.startsWith('.') || /[/\\\0]/.test(seg)) return undefined;
    segments.push(seg);
  }
  return path.join(dir, ...segments);
}

/** Sends the file at file; a file that is missing (or not a regular file) is a 404 saying which. */
export async function sendFile(req: http.IncomingMessage, res: http.ServerResponse, file: string, shownAs: string): Promise<void> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch {
    return sendText(res, 404, `not found: ${shownAs}`);
  }
  let streaming = false;
  try {
    const st = await handle.stat();
    if (!st.isFile()) return sendText(res, 404, `not found: ${shownAs}`);
    res.writeHead(200, { 'Content-Type': contentType(file), 'Content-Length': String(st.size) });
    if (req.method === 'HEAD' || st.size === 0) return void res.end();
    streaming = true;
    // The stream closes the handle; a browser that goes away ends the pipeline with an error, nothing to tell.
    await pipeline(handle.createReadStream({ start: 0, end: Math.max(0, st.size - 1) }), res).catch(() => {});
  } finally {
    if (!streaming) await handle.close();
  }
}

/** GET /: the page, or a clear line if it was not built. */
export async function sendIndex(req: http.IncomingMessage, res: http.ServerResponse, pageDir: string): Promise<void> {
  const index = path.join(pageDir, 'index.html');
  if (!fs.existsSync(index)) {
    return sendText(res, 500, `the page is not built: ${index} is missing (run npm run build)`);
  }
  return sendFile(req, res, index, '/');
}
