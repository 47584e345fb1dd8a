/** Entry point of bin/memlog (bundled into dist/bundle/memlog.mjs: one file loads faster and takes less memory). */
import { memlogMain } from '../cli/memlog.js';
import { runMain } from '../cli/run.js';

runMain('memlog', memlogMain, process.argv.slice(2));
