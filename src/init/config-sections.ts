/**
 * The shape of the init's sections: memlogd's settings, an on-boot action,
 * a service, and the lists of them. Each reads one section through a
 * YamlReader, which reports any problem with its file, line and field.
 */
import path from 'node:path';
import { RESTART_POLICIES, type MemlogdSection, type PersistSection, type ProgramConfig, type RestartPolicy, type ServiceConfig } from './config-model.js';
import { isScalar } from 'yaml';
import { describe, join, quote, stringValue, type Entry, type Value, type YamlReader } from './yaml-reader.js';

const MEMLOGD_KEYS = ['socket-log', 'socket-query', 'max-lines', 'max-line-len', 'max-bytes', 'command', 'syslog', 'syslog-stream', 'kmsg', 'compress-ring'];
const PERSIST_KEYS = ['log-dir', 'max-log-files', 'max-log-size', 'compress', 'max-source-bytes', 'max-dir-bytes', 'format', 'fsync'];
/** 1 TiB: a bound on byte sizes in persist:, far above any sensible one. */
const MAX_BYTES = 2 ** 40;
const ONBOOT_KEYS = ['name', 'command', 'env', 'cwd'];
const SERVICE_ONLY_KEYS = ['restart', 'restart-delay', 'stop'];
const SERVICE_KEYS = [...ONBOOT_KEYS, ...SERVICE_ONLY_KEYS];

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** sun_path holds 108 bytes with the NUL; the native addon refuses longer. */
const MAX_SOCKET_PATH = 107;

interface ReadProgram<T extends ProgramConfig> {
  program: T;
  nameOffset: number | undefined;
}

/** A program and its arguments: a non-empty list of strings. */
function readCommand(r: YamlReader, v: Value): string[] {
  const argv = r.items(v, 'a list of strings, like ["/bin/sh", "-c", "..."]').map((item) => r.string(item));
  if (argv.length === 0) r.fail(v.offset, v.field, 'must not be empty (it needs at least the program to run)');
  if (argv[0] === '') r.fail(v.offset, `${v.field}[0]`, 'the program must not be an empty string');
  return argv;
}

function readProgram(
  r: YamlReader,
  v: Value,
  allowed: readonly string[],
  hint?: (key: string) => string,
): ReadProgram<ProgramConfig> & { fields: Map<string, Entry> } {
  const fields = r.entries(v, allowed, hint);
  const name = fields.get('name');
  if (!name) r.fail(v.offset, join(v.field, 'name'), 'missing (every entry needs a name)');
  const nameText = r.string(name.value);
  if (!NAME_RE.test(nameText)) {
    r.fail(name.value.offset, name.value.field, `${quote(nameText)} is not a valid name (1 to 64 letters, digits, ., _ or -, starting with a letter or digit)`);
  }
  const command = fields.get('command');
  if (!command) r.fail(v.offset, join(v.field, 'command'), 'missing (a list of strings: the program and its arguments)');
  const argv = readCommand(r, command.value);
  const env = fields.get('env');
  const cwd = fields.get('cwd');
  const program: ProgramConfig = { name: nameText, command: argv, env: env ? r.env(env.value) : {} };
  if (cwd) program.cwd = r.path(cwd.value);
  return { program, fields, nameOffset: name.value.offset };
}

/** Names unique within one list; the error points at the second. */
function readList<T extends ProgramConfig>(r: YamlReader, v: Value | undefined, read: (item: Value) => ReadProgram<T>): T[] {
  if (!v || r.isNull(v)) return [];
  const seen = new Map<string, { field: string; offset: number | undefined }>();
  const out: T[] = [];
  for (const item of r.items(v, 'a list of maps')) {
    const { program, nameOffset } = read(item);
    const first = seen.get(program.name);
    if (first) r.fail(nameOffset, `${item.field}.name`, `duplicate name ${quote(program.name)} (${first.field} at line ${r.lineOf(first.offset)} has it too)`);
    seen.set(program.name, { field: item.field, offset: nameOffset });
    out.push(program);
  }
  return out;
}

function readService(r: YamlReader, v: Value): ReadProgram<ServiceConfig> {
  const { program, fields, nameOffset } = readProgram(r, v, SERVICE_KEYS);
  let restart: RestartPolicy = 'never';
  const rp = fields.get('restart');
  if (rp) {
    const text = stringValue(rp.value.node);
    const policy = RESTART_POLICIES.find((p) => p === text);
    if (!policy) {
      const got = text === undefined ? describe(rp.value.node) : quote(text);
      r.fail(rp.value.offset, rp.value.field, `must be one of ${RESTART_POLICIES.join(', ')} (got ${got})`);
    }
    restart = policy;
  }
  const delay = fields.get('restart-delay');
  const stop = fields.get('stop');
  let stopLast = false;
  if (stop) {
    const text = stringValue(stop.value.node);
    if (text !== 'last' && text !== 'normal') {
      r.fail(stop.value.offset, stop.value.field, `must be last or normal (got ${text === undefined ? describe(stop.value.node) : quote(text)})`);
    }
    stopLast = text === 'last';
  }
  return {
    program: { ...program, restart, restartDelayMs: delay ? r.seconds(delay.value, 3600) : 1000, stopLast },
    nameOffset,
  };
}

