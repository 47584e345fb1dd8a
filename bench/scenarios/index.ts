/** Every scenario, in the order they run and appear in the table. */
import { persister, persisterFsync } from '../persist.js';
import { persistState } from '../persist-state.js';
import { codecs } from './codecs.js';
import { diskGrep } from './disk-grep.js';
import { dump } from './dump.js';
import { filter } from './filter.js';
import { forwardRelp, forwardTcp } from './forward.js';
import { latency } from './latency.js';
import { deliver, ingest, transport } from './load.js';
import { memory } from './memory.js';
import { RING_SCENARIOS } from './ring.js';
import { stack } from './stack.js';
import { start } from './start.js';
import { syslog } from './syslog.js';
import type { Scenario } from './types.js';
import { web } from './web.js';

export const SCENARIOS: Scenario[] = [
  start,
  ingest(1, 200_000),
  ingest(8, 1_600_000),
  ingest(256, 1_600_000),
  transport(1, 200_000),
  transport(8, 1_600_000),
  transport(256, 1_600_000),
  deliver('deliver-1', 8, 1_600_000, 1, { rate: 1_800_000, lostZero: true, cpu: 0.7 }),
  deliver('deliver-4', 8, 1_600_000, 4, { rate: 1_000_000, lostZero: true }),
  deliver('deliver-256', 256, 1_600_000, 1, { rate: 1_000_000, lostZero: false }),
  syslog(8, 1_600_000),
  forwardTcp,
  forwardRelp,
  memory,
  stack,
  dump,
  filter,
  latency,
  persister,
  persisterFsync,
  persistState,
  diskGrep,
  codecs,
  ...RING_SCENARIOS,
  web,
];
