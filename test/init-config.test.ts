/**
 * The `memlog init` config loader: exact results for valid files, a message
 * with the right file, line and field for each kind of mistake, and a few
 * thousand random and hostile inputs that must end in a ConfigError (or a
 * valid config), quickly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { ConfigError, describeConfig, loadConfig, parseConfig, type InitConfig } from '../src/init/config.js';
import { seeded } from '../bench/random.js';
import { BIN, dump, run, waitFor } from './helpers.js';
import { processesWith, startInit, writeConfig } from './init-helpers.js';

function tmpdir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memlog-init-config-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The ConfigError message parseConfig gives for text, which must fail. */
function errorOf(text: string, file = 'boot.yml'): string {
  try {
    parseConfig(text, file, '/base');
  } catch (err) {
    assert.ok(err instanceof ConfigError, `not a ConfigError: ${String(err)}`);
    return err.message;
  }
  assert.fail(`parsed without error:\n${text}`);
}

const FULL = `# every field, both env styles
run-dir: /srv/run
log-dir: logs
shutdown-grace: 2.5
memlogd:
  socket-log: /srv/run/log.sock
  socket-query: sockets/query.sock
  max-lines: 10000
  max-line-len: 2048
  max-bytes: 33554432
onboot:
  - name: sysctl
    command: [/sbin/sysctl, -p]
    env: ["LANG=C", "OPTS=a=b", "EMPTY="]
    cwd: /etc
  - name: dhcp.eth0
    command:
      - /sbin/dhcpcd
      - "-1"
services:
  - name: web
    command: [node, server.js, ""]
    env:
      PORT: 8080
      VERSION: 1.10
      DEBUG: true
      GREETING: "hello: world"
      _X1: ''
    cwd: app
    restart: on-failure
    restart-delay: 0.25
  - name: persister
    command: [logwrite, -log-dir, /var/log]
    restart: always
    restart-delay: 3600
    stop: last
  - name: sysctl
    command: [sleep, infinity]
    restart: never
    stop: normal
`;

test('a full valid file parses to the exact object', (t) => {
  const dir = tmpdir(t);
  fs.writeFileSync(path.join(dir, 'boot.yml'), FULL);
  const expected: InitConfig = {
    file: path.join(dir, 'boot.yml'),
    runDir: '/srv/run',
    logDir: path.join(dir, 'logs'),
    shutdownGraceMs: 2500,
    memlogd: {
      socketLog: '/srv/run/log.sock',
      socketQuery: path.join(dir, 'sockets/query.sock'),
      maxLines: 10000,
      maxLineLen: 2048,
      maxBytes: 33554432,
    },
    onboot: [
      { name: 'sysctl', command: ['/sbin/sysctl', '-p'], env: { LANG: 'C', OPTS: 'a=b', EMPTY: '' }, cwd: '/etc' },
      { name: 'dhcp.eth0', command: ['/sbin/dhcpcd', '-1'], env: {} },
    ],
    services: [
      {
        name: 'web',
        command: ['node', 'server.js', ''],
        env: { PORT: '8080', VERSION: '1.10', DEBUG: 'true', GREETING: 'hello: world', _X1: '' },
        cwd: path.join(dir, 'app'),
        restart: 'on-failure',
        restartDelayMs: 250,
        stopLast: false,
      },
      { name: 'persister', command: ['logwrite', '-log-dir', '/var/log'], env: {}, restart: 'always', restartDelayMs: 3_600_000, stopLast: true },
      // A service may share an on-boot action's name.
      { name: 'sysctl', command: ['sleep', 'infinity'], env: {}, restart: 'never', restartDelayMs: 1000, stopLast: false },
    ],
  };
  assert.deepEqual(loadConfig('boot.yml', dir), expected);
  assert.deepEqual(parseConfig(FULL, path.join(dir, 'boot.yml'), dir), expected);
});

