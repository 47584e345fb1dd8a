/** Entry point of bin/logwrite (bundled into dist/bundle/logwrite.mjs: one file loads faster and takes less memory). */
import { logwriteMain } from '../cli/logwrite.js';
import { runMain } from '../cli/run.js';

runMain('logwrite', logwriteMain, process.argv.slice(2));
