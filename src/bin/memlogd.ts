/** Entry point of bin/memlogd (bundled into dist/bundle/memlogd.mjs: one file loads faster and takes less memory). */
import { memlogdMain } from '../cli/memlogd.js';
import { runMain } from '../cli/run.js';

runMain('memlogd', memlogdMain, process.argv.slice(2));