test('defaults', () => {
  const config = parseConfig('services:\n  - name: a\n    command: [x]\n', 'boot.yml', '/base');
  assert.deepEqual(config, {
    file: '/base/boot.yml',
    runDir: '/base/run',
    logDir: '/var/log',
    shutdownGraceMs: 5000,
    onboot: [],
    services: [{ name: 'a', command: ['x'], env: {}, restart: 'never', restartDelayMs: 1000, stopLast: false }],
  });
  assert.equal('memlogd' in config, false);
  assert.deepEqual(parseConfig('{}', 'b.yml', '/base'), { file: '/base/b.yml', runDir: '/base/run', logDir: '/var/log', shutdownGraceMs: 5000, onboot: [], services: [] });
  // Empty lists and env written with no value are the defaults too.
  assert.deepEqual(parseConfig('onboot:\nservices: []\n', 'b.yml', '/base').services, []);
  assert.deepEqual(parseConfig('onboot:\n  - name: a\n    command: [x]\n    env:\n', 'b.yml', '/base').onboot[0].env, {});
});

test('memlogd: present even when empty or null turns it on, with default sockets under run-dir', () => {
  const sockets = { socketLog: '/base/var/run/linuxkit-external-logging.sock', socketQuery: '/base/var/run/memlogdq.sock' };
  for (const text of ['memlogd:\n', 'memlogd: {}\n', 'memlogd: ~\n', 'memlogd: null\n']) {
    assert.deepEqual(parseConfig(`run-dir: var/run\n${text}`, 'b.yml', '/base').memlogd, sockets, text);
  }
});

test('relative paths resolve against baseDir, not the file\'s directory', () => {
  const text = 'run-dir: r\nlog-dir: ../l\nmemlogd:\n  socket-query: q.sock\nonboot:\n  - name: a\n    command: [x]\n    cwd: .\n';
  const config = parseConfig(text, 'examples/boot.yml', '/base/dir');
  assert.equal(config.file, '/base/dir/examples/boot.yml');
  assert.equal(config.runDir, '/base/dir/r');
  assert.equal(config.logDir, '/base/l');
  assert.deepEqual(config.memlogd, { socketLog: '/base/dir/r/linuxkit-external-logging.sock', socketQuery: '/base/dir/q.sock' });
  assert.equal(config.onboot[0].cwd, '/base/dir');
  // And against the working directory when no baseDir is given.
  assert.equal(parseConfig(text, 'boot.yml').runDir, path.join(process.cwd(), 'r'));
});

