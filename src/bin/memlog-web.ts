/** Entry point of bin/memlog-web (bundled into dist/bundle/memlog-web.mjs). */
import { runMain } from '../cli/run.js';
import { webMain } from '../cli/web.js';

runMain('memlog-web', webMain, process.argv.slice(2));
