/**
 * The configuration of `memlog init`: one YAML file with memlogd's settings,
 * the on-boot actions and the services. Strict on purpose: an init that
 * quietly ignores `comand:` or `restart: sometimes` starts the machine wrong
 * with nothing in the logs to say why, so every unknown key, wrong type or
 * duplicate name is a ConfigError naming the file, the line and the field.
 *
 * This module reads the file and its top level, and describes the result;
 * the model is in config-model.ts, the sections in config-sections.ts, and
 * the position-keeping YAML walk in yaml-reader.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { ConfigError, type InitConfig } from './config-model.js';
import { readMemlogd, readOnboot, readPersist, readServices } from './config-sections.js';
import { YamlReader, type Entry } from './yaml-reader.js';

export { describeConfig } from './config-describe.js';
export { ConfigError, type InitConfig, type MemlogdSection, type PersistSection, type ProgramConfig, type ServiceConfig } from './config-model.js';

const TOP_KEYS = ['run-dir', 'log-dir', 'shutdown-grace', 'memlogd', 'persist', 'onboot', 'services'];

/**
 * Parses and checks a config. Relative paths (and `file` itself, for
 * InitConfig.file) are resolved against baseDir, the directory `memlog init`
 * runs in, not the file's: `memlog init examples/boot.yml` from the repo
 * root puts ./run there.
 */
export function parseConfig(text: string, file: string, baseDir: string = process.cwd()): InitConfig {
  const base = path.resolve(baseDir);
  const lines = new LineCounter();
  // uniqueKeys: false, because the library's check is quadratic in a map's size (20 000 keys take
  // seconds); the walk makes the same check in one pass, and can name the field.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false });
  const problems = [...doc.errors, ...doc.warnings];
  if (problems.length > 0) {
    // The earliest in the file; warnings (an unknown !tag, say) are errors too: the value would not be what was meant.
    const first = problems.reduce((a, b) => (b.pos[0] < a.pos[0] ? b : a));
    let message = `invalid YAML: ${first.message}`;
    if (first.code === 'MULTIPLE_DOCS') message = 'more than one YAML document (a second ---); the config is one document';
    throw new ConfigError(`${file}:${Math.max(1, lines.linePos(first.pos[0]).line)}: ${message}`);
  }
  if (doc.contents === null) throw new ConfigError(`${file}:1: top level: must be a map (got an empty document)`);

  const r = new YamlReader(file, lines, base, doc.contents);
  const top = r.entries(r.value(doc.contents, '', 0), TOP_KEYS);
  const entry = (key: string): Entry | undefined => top.get(key);

  const runDirEntry = entry('run-dir');
  const logDirEntry = entry('log-dir');
  const grace = entry('shutdown-grace');
  const runDir = runDirEntry ? r.path(runDirEntry.value) : path.resolve(base, 'run');
  const logDir = logDirEntry ? r.path(logDirEntry.value) : '/var/log';
  const shutdownGraceMs = grace ? r.seconds(grace.value, 600) : 5000;
  const memlogdEntry = entry('memlogd');
  const memlogd = memlogdEntry ? readMemlogd(r, memlogdEntry.value, runDir, memlogdEntry.keyOffset) : undefined;
  const persistEntry = entry('persist');
  // It reads memlogd's ring: without memlogd there is nothing to persist (output goes to files already).
  if (persistEntry && !memlogd) r.fail(persistEntry.keyOffset, 'persist', 'needs a memlogd section (it writes memlogd\'s ring to files; without memlogd, output goes to files under log-dir already)');
  const persist = persistEntry ? readPersist(r, persistEntry.value, logDir) : undefined;
  const onboot = readOnboot(r, entry('onboot')?.value);
  const services = readServices(r, entry('services')?.value);
  return { file: path.resolve(base, file), runDir, logDir, shutdownGraceMs, ...(memlogd ? { memlogd } : {}), ...(persist ? { persist } : {}), onboot, services };
}

export function loadConfig(file: string, baseDir: string = process.cwd()): InitConfig {
  let text: string;
  try {
    text = fs.readFileSync(path.resolve(baseDir, file), 'utf8');
  } catch (err) {
    throw new ConfigError(`${file}: cannot read: ${(err as Error).message}`);
  }
  return parseConfig(text, file, baseDir);
}
