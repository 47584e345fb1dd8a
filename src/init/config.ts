/**
 * The configuration of `memlog init`: one YAML file with memlogd's settings,
 * the on-boot actions and the services. Strict on purpose: an init that
 * quietly ignores `comand:` or `restart: sometimes` starts the machine wrong
 * with nothing in the logs to say why, so every unknown key, wrong type or
 * duplicate name is a ConfigError naming the file, the line and the field.
 *
 * The YAML is walked as the library's node tree (not turned into plain
 * objects first) so that each value still knows its line. Aliases are
 * followed through our own anchor table rather than doc.toJS(), the one place
 * where the library's maxAliasCount applies: the walk only ever descends a
 * few levels of known shape, and a budget on nodes reached through aliases
 * bounds the rest, so an alias bomb costs next to nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isAlias, isMap, isNode, isPair, isScalar, isSeq, LineCounter, parseDocument, type Alias, type Scalar, type YAMLMap, type YAMLSeq } from 'yaml';

/** An own property even for names like __proto__, which plain assignment would not create. */
function setOwn(obj: Record<string, string>, key: string, value: string): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

export type RestartPolicy = 'never' | 'on-failure' | 'always';

export interface ProgramConfig {
  /** Unique within onboot, and within services. */
  name: string;
  /** argv, at least the program. */
  command: string[];
  /** Added to the init's environment. */
  env: Record<string, string>;
  /** Absolute. */
  cwd?: string;
}

export interface ServiceConfig extends ProgramConfig {
  restart: RestartPolicy;
  /** The first delay before a restart; the init doubles it after each quick failure, up to 30 s. */
  restartDelayMs: number;
  /** Stopped after all the others at shutdown (the persister, to write their last lines). */
  stopLast: boolean;
}

export interface MemlogdSection {
  socketLog: string;
  socketQuery: string;
  /** Unset: memlogd's own defaults. */
  maxLines?: number;
  maxLineLen?: number;
  maxBytes?: number;
  /** memlogd's syslog datagram socket (-socket-syslog), e.g. RUN/log or /dev/log. */
  syslog?: string;
  /** memlogd's syslog stream socket (-syslog-stream): a path of its own. */
  syslogStream?: string;
  /**
   * The daemon to run (default: this installation's memlogd), given its
   * flags after these: -fd-log=3 -fd-query=4 and the bounds above, and
   * -restart-of=ID when it replaces one that died.
   */
  command?: string[];
}