/** The `onboot:` list. */
export function readOnboot(r: YamlReader, v: Value | undefined): ProgramConfig[] {
  return readList(r, v, (item) =>
    readProgram(r, item, ONBOOT_KEYS, (key) => (SERVICE_ONLY_KEYS.includes(key) ? ` (${key} applies to services only)` : '')),
  );
}

/** The `services:` list. */
export function readServices(r: YamlReader, v: Value | undefined): ServiceConfig[] {
  return readList(r, v, (item) => readService(r, item));
}

function readSocketPath(r: YamlReader, entry: Entry | undefined, fallback: string, field: string, offset: number | undefined): string {
  const p = entry ? r.path(entry.value) : fallback;
  const bytes = Buffer.byteLength(p);
  if (bytes > MAX_SOCKET_PATH) {
    const fix = entry ? '' : `; set ${field.split('.').pop()} or a shorter run-dir`;
    r.fail(entry?.value.offset ?? offset, field, `${p} is ${bytes} bytes long, and a Unix socket path can be at most ${MAX_SOCKET_PATH}${fix}`);
  }
  return p;
}

/** The `memlogd:` section; its sockets default to places under runDir. */
export function readMemlogd(r: YamlReader, v: Value, runDir: string, keyOffset: number | undefined): MemlogdSection {
  const fields = r.isNull(v) ? new Map<string, Entry>() : r.entries(v, MEMLOGD_KEYS);
  const section: MemlogdSection = {
    socketLog: readSocketPath(r, fields.get('socket-log'), path.join(runDir, 'linuxkit-external-logging.sock'), 'memlogd.socket-log', keyOffset),
    socketQuery: readSocketPath(r, fields.get('socket-query'), path.join(runDir, 'memlogdq.sock'), 'memlogd.socket-query', keyOffset),
  };
  const maxLines = fields.get('max-lines');
  const maxLineLen = fields.get('max-line-len');
  const maxBytes = fields.get('max-bytes');
  if (maxLines) section.maxLines = r.whole(maxLines.value, 100_000_000);
  if (maxLineLen) section.maxLineLen = r.whole(maxLineLen.value, 1_048_576);
  if (maxBytes) section.maxBytes = r.whole(maxBytes.value, 4_294_967_295);
  const command = fields.get('command');
  if (command) section.command = readCommand(r, command.value);
  const syslog = fields.get('syslog');
  if (syslog) section.syslog = r.path(syslog.value);
  const syslogStream = fields.get('syslog-stream');
  if (syslogStream) section.syslogStream = r.path(syslogStream.value);
  const kmsg = fields.get('kmsg');
  if (kmsg) section.kmsg = r.bool(kmsg.value);
  const compressRing = fields.get('compress-ring');
  if (compressRing) section.compressRing = r.bool(compressRing.value);
  return section;
}

function readBool(r: YamlReader, v: Value): boolean {
  const node = v.node;
  if (isScalar(node) && typeof node.value === 'boolean') return node.value;
  r.fail(v.offset, v.field, `must be true or false (got ${describe(node)})`);
}

/**
 * The `persist:` section, with logwrite's defaults: the log-dir is the
 * top-level one unless set, 10 files of 1 MiB per source.
 */
export function readPersist(r: YamlReader, v: Value, logDir: string): PersistSection {
  const fields = r.isNull(v) ? new Map<string, Entry>() : r.entries(v, PERSIST_KEYS, (key) => (key === 'socket' ? " (the persister reads memlogd's query socket, from the memlogd section)" : ''));
  const get = (key: string): Value | undefined => fields.get(key)?.value;
  const dir = get('log-dir');
  const maxFiles = get('max-log-files');
  const maxSize = get('max-log-size');
  const compress = get('compress');
  const maxSource = get('max-source-bytes');
  const maxDir = get('max-dir-bytes');
  const fsync = get('fsync');
  const section: PersistSection = {
    logDir: dir ? r.path(dir) : logDir,
    maxFiles: maxFiles ? r.whole(maxFiles, 1_000_000) : 10,
    maxFileSize: maxSize ? r.whole(maxSize, MAX_BYTES) : 1024 * 1024,
    compress: compress ? readBool(r, compress) : false,
    format: 'text',
    fsync: fsync ? readBool(r, fsync) : false,
  };
  if (maxSource) section.maxSourceBytes = r.whole(maxSource, MAX_BYTES);
  if (maxDir) section.maxDirBytes = r.whole(maxDir, MAX_BYTES);
  const format = get('format');
  if (format) {
    const text = stringValue(format.node);
    if (text !== 'text' && text !== 'json') r.fail(format.offset, format.field, `must be text or json (got ${text === undefined ? describe(format.node) : quote(text)})`);
    section.format = text;
  }
  return section;
}
