/**
 * Properties of the init's config loader (src/init/config.ts parseConfig):
 * whatever the text, it returns a config the init can rely on or throws a
 * ConfigError naming the file, quickly; and configs written from a model
 * parse back to that model. See test/prop-support.ts for reproducing a failure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { ConfigError, parseConfig, type InitConfig, type ProgramConfig, type ServiceConfig } from '../src/init/config.js';
import { anyString, runs } from './prop-support.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BOOT_YML = fs.readFileSync(path.join(ROOT, 'examples', 'boot.yml'), 'utf8');

const FILE = 'conf/fuzz.yml';
const BASE = '/base/dir';
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const ENV_KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

function checkProgram(p: ProgramConfig, where: string): void {
  assert.match(p.name, NAME_RE, where);
  assert.ok(Array.isArray(p.command) && p.command.length > 0, `${where}: a command`);
  assert.ok(p.command.every((a) => typeof a === 'string' && !a.includes('\0')), `${where}: command of strings`);
  assert.notEqual(p.command[0], '', `${where}: a program`);
  assert.equal(Object.getPrototypeOf(p.env), Object.prototype);
  for (const [k, v] of Object.entries(p.env)) {
    assert.match(k, ENV_KEY_RE, where);
    assert.ok(typeof v === 'string' && !v.includes('\0'), `${where}: env ${k}`);
  }
  if (p.cwd !== undefined) assert.ok(path.isAbsolute(p.cwd), `${where}: cwd ${p.cwd}`);
}

/** What the init relies on in a config that parsed. */
function checkConfig(c: InitConfig): void {
  assert.equal(c.file, path.resolve(BASE, FILE));
  assert.ok(path.isAbsolute(c.runDir) && path.isAbsolute(c.logDir), 'absolute directories');
  assert.ok(Number.isInteger(c.shutdownGraceMs) && c.shutdownGraceMs >= 1 && c.shutdownGraceMs <= 600_000, `grace ${c.shutdownGraceMs}`);
  if (c.memlogd) {
    for (const p of [c.memlogd.socketLog, c.memlogd.socketQuery]) assert.ok(path.isAbsolute(p) && Buffer.byteLength(p) <= 107 && !p.includes('\0'), p);
    const whole = (n: number | undefined, max: number): boolean => n === undefined || (Number.isInteger(n) && n >= 1 && n <= max);
    assert.ok(whole(c.memlogd.maxLines, 100_000_000) && whole(c.memlogd.maxLineLen, 1_048_576) && whole(c.memlogd.maxBytes, 4_294_967_295));
  }
  c.onboot.forEach((p, i) => checkProgram(p, `onboot[${i}]`));
  c.services.forEach((s, i) => {
    checkProgram(s, `services[${i}]`);
    assert.ok(['never', 'on-failure', 'always'].includes(s.restart), s.restart);
    assert.ok(Number.isInteger(s.restartDelayMs) && s.restartDelayMs >= 1 && s.restartDelayMs <= 3_600_000);
    assert.equal(typeof s.stopLast, 'boolean');
  });
  assert.equal(new Set(c.onboot.map((p) => p.name)).size, c.onboot.length, 'unique on-boot names');
  assert.equal(new Set(c.services.map((p) => p.name)).size, c.services.length, 'unique service names');
}

/**
 * parseConfig must give a config that holds, or a ConfigError naming the file; nothing else. (An input that
 * made it loop or expand without bound would hang: the tests' timeouts are the guard, not a measured time.)
 */
function checkOutcome(text: string): InitConfig | undefined {
  let config: InitConfig | undefined;
  try {
    config = parseConfig(text, FILE, BASE);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw new Error(`threw something else than a ConfigError: ${String(err)}`, { cause: err });
    assert.ok(err.message.startsWith(`${FILE}:`), err.message);
  }
  if (config) checkConfig(config);
  return config;
}

const KEYS = ['run-dir', 'log-dir', 'shutdown-grace', 'memlogd', 'onboot', 'services', 'socket-log', 'socket-query', 'max-lines', 'max-line-len', 'max-bytes', 'name', 'command', 'env', 'cwd', 'restart', 'restart-delay', 'stop'];
const TOKENS = ['\n', '\n  ', '\n    ', '- ', ': ', ':', '[', ']', '{', '}', ',', '"', "'", '&a ', '*a', '!!str ', '!!binary ', '!x ', '? ', '|', '>', '#', '---', '...', '%YAML 1.1\n', '\t', '<<: ', '~', '1e999', '0x', '\0', 'x', ' ', ...KEYS];

