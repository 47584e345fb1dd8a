/**
 * persist-state: what one flush costs the persister once many source names
 * have come and gone (`logwrite -n job-$RANDOM`). 20,000 names pass, a hundred
 * per flush with a line of a source that writes all the time; then 200 flushes
 * of one new name and the live source are timed: the writes, the snapshot of
 * the files and the save of the resume state, as Persister does them. In
 * process, on the real LogFiles and StateStore, in a directory in memory
 * (/dev/shm) where there is one, so that making files does not drown the
 * state's cost.
 *
 * "before" runs the same flushes the way the persister did up to commit
 * 254010a: every file ever seen remembered, and the whole state encoded with
 * JSON.stringify and hashed with sha256 at every flush (that save is copied
 * below). Same run, same machine, fresh directories.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Scope } from './children.js';
import type { FigureSpec, Values } from './figures.js';
import { scaled, type Context, type Scenario } from './scenarios/types.js';
import { LogFiles } from '../src/persist/log-files.js';
import { StateStore, STATE_FILES, type ResumeState } from '../src/persist/state.js';

const NAMES = 20_000;
const TIMED = 200;
const LINE = 'x'.repeat(99) + '\n';

/** The resume state's save up to commit 254010a, for "before": the whole state, encoded and hashed at every flush. */
function saveWhole(fd: number, generation: number, state: ResumeState): void {
  const body = JSON.stringify({ generation, state });
  const bytes = Buffer.from(`${body}\n${crypto.createHash('sha256').update(body).digest('hex').slice(0, 16)}\n`);
  fs.writeSync(fd, bytes, 0, bytes.length, 0);
  fs.ftruncateSync(fd, bytes.length);
}

interface Result {
  usPerFlush: number;
  stateBytes: number;
}

/** names pass, then TIMED flushes of one new name each are timed. */
function measure(dir: string, names: number, variant: 'after' | 'before'): Result {
  const state: ResumeState = { daemon: 'bench', seq: -1, files: {} };
  const store = new StateStore(dir);
  const wholeFd = fs.openSync(path.join(dir, STATE_FILES[0]), 'w');
  let generation = 0;
  const holder: { files?: LogFiles } = {};
  const save = (): boolean => {
    const files = holder.files as LogFiles;
    if (variant === 'before') {
      state.files = files.snapshot();
      saveWhole(wholeFd, ++generation, state);
      return true;
    }
    state.files = files.snapshot(state.seq);
    store.save(state);
    files.saved(state.files);
    return true;
  };
  const files = new LogFiles({
    dir,
    maxFiles: 10,
    maxFileSize: 1 << 20,
    warn: () => undefined,
    onRotate: () => void save(),
    ...(variant === 'before' ? { maxKeptFiles: Infinity } : { describe: save }),
  });
  holder.files = files;
  let seq = 0;
  let name = 0;
  const flush = (newNames: number): void => {
    for (let k = 0; k < newNames; k++) files.append(`job-${name++}`, LINE, seq++);
    files.append('live', LINE, seq++);
    files.flush();
    state.seq = seq - 1;
    save();
  };
  try {
    while (name < names) flush(100);
    const start = process.hrtime.bigint();
    for (let i = 0; i < TIMED; i++) flush(1);
    const usPerFlush = Number(process.hrtime.bigint() - start) / 1e3 / TIMED;
    const stateBytes = Math.max(...STATE_FILES.map((f) => fs.statSync(path.join(dir, f), { throwIfNoEntry: false })?.size ?? 0));
    return { usPerFlush, stateBytes };
  } finally {
    fs.closeSync(wholeFd);
    store.close();
    void files.close();
  }
}

/** A fresh directory for one variant: in memory where possible. */
function freshDir(scope: Scope, name: string): string {
  let base = scope.dir;
  try {
    fs.accessSync('/dev/shm', fs.constants.W_OK);
    base = fs.mkdtempSync('/dev/shm/memlog-bench-');
  } catch {
    // No /dev/shm: the scope's directory, on whatever disk it is.
  }
  const dir = path.join(base, name);
  fs.mkdirSync(dir);
  return dir;
}

export const persistState: Scenario = {
  name: 'persist-state',
  description: `the persister's cost per flush after ${NAMES.toLocaleString('en-US')} source names have passed (one new name and one live source per timed flush): files, snapshot and resume state, in process; "before" as up to commit 254010a (every file remembered, the state encoded whole at each flush)`,
  figures: (): FigureSpec[] => [
    { key: 'after', label: 'µs per flush', format: 'us' },
    { key: 'before', label: 'µs per flush, before (254010a)', format: 'us' },
    { key: 'afterBytes', label: 'state record bytes', format: 'count' },
    { key: 'beforeBytes', label: 'state record bytes, before', format: 'count' },
  ],
  async run(ctx: Context): Promise<Values> {
    const scope = new Scope();
    const dirs: string[] = [];
    try {
      const names = scaled(ctx, NAMES, 100);
      const result: Values = {};
      for (const variant of ['after', 'before'] as const) {
        const dir = freshDir(scope, variant);
        dirs.push(path.dirname(dir));
        const r = measure(dir, names, variant);
        result[variant] = r.usPerFlush;
        result[`${variant}Bytes`] = r.stateBytes;
        ctx.note(`persist-state ${variant}: ${r.usPerFlush.toFixed(1)} µs per flush, state ${r.stateBytes} bytes`);
      }
      return result;
    } finally {
      for (const dir of dirs) if (dir !== scope.dir) fs.rmSync(dir, { recursive: true, force: true });
      await scope.close();
    }
  },
};
