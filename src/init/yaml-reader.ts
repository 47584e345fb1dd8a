/**
 * Reads values out of a parsed YAML document with their positions, so every
 * problem is a ConfigError naming the file, the line and the field. Knows
 * nothing of the init's sections: it checks map keys against a list it is
 * given and reads strings, numbers, paths and environment maps.
 *
 * The YAML is walked as the library's node tree (not turned into plain
 * objects first) so that each value still knows its line. Aliases are
 * followed through our own anchor table rather than doc.toJS(), the one place
 * where the library's maxAliasCount applies: the walk only ever descends a
 * few levels of known shape, and a budget on nodes reached through aliases
 * bounds the rest, so an alias bomb costs next to nothing.
 */
import path from 'node:path';
import { isAlias, isMap, isNode, isPair, isScalar, isSeq, type Alias, type LineCounter, type Scalar, type YAMLMap, type YAMLSeq } from 'yaml';
import { ConfigError } from './config-model.js';

const ENV_KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Nodes the walk may reach through aliases, beyond the document's own. */
const MAX_ALIAS_EXPANSION = 10_000;

type Resolved = Scalar | YAMLMap | YAMLSeq;

/** A value in the walk: its node (undefined for a missing value), where it is, and its field path. */
export interface Value {
  node: Resolved | undefined;
  offset: number | undefined;
  field: string;
}

export interface Entry {
  keyOffset: number | undefined;
  value: Value;
}

/** An own property even for names like __proto__, which plain assignment would not create. */
function setOwn(obj: Record<string, string>, key: string, value: string): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function offsetOf(node: unknown): number | undefined {
  return isNode(node) && node.range ? node.range[0] : undefined;
}

export function join(parent: string, key: string): string {
  return parent ? `${parent}.${key}` : key;
}

function cut(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

export function quote(s: string): string {
  return JSON.stringify(cut(s));
}

/** What a value is, for "expected X (got Y)". */
export function describe(node: Resolved | undefined): string {
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

/** The text of a string scalar, or undefined for anything else. */
export function stringValue(node: Resolved | undefined): string | undefined {
  return isScalar(node) && typeof node.value === 'string' ? node.value : undefined;
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

export class YamlReader {
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

  /** true or false, nothing else: `kmsg: yes` is a string to YAML 1.2, and `3` no answer. */
  bool(v: Value): boolean {
    const b = isScalar(v.node) ? v.node.value : undefined;
    if (typeof b !== 'boolean') this.fail(v.offset, v.field, `must be true or false (got ${describe(v.node)})`);
    return b;
  }

  whole(v: Value, max: number): number {
    return this.number(v, `a whole number from 1 to ${max}`, (n) => Number.isInteger(n) && n >= 1 && n <= max);
  }

  /** Resolved against the directory `memlog init` runs in. */
  path(v: Value): string {
    const s = this.string(v, 'a path');
    if (s === '') this.fail(v.offset, v.field, 'must be a path (got an empty string)');
    return path.resolve(this.baseDir, s);
  }

  /** Environment variables: a map of KEY: value, or (LinuxKit style) a list of "KEY=VALUE". */
  env(v: Value): Record<string, string> {
    const env: Record<string, string> = {};
    if (this.isNull(v)) return env;
    if (isSeq(v.node)) {
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
}