test('config: any text gives a valid config or a ConfigError naming the file', { timeout: 300_000 }, () => {
  fc.assert(
    fc.property(fc.oneof(anyString(200), fc.array(fc.constantFrom(...TOKENS), { maxLength: 60 }).map((t) => t.join(''))), (text) => {
      checkOutcome(text);
    }),
    runs(2000),
  );
});

const scalar = fc.oneof(
  fc.constantFrom<unknown>('x', '', 'never', 'on-failure', 'always', 'last', 'normal', '/bin/sh', 'A=1', 'a'.repeat(70), '\0', null, true, false, 0, -1, 1, 0.5, 600, 601, 3600, 3601, 1e300, 2 ** 53 + 1, 4294967296),
  anyString(20),
  fc.double(),
  fc.integer(),
);

/** JSON-like values, shaped like a config more often than not. */
const { value: yamlValue } = fc.letrec((tie) => ({
  value: fc.oneof({ maxDepth: 4, depthSize: 'small' }, scalar, tie('list'), tie('map')),
  list: fc.array(tie('value'), { maxLength: 4 }),
  map: fc.dictionary(fc.oneof(fc.constantFrom(...KEYS), anyString(8)), tie('value'), { maxKeys: 5 }),
}));

const program = fc.record(
  {
    name: fc.oneof(fc.constantFrom('a', 'b', 'svc.1', '-x', 'a'.repeat(65)), anyString(10)),
    command: fc.oneof(fc.constant(['sh', '-c', 'x']), fc.array(anyString(10), { maxLength: 3 }), yamlValue),
    env: fc.oneof(fc.dictionary(fc.constantFrom('A', 'B_2', '1A', 'PATH', ''), scalar), fc.array(fc.oneof(fc.constantFrom('A=1', 'A=2', '=x', 'B'), anyString(8)), { maxLength: 3 }), yamlValue),
    cwd: fc.oneof(fc.constantFrom('/', 'rel', ''), scalar),
    restart: scalar,
    'restart-delay': scalar,
    stop: scalar,
  },
  { requiredKeys: [] },
);

const configShaped = fc.record(
  {
    'run-dir': scalar,
    'log-dir': scalar,
    'shutdown-grace': scalar,
    memlogd: fc.oneof(fc.constant(null), fc.record({ 'socket-log': scalar, 'socket-query': scalar, 'max-lines': scalar, 'max-line-len': scalar, 'max-bytes': scalar }, { requiredKeys: [] }), yamlValue),
    onboot: fc.oneof(fc.array(program, { maxLength: 3 }), yamlValue),
    services: fc.oneof(fc.array(program, { maxLength: 3 }), yamlValue),
  },
  { requiredKeys: [] },
);

test('config: YAML written from random values gives a valid config or a ConfigError naming the file', { timeout: 300_000 }, () => {
  fc.assert(
    fc.property(fc.oneof(configShaped, yamlValue), fc.boolean(), (value, flow) => {
      let text: string;
      try {
        text = stringify(value, flow ? { collectionStyle: 'flow' } : {});
      } catch {
        return; // nothing the yaml package can write
      }
      checkOutcome(text);
    }),
    runs(1500),
  );
});

type Mutation = { op: 'insert'; at: number; token: string } | { op: 'delete'; at: number; len: number } | { op: 'char'; at: number; code: number } | { op: 'line'; from: number; to: number; dup: boolean };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), token: fc.oneof(fc.constantFrom(...TOKENS), anyString(4)) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ op: fc.constant('char' as const), at: fc.nat(), code: fc.integer({ min: 0, max: 0x3000 }) }),
  fc.record({ op: fc.constant('line' as const), from: fc.nat(), to: fc.nat(), dup: fc.boolean() }),
);

function mutate(text: string, mutations: Mutation[]): string {
  let s = text;
  for (const m of mutations) {
    if (m.op === 'line') {
      const lines = s.split('\n');
      const from = m.from % lines.length;
      const to = m.to % lines.length;
      const [line] = m.dup ? [lines[from]] : lines.splice(from, 1);
      lines.splice(to, 0, line);
      s = lines.join('\n');
      continue;
    }
    const at = m.at % (s.length + 1);
    if (m.op === 'insert') s = s.slice(0, at) + m.token + s.slice(at);
    else if (m.op === 'delete') s = s.slice(0, at) + s.slice(at + m.len);
    else s = s.slice(0, at) + String.fromCharCode(m.code) + s.slice(at + 1);
  }
  return s;
}

