/** Entry point of bin/memlog-forward (bundled into dist/bundle/memlog-forward.mjs: one file loads faster and takes less memory). */
import { forwardMain } from '../cli/forward.js';
import { runMain } from '../cli/run.js';

runMain('memlog-forward', forwardMain, process.argv.slice(2));