test('each kind of mistake names the file, line and field', () => {
  const svc = (extra: string): string => `services:\n  - name: a\n    command: [x]\n${extra}`;
  const cases: [string, string][] = [
    // unknown keys, at the top and inside entries
    ['run-dir: r\ncomand: [x]\n', 'boot.yml:2: comand: unknown key; allowed keys: run-dir, log-dir, shutdown-grace, memlogd, persist, onboot, services'],
    ['services:\n  - name: a\n    comand: [x]\n', 'boot.yml:3: services[0].comand: unknown key; allowed keys: name, command, env, cwd, restart, restart-delay, stop'],
    ['onboot:\n  - name: a\n    command: [x]\n    restart: always\n', 'boot.yml:4: onboot[0].restart: unknown key; allowed keys: name, command, env, cwd (restart applies to services only)'],
    ['memlogd:\n  max-line: 5\n', 'boot.yml:2: memlogd.max-line: unknown key; allowed keys: socket-log, socket-query, max-lines, max-line-len, max-bytes, command, syslog, syslog-stream, kmsg, compress-ring'],
    // restart, stop, delays
    [svc('    restart: sometimes\n'), 'boot.yml:4: services[0].restart: must be one of never, on-failure, always (got "sometimes")'],
    [svc('    restart: [always]\n'), 'boot.yml:4: services[0].restart: must be one of never, on-failure, always (got a list)'],
    [svc('    stop: first\n'), 'boot.yml:4: services[0].stop: must be last or normal (got "first")'],
    [svc('    restart-delay: -1\n'), 'boot.yml:4: services[0].restart-delay: must be a number of seconds, more than 0 and at most 3600 (got number -1)'],
    [svc('    restart-delay: 0\n'), 'boot.yml:4: services[0].restart-delay: must be a number of seconds, more than 0 and at most 3600 (got number 0)'],
    [svc('    restart-delay: "5"\n'), 'boot.yml:4: services[0].restart-delay: must be a number of seconds, more than 0 and at most 3600 (got string "5")'],
    [svc('    restart-delay: .nan\n'), 'boot.yml:4: services[0].restart-delay: must be a number of seconds, more than 0 and at most 3600 (got number .nan)'],
    ['shutdown-grace: 601\n', 'boot.yml:1: shutdown-grace: must be a number of seconds, more than 0 and at most 600 (got number 601)'],
    // command
    ['services:\n  - name: a\n    command: /bin/sh -c true\n', 'boot.yml:3: services[0].command: must be a list of strings, like ["/bin/sh", "-c", "..."] (got string "/bin/sh -c true")'],
    ['services:\n  - name: a\n    command: []\n', 'boot.yml:3: services[0].command: must not be empty (it needs at least the program to run)'],
    ['services:\n  - name: a\n    command:\n      - sleep\n      - 5\n', 'boot.yml:5: services[0].command[1]: must be a string (got number 5; quote it to make it a string: "5")'],
    ['services:\n  - name: a\n    command: ["", x]\n', 'boot.yml:3: services[0].command[0]: the program must not be an empty string'],
    ['services:\n  - name: a\n    command: ["a\\0b"]\n', 'boot.yml:3: services[0].command[0]: must not contain a NUL character'],
    ['services:\n  - name: a\n', 'boot.yml:2: services[0].command: missing (a list of strings: the program and its arguments)'],
    // names
    ['onboot:\n  - name: -x\n    command: [x]\n', 'boot.yml:2: onboot[0].name: "-x" is not a valid name (1 to 64 letters, digits, ., _ or -, starting with a letter or digit)'],
    ['onboot:\n  - name: a/b\n    command: [x]\n', 'boot.yml:2: onboot[0].name: "a/b" is not a valid name (1 to 64 letters, digits, ., _ or -, starting with a letter or digit)'],
    [`onboot:\n  - name: ${'a'.repeat(65)}\n    command: [x]\n`, `boot.yml:2: onboot[0].name: "${'a'.repeat(57)}..." is not a valid name (1 to 64 letters, digits, ., _ or -, starting with a letter or digit)`],
    ['onboot:\n  - name: true\n    command: [x]\n', 'boot.yml:2: onboot[0].name: must be a string (got boolean true; quote it to make it a string: "true")'],
    ['onboot:\n  - command: [x]\n', 'boot.yml:2: onboot[0].name: missing (every entry needs a name)'],
    ['services:\n  - name: a\n    command: [x]\n\n  - name: b\n    command: [x]\n  - name: a\n    command: [y]\n', 'boot.yml:7: services[2].name: duplicate name "a" (services[0] at line 2 has it too)'],
    // env
    [svc('    env:\n      1A: x\n'), 'boot.yml:5: services[0].env.1A: "1A" is not a valid variable name (letters, digits and _, not starting with a digit)'],
    [svc('    env: ["A=1", "B-C=2"]\n'), 'boot.yml:4: services[0].env[1]: "B-C" is not a valid variable name (letters, digits and _, not starting with a digit)'],
    [svc('    env: ["A"]\n'), 'boot.yml:4: services[0].env[0]: must be a "KEY=VALUE" string (got "A", with no =)'],
    [svc('    env:\n      - A=1\n      - A=2\n'), 'boot.yml:6: services[0].env[1]: duplicate variable A (first at line 5)'],
    [svc('    env:\n      A:\n'), "boot.yml:5: services[0].env.A: must be a string, number or boolean (got null; write '' for an empty value)"],
    [svc('    env:\n      A: [1]\n'), 'boot.yml:5: services[0].env.A: must be a string, number or boolean (got a list)'],
    [svc('    env: A=1\n'), 'boot.yml:4: services[0].env: must be a map of KEY: value or a list of "KEY=VALUE" strings (got string "A=1")'],
    // memlogd
    ['memlogd: 5\n', 'boot.yml:1: memlogd: must be a map (got number 5)'],
    ['memlogd:\n  max-lines: 1.5\n', 'boot.yml:2: memlogd.max-lines: must be a whole number from 1 to 100000000 (got number 1.5)'],
    ['memlogd:\n  max-bytes: 4294967296\n', 'boot.yml:2: memlogd.max-bytes: must be a whole number from 1 to 4294967295 (got number 4294967296)'],
    ['memlogd:\n  max-line-len: 0x100001\n', 'boot.yml:2: memlogd.max-line-len: must be a whole number from 1 to 1048576 (got number 0x100001)'],
    [`memlogd:\n  socket-log: /${'s'.repeat(110)}\n`, `boot.yml:2: memlogd.socket-log: /${'s'.repeat(110)} is 111 bytes long, and a Unix socket path can be at most 107`],
    [`run-dir: /${'r'.repeat(90)}\nmemlogd:\n`, `boot.yml:2: memlogd.socket-log: /${'r'.repeat(90)}/linuxkit-external-logging.sock is 122 bytes long, and a Unix socket path can be at most 107; set socket-log or a shorter run-dir`],
    // paths
    ['run-dir: ""\n', 'boot.yml:1: run-dir: must be a path (got an empty string)'],
    ['log-dir: 5\n', 'boot.yml:1: log-dir: must be a path (got number 5; quote it to make it a string: "5")'],
    // the shape of the file
    ['- a\n- b\n', 'boot.yml:1: top level: must be a map (got a list)'],
    ['just text\n', 'boot.yml:1: top level: must be a map (got string "just text")'],
    ['', 'boot.yml:1: top level: must be a map (got an empty document)'],
    ['# only a comment\n', 'boot.yml:1: top level: must be a map (got an empty document)'],
    ['onboot: {name: a}\n', 'boot.yml:1: onboot: must be a list of maps (got a map)'],
    ['services:\n  - x\n', 'boot.yml:2: services[0]: must be a map (got string "x")'],
    ['? [a, b]\n: 1\n', 'boot.yml:1: top level: keys must be strings (got a list)'],
    // duplicate keys, written out or through an alias
    ['run-dir: a\nlog-dir: b\nrun-dir: c\n', 'boot.yml:3: run-dir: duplicate key (first at line 1)'],
    ['services:\n  - name: a\n    command: [x]\n    name: b\n', 'boot.yml:4: services[0].name: duplicate key (first at line 2)'],
    [svc('    env: {A: 1, A: 2}\n'), 'boot.yml:4: services[0].env.A: duplicate variable (first at line 4)'],
    ['log-dir: &k run-dir\n*k : x\nrun-dir: y\n', 'boot.yml:3: run-dir: duplicate key (first at line 2)'],
    // aliases and tags
    ['services:\n  - name: a\n    command: *cmd\n', 'boot.yml:3: services[0].command: alias *cmd has no anchor &cmd before it'],
    ['%YAML 1.1\n---\nmemlogd: &m {max-lines: 5}\nservices:\n  - <<: *m\n', 'boot.yml:5: services[0]: keys must be strings (got a merge key (<<), which is not supported)'],
    ['run-dir: !secret x\n', 'boot.yml:1: invalid YAML: Unresolved tag: !secret'],
    // YAML syntax
    ['services:\n  - name: a\n    command: [x\nrun-dir: b\n', 'boot.yml:4: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]'],
    ['run-dir: a\n\trun-dir: b\n', 'boot.yml:2: invalid YAML: Tabs are not allowed as indentation'],
    // The line is the library's: for an unclosed quote, where it gave up (the end of the file).
    ['run-dir: "a\nlog-dir: b\n', 'boot.yml:3: invalid YAML: Missing closing "quote'],
    ['run-dir: a\n---\nrun-dir: b\n', 'boot.yml:2: more than one YAML document (a second ---); the config is one document'],
  ];
  for (const [text, message] of cases) assert.equal(errorOf(text), message, text);
  // The file name is the one given, as given.
  assert.match(errorOf('x: 1\n', 'examples/boot.yml'), /^examples\/boot\.yml:1: x: unknown key/);
});

