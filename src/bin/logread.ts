/** Entry point of bin/logread (bundled into dist/bundle/logread.mjs: one file loads faster and takes less memory). */
import { logreadMain } from '../cli/logread.js';
import { runMain } from '../cli/run.js';

runMain('logread', logreadMain, process.argv.slice(2));
