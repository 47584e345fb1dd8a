/**
 * GET /api/bundle: `memlog bundle` (src/bundle/) streamed into the response as
 * it is made, nothing written beside it but the bundle's own temporary files
 * (removed when it ends, whichever way). A browser that goes away aborts it.
 */
import type http from 'node:http';
import { compactUtc, createBundle } from '../bundle/bundle.js';
import { DEFAULT_STATE_DIR } from '../forward/cursor-store.js';
import { DEFAULT_KMSG_DEVICE } from '../kmsg/reader.js';
import type { ReadTarget } from './web-options.js';

export interface BundleSettings {
  log(msg: string): void;
  /** As memlog bundle's -kmsg and -forward-state (their defaults when not given). */
  kmsgDevice?: string;
  forwardStateDir?: string;
}

export function bundleFileName(now: Date): string {
  return `memlog-bundle-${compactUtc(now)}.tar.gz`;
}

export async function bundleRoute(req: http.IncomingMessage, res: http.ServerResponse, target: ReadTarget, settings: BundleSettings): Promise<void> {
  const name = bundleFileName(new Date());
  res.writeHead(200, { 'Content-Type': 'application/gzip', 'Content-Disposition': `attachment; filename="${name}"` });
  if (req.method === 'HEAD') return void res.end();
  // The download starts at once, though the ring is read before the first byte of the archive.
  res.flushHeaders();
  const abort = new AbortController();
  res.once('close', () => abort.abort());
  try {
    // The summary's notes (no kernel log, memlogd down...) are in the archive's summary.json.
    await createBundle({
      output: { stream: res, name },
      querySocket: target.socket,
      logDir: target.logDir,
      kmsgDevice: settings.kmsgDevice ?? DEFAULT_KMSG_DEVICE,
      forwardStateDir: settings.forwardStateDir ?? DEFAULT_STATE_DIR,
      signal: abort.signal,
    });
  } catch (err) {
    // The status went out with the headers: a cut-off download is all that can tell the browser.
    if (!abort.signal.aborted) settings.log(`/api/bundle: ${err instanceof Error ? err.message : String(err)}`);
    res.destroy();
  }
}