test('config: mutations of examples/boot.yml give a valid config or a ConfigError naming the file', { timeout: 300_000 }, () => {
  assert.ok(checkOutcome(BOOT_YML), 'examples/boot.yml itself is valid');
  fc.assert(
    fc.property(fc.array(mutation, { minLength: 1, maxLength: 6 }), (mutations) => {
      checkOutcome(mutate(BOOT_YML, mutations));
    }),
    runs(1500),
  );
});

// ---------------------------------------------------------------------------
// Round trip: a valid config, written as YAML, parses to what it says.

/** Env names, some of them names JS objects treat specially. */
const ENV_KEY = fc.oneof(fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,8}$/), fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '_'));
/** A string the loader takes as it is: anything but NUL. */
const text = (max: number): fc.Arbitrary<string> => anyString(max).map((s) => s.replaceAll('\0', ''));
/** Short paths, so that socket paths under them stay within 107 bytes. */
const shortPath = fc.oneof(fc.stringMatching(/^[a-z0-9._/-]{1,20}$/), fc.constantFrom('/', '.', '..', '/tmp/x', 'run', './a/../b'));

interface ProgramModel {
  name: string;
  command: string[];
  env?: { style: 'map'; vars: [string, string | number | boolean][] } | { style: 'list'; vars: [string, string][] };
  cwd?: string;
  restart?: 'never' | 'on-failure' | 'always';
  restartDelay?: number;
  stop?: 'last' | 'normal';
}

const envModel = fc.oneof(
  fc.record({ style: fc.constant('map' as const), vars: fc.uniqueArray(fc.tuple(ENV_KEY, fc.oneof(text(10), fc.integer(), fc.boolean())), { selector: ([k]) => k, maxLength: 4 }) }),
  fc.record({ style: fc.constant('list' as const), vars: fc.uniqueArray(fc.tuple(ENV_KEY, text(10)), { selector: ([k]) => k, maxLength: 4 }) }),
);

const programModel = (service: boolean): fc.Arbitrary<ProgramModel> =>
  fc.record(
    {
      name: fc.stringMatching(NAME_RE),
      command: fc.tuple(text(10).filter((s) => s !== ''), fc.array(text(10), { maxLength: 3 })).map(([p, args]) => [p, ...args]),
      env: envModel,
      cwd: shortPath,
      ...(service
        ? {
            restart: fc.constantFrom('never' as const, 'on-failure' as const, 'always' as const),
            restartDelay: fc.oneof(fc.integer({ min: 1, max: 3600 }), fc.double({ min: 0.0001, max: 3600, noNaN: true })),
            stop: fc.constantFrom('last' as const, 'normal' as const),
          }
        : {}),
    },
    { requiredKeys: ['name', 'command'] },
  );

const configModel = fc.record(
  {
    runDir: shortPath,
    logDir: fc.oneof(shortPath, text(30).filter((s) => s !== '')),
    grace: fc.oneof(fc.integer({ min: 1, max: 600 }), fc.double({ min: 0.0001, max: 600, noNaN: true })),
    memlogd: fc.option(fc.record({ socketLog: shortPath, socketQuery: shortPath, maxLines: fc.integer({ min: 1, max: 100_000_000 }), maxLineLen: fc.integer({ min: 1, max: 1_048_576 }), maxBytes: fc.integer({ min: 1, max: 4_294_967_295 }) }, { requiredKeys: [] }), { nil: null }),
    onboot: fc.uniqueArray(programModel(false), { selector: (p) => p.name, maxLength: 3 }),
    services: fc.uniqueArray(programModel(true), { selector: (p) => p.name, maxLength: 3 }),
  },
  { requiredKeys: [] },
);

type ConfigModel = typeof configModel extends fc.Arbitrary<infer T> ? T : never;

function programYaml(p: ProgramModel): Map<string, unknown> {
  const m = new Map<string, unknown>([
    ['name', p.name],
    ['command', p.command],
  ]);
  if (p.env) m.set('env', p.env.style === 'map' ? new Map(p.env.vars) : p.env.vars.map(([k, v]) => `${k}=${v}`));
  if (p.cwd !== undefined) m.set('cwd', p.cwd);
  if (p.restart !== undefined) m.set('restart', p.restart);
  if (p.restartDelay !== undefined) m.set('restart-delay', p.restartDelay);
  if (p.stop !== undefined) m.set('stop', p.stop);
  return m;
}