// Without the budget the bombs below would expand for ever: the test's timeout is the guard, the error message the proof.
test('aliases are followed, within a budget', { timeout: 60_000 }, () => {
  const text = 'onboot:\n  - name: a\n    command: &cmd [sh, -c, "true"]\n    env: &env {A: 1}\nservices:\n  - name: a\n    command: *cmd\n    env: *env\n';
  const config = parseConfig(text, 'b.yml', '/base');
  assert.deepEqual(config.services[0].command, ['sh', '-c', 'true']);
  assert.deepEqual(config.services[0].env, { A: '1' });
  // 100 services of 100 arguments each is 10 000 values reached through aliases: fine. 300 x 300 is not.
  assert.equal(parseConfig(wideAliases(100), 'b.yml', '/base').services.length, 100);
  assert.match(errorOf(wideAliases(300)), /^boot\.yml:3: services\[\d+\]\.command\[\d+\]: aliases expand to too many values \(over 10000 beyond the file's own\)$/);
  assert.match(errorOf(aliasBomb(30, 'command')), /^boot\.yml:3: onboot\[0\]\.command\[0\]: must be a string \(got a list\)$/);
});

test('a missing or unreadable file is a ConfigError naming it', (t) => {
  const dir = tmpdir(t);
  const missing = path.join(dir, 'nope.yml');
  assert.throws(() => loadConfig(missing), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, new RegExp(`^${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot read: ENOENT`));
    return true;
  });
  assert.throws(() => loadConfig(dir), (err: unknown) => err instanceof ConfigError && err.message.startsWith(`${dir}: cannot read: EISDIR`));
  fs.writeFileSync(path.join(dir, 'rel.yml'), 'bogus: 1\n');
  assert.throws(() => loadConfig('rel.yml', dir), (err: unknown) => err instanceof ConfigError && err.message.startsWith('rel.yml:1: bogus: unknown key'));
});

