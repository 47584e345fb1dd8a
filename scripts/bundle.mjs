// Bundles each executable into one file (dist/bundle/NAME.mjs): the daemon
// starts faster and idles smaller than when it loads twenty modules.
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const entries = fs.readdirSync(path.join(root, 'src/bin')).filter((f) => f.endsWith('.ts') && f !== 'memlog.ts');
const common = {
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: true,
  logLevel: 'warning',
  // Some dependencies are CommonJS: give them a require() in the ES module bundle.
  banner: { js: "import { createRequire as __memlogRequire } from 'node:module'; const require = __memlogRequire(import.meta.url);" },
};
await build({ ...common, entryPoints: entries.map((f) => path.join(root, 'src/bin', f)), outdir: path.join(root, 'dist/bundle') });
// memlog, the one command for every job, is split: each command's code in chunks under
// dist/bundle/memlog/, imported when that command runs (src/cli/memlog.ts). The long-lived
// `memlog init` then holds only what the init needs.
const chunks = path.join(root, 'dist/bundle/memlog');
fs.rmSync(chunks, { recursive: true, force: true });
await build({
  ...common,
  entryPoints: [path.join(root, 'src/bin/memlog.ts')],
  outdir: path.join(root, 'dist/bundle'),
  splitting: true,
  chunkNames: 'memlog/[name]-[hash]',
});

// The web page (web/, browser code): one script, its styles and uPlot's, and
// index.html, into dist/web/, which memlog web serves (src/web/static.ts).
const webOut = path.join(root, 'dist/web');
fs.rmSync(webOut, { recursive: true, force: true });
await build({
  entryPoints: [path.join(root, 'web/src/main.ts')],
  outfile: path.join(webOut, 'app.js'),
  bundle: true,
  platform: 'browser',
  format: 'esm',
  target: ['chrome100', 'firefox100', 'safari15'],
  // MEMLOG_WEB_NO_MINIFY=1 keeps names readable, for a browser profile of the page.
  minify: !process.env.MEMLOG_WEB_NO_MINIFY,
  legalComments: 'none',
  logLevel: 'warning',
});
fs.copyFileSync(path.join(root, 'web/index.html'), path.join(webOut, 'index.html'));
fs.copyFileSync(path.join(root, 'web/app.css'), path.join(webOut, 'app.css'));
fs.copyFileSync(path.join(root, 'node_modules/uplot/dist/uPlot.min.css'), path.join(webOut, 'uplot.css'));