export interface InitConfig {
  /** Every path here is absolute. */
  file: string;
  runDir: string;
  logDir: string;
  shutdownGraceMs: number;
  /** Present: logging through memlogd. */
  memlogd?: MemlogdSection;
  onboot: ProgramConfig[];
  services: ServiceConfig[];
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const TOP_KEYS = ['run-dir', 'log-dir', 'shutdown-grace', 'memlogd', 'onboot', 'services'];
const MEMLOGD_KEYS = ['socket-log', 'socket-query', 'max-lines', 'max-line-len', 'max-bytes', 'command', 'syslog', 'syslog-stream'];
const ONBOOT_KEYS = ['name', 'command', 'env', 'cwd'];
const SERVICE_ONLY_KEYS = ['restart', 'restart-delay', 'stop'];
const SERVICE_KEYS = [...ONBOOT_KEYS, ...SERVICE_ONLY_KEYS];
const RESTART_POLICIES: readonly RestartPolicy[] = ['never', 'on-failure', 'always'];

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const ENV_KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** sun_path holds 108 bytes with the NUL; the native addon refuses longer. */
const MAX_SOCKET_PATH = 107;
/** Nodes the walk may reach through aliases, beyond the document's own. */
const MAX_ALIAS_EXPANSION = 10_000;

type Resolved = Scalar | YAMLMap | YAMLSeq;

/** A value in the walk: its node (undefined for a missing value), where it is, and its field path. */
interface Value {
  node: Resolved | undefined;
  offset: number | undefined;
  field: string;
}

interface Entry {
  keyOffset: number | undefined;
  value: Value;
}

function offsetOf(node: unknown): number | undefined {
  return isNode(node) && node.range ? node.range[0] : undefined;
}

function join(parent: string, key: string): string {
  return parent ? `${parent}.${key}` : key;
}

function cut(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function quote(s: string): string {
  return JSON.stringify(cut(s));
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** What a value is, for "expected X (got Y)". */
function describe(node: Resolved | undefined): string {
  if (node === undefined) return 'nothing';
  if (isMap(node)) return 'a map';
  if (isSeq(node)) return 'a list';
  const v: unknown = node.value;
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return `string ${quote(v)}`;
  if (typeof v === 'number' || typeof v === 'bigint') return `number ${cut(node.source || String(v))}`;
  if (typeof v === 'boolean') return `boolean ${cut(node.source || String(v))}`;
  // A `<<` merge key (YAML 1.1 documents): merging would hide where each value came from.
  if (typeof v === 'symbol') return 'a merge key (<<), which is not supported';
  if (v instanceof Date) return 'a timestamp';
  if (v instanceof Uint8Array) return 'binary data';
  return 'a value of an unexpected type';
}

/**
 * Every anchor and alias in document order, in one pass (Alias.resolve()
 * rescans the whole document on each call). An alias refers to the last node
 * with its anchor before it. Iterative, so deep nesting cannot overflow here.
 * `slots` counts every place a value can sit (root, keys, values, items), the
 * most the walk can visit without going through an alias.
 */
function anchorTable(root: unknown): { targets: Map<Alias, Resolved | undefined>; slots: number } {
  const byName = new Map<string, Resolved>();
  const targets = new Map<Alias, Resolved | undefined>();
  let slots = 0;
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const n = stack.pop();
    slots++;
    if (isPair(n)) {
      stack.push(n.value, n.key);
    } else if (isAlias(n)) {
      targets.set(n, byName.get(n.source));
    } else if (isScalar(n) || isMap(n) || isSeq(n)) {
      if (n.anchor) byName.set(n.anchor, n);
      if (!isScalar(n)) for (let i = n.items.length - 1; i >= 0; i--) stack.push(n.items[i]);
    }
  }
  return { targets, slots };
}

class Walker {
  private reached = 0;
  private readonly budget: number;
  private readonly targets: Map<Alias, Resolved | undefined>;

  constructor(
    private readonly file: string,
    private readonly lines: LineCounter,
    private readonly baseDir: string,
    root: unknown,
  ) {
    const table = anchorTable(root);
    this.targets = table.targets;
    this.budget = table.slots + MAX_ALIAS_EXPANSION;
  }

  fail(offset: number | undefined, field: string, problem: string): never {
    const where = offset === undefined ? this.file : `${this.file}:${Math.max(1, this.lines.linePos(offset).line)}`;
    throw new ConfigError(`${where}: ${field || 'top level'}: ${problem}`);
  }

  lineOf(offset: number | undefined): string {
    return offset === undefined ? '?' : String(Math.max(1, this.lines.linePos(offset).line));
  }

  /** Follows an alias to its node; the value keeps the alias's own position. */
  value(raw: unknown, field: string, fallback: number | undefined): Value {
    if (++this.reached > this.budget) {
      this.fail(offsetOf(raw) ?? fallback, field, `aliases expand to too many values (over ${MAX_ALIAS_EXPANSION} beyond the file's own)`);
    }
    const offset = offsetOf(raw) ?? fallback;
    if (isAlias(raw)) {
      const target = this.targets.get(raw);
      if (!target) this.fail(offset, field, `alias *${raw.source} has no anchor &${raw.source} before it`);
      return { node: target, offset, field };
    }
    if (isScalar(raw) || isMap(raw) || isSeq(raw)) return { node: raw, offset, field };
    return { node: undefined, offset, field };
  }

  isNull(v: Value): boolean {
    return v.node === undefined || (isScalar(v.node) && (v.node.value === null || v.node.value === undefined));
  }

  /** A map's entries by key, after checking each key is a known, unique string. */
  entries(v: Value, allowed: readonly string[], hint: (key: string) => string = () => ''): Map<string, Entry> {
    if (!isMap(v.node)) this.fail(v.offset, v.field, `must be a map (got ${describe(v.node)})`);
    const out = new Map<string, Entry>();
    for (const pair of v.node.items) {
      const key = this.value(pair.key, v.field, v.offset);
      const keyOffset = key.offset;
      if (!isScalar(key.node) || typeof key.node.value !== 'string') {
        this.fail(keyOffset, v.field, `keys must be strings (got ${describe(key.node)})`);
      }
      const name = key.node.value;
      const field = join(v.field, name);
      if (!allowed.includes(name)) this.fail(keyOffset, field, `unknown key; allowed keys: ${allowed.join(', ')}${hint(name)}`);
      const seen = out.get(name);
      if (seen) this.fail(keyOffset, field, `duplicate key (first at line ${this.lineOf(seen.keyOffset)})`);
      out.set(name, { keyOffset, value: this.value(pair.value, field, keyOffset) });
    }
    return out;
  }

  items(v: Value, expected: string): Value[] {
    if (!isSeq(v.node)) this.fail(v.offset, v.field, `must be ${expected} (got ${describe(v.node)})`);
    return v.node.items.map((item, i) => this.value(item, `${v.field}[${i}]`, v.offset));
  }

  string(v: Value, expected = 'a string'): string {
    const node = v.node;
    if (isScalar(node) && typeof node.value === 'string') {
      if (node.value.includes('\0')) this.fail(v.offset, v.field, 'must not contain a NUL character');
      return node.value;
    }
    // `name: 5` or `- true` is a number or boolean to YAML; say how to make it a string.
    const hint = isScalar(node) && node.value !== null && node.type === 'PLAIN' && node.source ? `; quote it to make it a string: "${cut(node.source)}"` : '';
    this.fail(v.offset, v.field, `must be ${expected} (got ${describe(node)}${hint})`);
  }

  number(v: Value, expected: string, ok: (n: number) => boolean): number {
    const n = isScalar(v.node) ? v.node.value : undefined;
    if (typeof n !== 'number' || !Number.isFinite(n) || !ok(n)) this.fail(v.offset, v.field, `must be ${expected} (got ${describe(v.node)})`);
    return n;
  }

  seconds(v: Value, max: number): number {
    const s = this.number(v, `a number of seconds, more than 0 and at most ${max}`, (n) => n > 0 && n <= max);
    return Math.max(1, Math.round(s * 1000));
  }

  whole(v: Value, max: number): number {
    return this.number(v, `a whole number from 1 to ${max}`, (n) => Number.isInteger(n) && n >= 1 && n <= max);
  }

  path(v: Value): string {
    const s = this.string(v, 'a path');
    if (s === '') this.fail(v.offset, v.field, 'must be a path (got an empty string)');
    return path.resolve(this.baseDir, s);
  }

  socketPath(entry: Entry | undefined, fallback: string, field: string, offset: number | undefined): string {
    const p = entry ? this.path(entry.value) : fallback;
    const bytes = Buffer.byteLength(p);
    if (bytes > MAX_SOCKET_PATH) {
      const fix = entry ? '' : `; set ${field.split('.').pop()} or a shorter run-dir`;
      this.fail(entry?.value.offset ?? offset, field, `${p} is ${bytes} bytes long, and a Unix socket path can be at most ${MAX_SOCKET_PATH}${fix}`);
    }
    return p;
  }

  env(v: Value): Record<string, string> {
    const env: Record<string, string> = {};
    if (this.isNull(v)) return env;
    if (isSeq(v.node)) {
      // LinuxKit style: a list of "KEY=VALUE".
      const lines = new Map<string, number | undefined>();
      for (const item of this.items(v, 'a list')) {
        const s = this.string(item, 'a "KEY=VALUE" string');
        const eq = s.indexOf('=');
        if (eq < 0) this.fail(item.offset, item.field, `must be a "KEY=VALUE" string (got ${quote(s)}, with no =)`);
        const key = s.slice(0, eq);
        if (!ENV_KEY_RE.test(key)) this.fail(item.offset, item.field, `${quote(key)} is not a valid variable name (letters, digits and _, not starting with a digit)`);
        if (lines.has(key)) this.fail(item.offset, item.field, `duplicate variable ${key} (first at line ${this.lineOf(lines.get(key))})`);
        lines.set(key, item.offset);
        setOwn(env, key, s.slice(eq + 1));
      }
      return env;
    }
    if (!isMap(v.node)) this.fail(v.offset, v.field, `must be a map of KEY: value or a list of "KEY=VALUE" strings (got ${describe(v.node)})`);
    const lines = new Map<string, number | undefined>();
    for (const pair of v.node.items) {
      const key = this.value(pair.key, v.field, v.offset);
      if (!isScalar(key.node) || typeof key.node.value !== 'string') this.fail(key.offset, v.field, `keys must be variable names (got ${describe(key.node)})`);
      const name = key.node.value;
      const field = join(v.field, name);
      if (!ENV_KEY_RE.test(name)) this.fail(key.offset, field, `${quote(name)} is not a valid variable name (letters, digits and _, not starting with a digit)`);
      if (lines.has(name)) this.fail(key.offset, field, `duplicate variable (first at line ${this.lineOf(lines.get(name))})`);
      lines.set(name, key.offset);
      const value = this.value(pair.value, field, key.offset);
      setOwn(env, name, this.envValue(value));
    }
    return env;
  }

  /** Numbers and booleans become the text written in the file: `VERSION: 1.10` is "1.10", not "1.1". */
  private envValue(v: Value): string {
    const node = v.node;
    if (isScalar(node)) {
      const x: unknown = node.value;
      if (typeof x === 'string') return this.string(v);
      if (typeof x === 'number' || typeof x === 'boolean') return node.source || String(x);
    }
    const hint = this.isNull(v) ? "; write '' for an empty value" : '';
    this.fail(v.offset, v.field, `must be a string, number or boolean (got ${describe(node)}${hint})`);
  }

  program(v: Value, allowed: readonly string[], hint?: (key: string) => string): { program: ProgramConfig; fields: Map<string, Entry>; nameOffset: number | undefined } {
    const fields = this.entries(v, allowed, hint);
    const name = fields.get('name');
    if (!name) this.fail(v.offset, join(v.field, 'name'), 'missing (every entry needs a name)');
    const nameText = this.string(name.value);
    if (!NAME_RE.test(nameText)) {
      this.fail(name.value.offset, name.value.field, `${quote(nameText)} is not a valid name (1 to 64 letters, digits, ., _ or -, starting with a letter or digit)`);
    }
    const command = fields.get('command');
    if (!command) this.fail(v.offset, join(v.field, 'command'), 'missing (a list of strings: the program and its arguments)');
    const argv = this.command(command.value);
    const env = fields.get('env');
    const cwd = fields.get('cwd');
    const program: ProgramConfig = { name: nameText, command: argv, env: env ? this.env(env.value) : {} };
    if (cwd) program.cwd = this.path(cwd.value);
    return { program, fields, nameOffset: name.value.offset };
  }

  /** A program and its arguments: a non-empty list of strings. */
  command(v: Value): string[] {
    const argv = this.items(v, 'a list of strings, like ["/bin/sh", "-c", "..."]').map((item) => this.string(item));
    if (argv.length === 0) this.fail(v.offset, v.field, 'must not be empty (it needs at least the program to run)');
    if (argv[0] === '') this.fail(v.offset, `${v.field}[0]`, 'the program must not be an empty string');
    return argv;
  }

  /** Names unique within one list; the error points at the second. */
  list<T extends ProgramConfig>(v: Value | undefined, read: (item: Value) => { program: T; nameOffset: number | undefined }): T[] {
    if (!v || this.isNull(v)) return [];
    const seen = new Map<string, { field: string; offset: number | undefined }>();
    const out: T[] = [];
    for (const item of this.items(v, 'a list of maps')) {
      const { program, nameOffset } = read(item);
      const first = seen.get(program.name);
      if (first) this.fail(nameOffset, `${item.field}.name`, `duplicate name ${quote(program.name)} (${first.field} at line ${this.lineOf(first.offset)} has it too)`);
      seen.set(program.name, { field: item.field, offset: nameOffset });
      out.push(program);
    }
    return out;
  }

  service(v: Value): { program: ServiceConfig; nameOffset: number | undefined } {
    const { program, fields, nameOffset } = this.program(v, SERVICE_KEYS);
    let restart: RestartPolicy = 'never';
    const r = fields.get('restart');
    if (r) {
      const node = r.value.node;
      const text = isScalar(node) && typeof node.value === 'string' ? node.value : undefined;
      const policy = RESTART_POLICIES.find((p) => p === text);
      if (!policy) {
        const got = text === undefined ? describe(node) : quote(text);
        this.fail(r.value.offset, r.value.field, `must be one of ${RESTART_POLICIES.join(', ')} (got ${got})`);
      }
      restart = policy;
    }
    const delay = fields.get('restart-delay');
    const stop = fields.get('stop');
    let stopLast = false;
    if (stop) {
      const node = stop.value.node;
      const text = isScalar(node) && typeof node.value === 'string' ? node.value : undefined;
      if (text !== 'last' && text !== 'normal') {
        this.fail(stop.value.offset, stop.value.field, `must be last or normal (got ${text === undefined ? describe(node) : quote(text)})`);
      }
      stopLast = text === 'last';
    }
    return {
      program: { ...program, restart, restartDelayMs: delay ? this.seconds(delay.value, 3600) : 1000, stopLast },
      nameOffset,
    };
  }

  memlogd(v: Value, runDir: string, keyOffset: number | undefined): MemlogdSection {
    const fields = this.isNull(v) ? new Map<string, Entry>() : this.entries(v, MEMLOGD_KEYS);
    const section: MemlogdSection = {
      socketLog: this.socketPath(fields.get('socket-log'), path.join(runDir, 'linuxkit-external-logging.sock'), 'memlogd.socket-log', keyOffset),
      socketQuery: this.socketPath(fields.get('socket-query'), path.join(runDir, 'memlogdq.sock'), 'memlogd.socket-query', keyOffset),
    };
    const maxLines = fields.get('max-lines');
    const maxLineLen = fields.get('max-line-len');
    const maxBytes = fields.get('max-bytes');
    if (maxLines) section.maxLines = this.whole(maxLines.value, 100_000_000);
    if (maxLineLen) section.maxLineLen = this.whole(maxLineLen.value, 1_048_576);
    if (maxBytes) section.maxBytes = this.whole(maxBytes.value, 4_294_967_295);
    const command = fields.get('command');
    if (command) section.command = this.command(command.value);
    const syslog = fields.get('syslog');
    if (syslog) section.syslog = this.path(syslog.value);
    const syslogStream = fields.get('syslog-stream');
    if (syslogStream) section.syslogStream = this.path(syslogStream.value);
    return section;
  }
}

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

  const w = new Walker(file, lines, base, doc.contents);
  const top = w.entries(w.value(doc.contents, '', 0), TOP_KEYS);
  const entry = (key: string): Entry | undefined => top.get(key);

  const runDirEntry = entry('run-dir');
  const logDirEntry = entry('log-dir');
  const grace = entry('shutdown-grace');
  const runDir = runDirEntry ? w.path(runDirEntry.value) : path.resolve(base, 'run');
  const logDir = logDirEntry ? w.path(logDirEntry.value) : '/var/log';
  const shutdownGraceMs = grace ? w.seconds(grace.value, 600) : 5000;
  const memlogdEntry = entry('memlogd');
  const memlogd = memlogdEntry ? w.memlogd(memlogdEntry.value, runDir, memlogdEntry.keyOffset) : undefined;
  const onboot = w.list(entry('onboot')?.value, (item) =>
    w.program(item, ONBOOT_KEYS, (key) => (SERVICE_ONLY_KEYS.includes(key) ? ` (${key} applies to services only)` : '')),
  );
  const services = w.list(entry('services')?.value, (item) => w.service(item));
  return { file: path.resolve(base, file), runDir, logDir, shutdownGraceMs, ...(memlogd ? { memlogd } : {}), onboot, services };
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

/** The init's start-up line: what will run and where its output goes. */
export function describeConfig(config: InitConfig): string {
  const what = `${plural(config.onboot.length, 'on-boot action', 'on-boot actions')}, ${plural(config.services.length, 'service', 'services')}`;
  const where = config.memlogd
    ? `logging through memlogd (log socket ${config.memlogd.socketLog}, query socket ${config.memlogd.socketQuery})`
    : `no memlogd: output goes to files under ${config.logDir}`;
  return `${config.file}: ${what}; ${where}`;
}