test('describeConfig says what runs and where the output goes', () => {
  const withMemlogd = parseConfig(FULL, 'boot.yml', '/base');
  assert.equal(
    describeConfig(withMemlogd),
    '/base/boot.yml: 2 on-boot actions, 3 services; logging through memlogd (log socket /srv/run/log.sock, query socket /base/sockets/query.sock)',
  );
  const plain = parseConfig('log-dir: /l\nservices:\n  - name: a\n    command: [x]\n', 'b.yml', '/base');
  assert.equal(describeConfig(plain), '/base/b.yml: 0 on-boot actions, 1 service; no memlogd: output goes to files under /l');
});

// ---- random and hostile input --------------------------------------------------------------

const KEYS = ['run-dir', 'log-dir', 'shutdown-grace', 'memlogd', 'onboot', 'services', 'socket-log', 'socket-query', 'max-lines', 'max-line-len', 'max-bytes', 'name', 'command', 'env', 'cwd', 'restart', 'restart-delay', 'stop', 'comand', '<<', 'PATH', '1A', ''];
const SCALARS: unknown[] = [
  'x', '', 'on-failure', 'always', 'last', 'normal', 'a b', '/bin/sh', 'A=1', '-x', 'a'.repeat(70), '\0', 'ünï', '*a', '&a', '{', '- x',
  0, -1, 1, 0.5, 3600, 3601, 1e300, -1e300, 2 ** 53 + 1, 4294967296, Number.MAX_VALUE, Number.MIN_VALUE, Infinity, -Infinity, NaN,
  true, false, null,
];
const TOKENS = ['\n', '\n  ', '\n    ', '- ', ': ', ':', '[', ']', '{', '}', ',', '"', "'", '&a ', '*a', '&b ', '*b', '!!str ', '!!int ', '!x ', '? ', '|', '>', '#', '---', '...', '%YAML 1.1\n', '\t', '<<: ', '~', '1e999', '0x', ...KEYS, 'x', ' '];

function pick<T>(r: () => number, list: readonly T[]): T {
  return list[Math.floor(r() * list.length)];
}

/** A random value shaped roughly like a config, sometimes valid, sharing objects so stringify writes anchors. */
function randomValue(r: () => number, depth: number, shared: unknown[]): unknown {
  const roll = r();
  if (shared.length > 0 && roll < 0.08) return pick(r, shared);
  if (depth <= 0 || roll < 0.45) return pick(r, SCALARS);
  let value: unknown;
  if (roll < 0.7) {
    value = Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth - 1, shared));
  } else {
    const obj: Record<string, unknown> = {};
    for (let i = Math.floor(r() * 5); i > 0; i--) obj[pick(r, KEYS)] = randomValue(r, depth - 1, shared);
    value = obj;
  }
  if (r() < 0.3) shared.push(value);
  return value;
}

