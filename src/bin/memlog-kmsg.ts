/** Entry point of bin/memlog-kmsg (bundled into dist/bundle/memlog-kmsg.mjs: one file loads faster and takes less memory). */
import { kmsgMain } from '../cli/kmsg.js';
import { runMain } from '../cli/run.js';

runMain('memlog-kmsg', kmsgMain, process.argv.slice(2));