function configYaml(c: ConfigModel): Map<string, unknown> {
  const m = new Map<string, unknown>();
  if (c.runDir !== undefined) m.set('run-dir', c.runDir);
  if (c.logDir !== undefined) m.set('log-dir', c.logDir);
  if (c.grace !== undefined) m.set('shutdown-grace', c.grace);
  if (c.memlogd !== undefined) {
    const l = c.memlogd;
    m.set(
      'memlogd',
      l === null
        ? null
        : new Map<string, unknown>(
            (
              [
                ['socket-log', l.socketLog],
                ['socket-query', l.socketQuery],
                ['max-lines', l.maxLines],
                ['max-line-len', l.maxLineLen],
                ['max-bytes', l.maxBytes],
              ] as [string, unknown][]
            ).filter(([, v]) => v !== undefined),
          ),
    );
  }
  if (c.onboot !== undefined) m.set('onboot', c.onboot.map(programYaml));
  if (c.services !== undefined) m.set('services', c.services.map(programYaml));
  return m;
}

function expectedProgram(p: ProgramModel): ProgramConfig {
  // fromEntries: every name an own property, `__proto__` included.
  const env: Record<string, string> = Object.fromEntries((p.env?.vars ?? []).map(([k, v]) => [k, String(v)]));
  const out: ProgramConfig = { name: p.name, command: p.command, env };
  if (p.cwd !== undefined) out.cwd = path.resolve(BASE, p.cwd);
  return out;
}

function expectedConfig(c: ConfigModel): InitConfig {
  const runDir = c.runDir !== undefined ? path.resolve(BASE, c.runDir) : path.resolve(BASE, 'run');
  const out: InitConfig = {
    file: path.resolve(BASE, FILE),
    runDir,
    logDir: c.logDir !== undefined ? path.resolve(BASE, c.logDir) : '/var/log',
    shutdownGraceMs: c.grace !== undefined ? Math.max(1, Math.round(c.grace * 1000)) : 5000,
    onboot: (c.onboot ?? []).map(expectedProgram),
    services: (c.services ?? []).map(
      (p): ServiceConfig => ({
        ...expectedProgram(p),
        restart: p.restart ?? 'never',
        restartDelayMs: p.restartDelay !== undefined ? Math.max(1, Math.round(p.restartDelay * 1000)) : 1000,
        stopLast: p.stop === 'last',
      }),
    ),
  };
  if (c.memlogd !== undefined) {
    const l = c.memlogd ?? {};
    out.memlogd = {
      socketLog: l.socketLog !== undefined ? path.resolve(BASE, l.socketLog) : path.join(runDir, 'linuxkit-external-logging.sock'),
      socketQuery: l.socketQuery !== undefined ? path.resolve(BASE, l.socketQuery) : path.join(runDir, 'memlogdq.sock'),
      ...(l.maxLines !== undefined ? { maxLines: l.maxLines } : {}),
      ...(l.maxLineLen !== undefined ? { maxLineLen: l.maxLineLen } : {}),
      ...(l.maxBytes !== undefined ? { maxBytes: l.maxBytes } : {}),
    };
  }
  return out;
}

test('config: a valid config written as YAML parses back to exactly what it says', () => {
  fc.assert(
    fc.property(configModel, fc.boolean(), (model, flow) => {
      // No block scalars, and in flow style only double-quoted strings: the yaml package (2.9) writes
      // ' \n' as a block scalar that reads back as '\n', and '-\na' in flow style as a block sequence.
      const text = stringify(configYaml(model), flow ? { collectionStyle: 'flow', defaultStringType: 'QUOTE_DOUBLE', blockQuote: false } : { blockQuote: false });
      const config = checkOutcome(text);
      assert.ok(config, 'parses');
      assert.deepEqual(config, expectedConfig(model));
    }),
    runs(1500),
  );
});

test('config: a name used twice in one list is a ConfigError at the second, in either list', () => {
  fc.assert(
    fc.property(configModel, fc.boolean(), fc.nat(), fc.nat(), (model, inServices, a, b) => {
      const list = inServices ? model.services : model.onboot;
      fc.pre(list !== undefined && list.length >= 2);
      const programs = [...list];
      const from = a % programs.length;
      let to = b % programs.length;
      if (to === from) to = (to + 1) % programs.length;
      programs[to] = { ...programs[to], name: programs[from].name };
      const text = stringify(configYaml(inServices ? { ...model, services: programs } : { ...model, onboot: programs }), { blockQuote: false });
      assert.throws(
        () => parseConfig(text, FILE, BASE),
        (err: unknown) => err instanceof ConfigError && err.message.startsWith(`${FILE}:`) && err.message.includes(`${inServices ? 'services' : 'onboot'}[${Math.max(from, to)}].name: duplicate name`),
      );
    }),
    runs(500),
  );
});