function randomConfig(r: () => number, shared: unknown[]): unknown {
  const program = (): Record<string, unknown> => {
    const p: Record<string, unknown> = { name: r() < 0.8 ? pick(r, ['a', 'b', 'c', 'svc.1']) : randomValue(r, 1, shared), command: r() < 0.8 ? ['sh', '-c', 'x'] : randomValue(r, 2, shared) };
    for (const key of ['env', 'cwd', 'restart', 'restart-delay', 'stop', pick(r, KEYS)]) if (r() < 0.3) p[key] = randomValue(r, 2, shared);
    if (r() < 0.3) p.env = r() < 0.5 ? { A: pick(r, SCALARS), B_2: 'x' } : ['A=1', pick(r, SCALARS)];
    return p;
  };
  const top: Record<string, unknown> = {};
  if (r() < 0.5) top.memlogd = r() < 0.7 ? { 'max-lines': pick(r, SCALARS), 'socket-log': pick(r, SCALARS) } : randomValue(r, 2, shared);
  if (r() < 0.7) top.onboot = Array.from({ length: Math.floor(r() * 3) }, program);
  if (r() < 0.8) top.services = Array.from({ length: Math.floor(r() * 4) }, program);
  if (r() < 0.3) top[pick(r, KEYS)] = randomValue(r, 3, shared);
  return top;
}

function mutate(r: () => number, text: string): string {
  let s = text;
  for (let n = Math.floor(r() * 4); n > 0; n--) {
    const at = Math.floor(r() * (s.length + 1));
    const op = r();
    if (op < 0.4) s = s.slice(0, at) + pick(r, TOKENS) + s.slice(at);
    else if (op < 0.7) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(r() * 5));
    else s = s.slice(0, at) + String.fromCharCode(Math.floor(r() * 0x3000)) + s.slice(at);
  }
  return s;
}

/** Billion laughs: each level aliases the one before ten times (10^levels "lol"s if expanded). */
function aliasBomb(levels: number, where: 'unknown' | 'command' | 'env' | 'run-dir'): string {
  const defs = [`&l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]`];
  for (let i = 1; i < levels; i++) defs.push(`&l${i} [${Array(10).fill(`*l${i - 1}`).join(', ')}]`);
  const all = `[${defs.join(', ')}, *l${levels - 1}]`;
  switch (where) {
    case 'unknown':
      return `bomb: ${all}\n`;
    case 'command':
      return `onboot:\n  - name: a\n    command: ${all}\n`;
    case 'env':
      return `services:\n  - name: a\n    command: [x]\n    env: ${all}\n`;
    case 'run-dir':
      return `run-dir: ${all}\n`;
  }
}

/** Every service the same aliased map (with a wide aliased command): no exponential shape is valid, but this is quadratic. */
function wideAliases(n: number): string {
  return `onboot:\n  - name: a\n    command: &c [${Array(n).fill('x').join(',')}]\nservices:\n${Array.from({ length: n }, (_, i) => `  - {name: s${i}, command: *c}\n`).join('')}`;
}

