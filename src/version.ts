/** memlog's version, from package.json (read once). */
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from './paths.js';

let cachedVersion: string | undefined;

export function memlogVersion(): string {
  if (cachedVersion === undefined) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(projectRoot(), 'package.json'), 'utf8')) as { version?: unknown };
      cachedVersion = typeof pkg.version === 'string' ? pkg.version : 'unknown';
    } catch {
      cachedVersion = 'unknown';
    }
  }
  return cachedVersion;
}