// An input that sent the parser into a loop or an expansion would hang: the test's timeout is the guard.
test('random and hostile input ends in a ConfigError or a valid config', { timeout: 300_000 }, () => {
  const r = seeded(0x6d656d6c);
  const inputs: [string, string][] = [];
  for (let i = 0; i < 600; i++) {
    const bytes = Buffer.from(Array.from({ length: Math.floor(r() * 200) }, () => Math.floor(r() * 256)));
    inputs.push([`random bytes #${i}`, bytes.toString(r() < 0.5 ? 'utf8' : 'latin1')]);
  }
  for (let i = 0; i < 600; i++) {
    inputs.push([`token soup #${i}`, Array.from({ length: Math.floor(r() * 60) }, () => pick(r, TOKENS)).join('')]);
  }
  for (let i = 0; i < 1500; i++) {
    const shared: unknown[] = [];
    const value = r() < 0.6 ? randomConfig(r, shared) : randomValue(r, 5, shared);
    let text: string;
    try {
      text = stringify(value, { aliasDuplicateObjects: true });
    } catch {
      continue; // a cycle through shared objects; not our concern
    }
    inputs.push([`stringified #${i}`, text]);
    inputs.push([`mutated #${i}`, mutate(r, text)]);
  }
  for (const depth of [100, 1000, 20_000]) {
    inputs.push([`deep flow lists ${depth}`, `services: ${'['.repeat(depth)}${']'.repeat(depth)}\n`]);
    inputs.push([`deep flow maps ${depth}`, `memlogd: ${'{a: '.repeat(depth)}x${'}'.repeat(depth)}\n`]);
    // Block nesting costs its depth in indentation on every line, so less of it.
    const block = Math.min(depth, 2000);
    inputs.push([`deep block lists ${block}`, `services:\n${Array.from({ length: block }, (_, i) => `${' '.repeat(i + 1)}- `).join('\n')}x\n`]);
    inputs.push([`unclosed ${depth}`, `onboot: ${'[{'.repeat(depth)}\n`]);
  }
  for (const n of ['1' + '0'.repeat(400), '9'.repeat(5000), '1e99999', '-0', '0o777777777777777777777', '0x' + 'f'.repeat(300), '.inf', '-.inf', '.nan']) {
    inputs.push([`number ${n.slice(0, 20)}`, `shutdown-grace: ${n}\nmemlogd:\n  max-lines: ${n}\nservices:\n  - name: a\n    command: [x]\n    restart-delay: ${n}\n    env: {A: ${n}}\n`]);
  }
  for (const where of ['unknown', 'command', 'env', 'run-dir'] as const) {
    for (const levels of [3, 9, 20]) inputs.push([`alias bomb ${where} ${levels}`, aliasBomb(levels, where)]);
  }
  inputs.push(['many aliases of a wide list', wideAliases(5000)]);
  inputs.push(['a wide map', `services:\n  - name: a\n    command: [x]\n    env:\n${Array.from({ length: 30_000 }, (_, i) => `      K${i}: v\n`).join('')}`]);
  inputs.push(['a long string', `services:\n  - name: a\n    command: ["${'x'.repeat(2_000_000)}"]\n`]);

  assert.ok(inputs.length >= 3000, `only ${inputs.length} inputs`);
  let valid = 0;
  for (const [label, text] of inputs) {
    try {
      const config = parseConfig(text, 'fuzz.yml', '/base');
      valid++;
      // Whatever parses must hold what the init relies on.
      for (const p of [...config.onboot, ...config.services]) {
        assert.match(p.name, /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, label);
        assert.ok(p.command.length > 0 && p.command.every((a) => typeof a === 'string') && p.command[0] !== '', label);
        for (const [k, v] of Object.entries(p.env)) assert.ok(/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) && typeof v === 'string', label);
      }
      for (const s of config.services) assert.ok(s.restartDelayMs >= 1 && s.restartDelayMs <= 3_600_000, label);
      assert.equal(new Set(config.services.map((s) => s.name)).size, config.services.length, label);
      assert.ok(path.isAbsolute(config.runDir) && path.isAbsolute(config.logDir), label);
    } catch (err) {
      if (!(err instanceof ConfigError)) assert.fail(`${label}: threw ${String(err)}\n--- input ---\n${text.slice(0, 500)}`);
      assert.match(err.message, /^fuzz\.yml(:\d+)?: \S/, label);
    }
  }
  // Some of the generated configs are valid, so the checks above ran on real results.
  assert.ok(valid > 20, `only ${valid} valid configs`);
});

test('memlogd.syslog and memlogd.syslog-stream: paths resolved against the base directory, handed to memlogd', () => {
  const config = parseConfig('memlogd:\n  syslog: ./run/log\n  syslog-stream: /run/syslog-stream\n', 'boot.yml', '/base');
  assert.equal(config.memlogd?.syslog, '/base/run/log');
  assert.equal(config.memlogd?.syslogStream, '/run/syslog-stream');
  assert.equal(parseConfig('memlogd: {}\n', 'boot.yml', '/base').memlogd?.syslog, undefined);
});

test('memlogd.kmsg: true or false, nothing else, each with a clear message', () => {
  assert.equal(parseConfig('memlogd:\n  kmsg: true\n', 'boot.yml', '/base').memlogd?.kmsg, true);
  assert.equal(parseConfig('memlogd:\n  kmsg: false\n', 'boot.yml', '/base').memlogd?.kmsg, false);
  assert.equal(parseConfig('memlogd: {}\n', 'boot.yml', '/base').memlogd?.kmsg, undefined);
  assert.equal(errorOf('memlogd:\n  kmsg: 3\n'), 'boot.yml:2: memlogd.kmsg: must be true or false (got number 3)');
  assert.equal(errorOf('memlogd:\n  max-lines: 10\n  kmsg: "yes"\n'), 'boot.yml:3: memlogd.kmsg: must be true or false (got string "yes")');
  assert.equal(errorOf('memlogd:\n  kmsg:\n'), 'boot.yml:2: memlogd.kmsg: must be true or false (got null)');
  assert.equal(errorOf('memlogd:\n  kmsg: [true]\n'), 'boot.yml:2: memlogd.kmsg: must be true or false (got a list)');
});

test('memlogd.kmsg: true reaches memlogd: the init starts it with -kmsg, and it reads the kernel log or says in one line why not', { timeout: 60_000 }, async (t) => {
  const dir = tmpdir(t);
  const config = writeConfig(dir, 'memlogd:\n  kmsg: true\nservices:\n  - name: idle\n    command: [sleep, "60"]\n');
  const init = startInit(t, dir, config);
  const query = path.join(dir, 'run', 'memlogdq.sock');
  await waitFor('memlogd to answer', async () => (await dump(query)).some((e) => e.msg === 'memlogd started'));
  const memlogd = processesWith(BIN('memlogd'), init.proc.pid);
  assert.equal(memlogd.length, 1, memlogd.join('\n'));
  assert.match(memlogd[0], / -kmsg( |$)/);
  // What -kmsg does depends on the machine: entries of source kmsg where /dev/kmsg is readable, else the one line.
  const effect = await waitFor('kmsg entries, or the line saying the kernel log is not collected', async () => {
    if ((await dump(query)).some((e) => e.source === 'kmsg')) return 'kmsg entries';
    return /^memlogd: -kmsg: cannot read \/dev\/kmsg: .*; the kernel log is not collected$/m.test(init.stderr()) && 'the line';
  });
  t.diagnostic(`memlogd -kmsg gave ${effect}`);
  init.proc.kill('SIGTERM');
  assert.equal(await init.done, 0, init.stderr());
});

test('memlogd.compress-ring: false reaches memlogd, whose status then says its ring is raw; true or false only', { timeout: 60_000 }, async (t) => {
  assert.equal(parseConfig('memlogd:\n  compress-ring: false\n', 'boot.yml', '/base').memlogd?.compressRing, false);
  assert.equal(parseConfig('memlogd: {}\n', 'boot.yml', '/base').memlogd?.compressRing, undefined);
  assert.equal(errorOf('memlogd:\n  compress-ring: off\n'), 'boot.yml:2: memlogd.compress-ring: must be true or false (got string "off")');
  for (const [value, compressed] of [['false', false], ['true', true]] as const) {
    const dir = tmpdir(t);
    const config = writeConfig(dir, `memlogd:\n  compress-ring: ${value}\nservices:\n  - name: idle\n    command: [sleep, "60"]\n`);
    const init = startInit(t, dir, config);
    const query = path.join(dir, 'run', 'memlogdq.sock');
    await waitFor('memlogd to answer', async () => (await dump(query)).some((e) => e.msg === 'memlogd started'));
    const r = await run(process.execPath, [BIN('memlog'), 'status', '-socket', query]);
    assert.equal((JSON.parse(r.stdout) as { ring: { compressed: boolean } }).ring.compressed, compressed);
    init.proc.kill('SIGTERM');
    assert.equal(await init.done, 0, init.stderr());
  }
});
