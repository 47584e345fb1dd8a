/**
 * The daemon under test, started from a command template:
 *   'node bin/memlogd -socket-log {log} -socket-query {query} -max-lines {maxLines} -max-bytes {maxBytes}'
 * The template is split into words as a shell would (quotes and backslashes,
 * nothing else: no variables, no globbing), then the placeholders are
 * replaced in each word, and the command is executed directly (no shell), in
 * the repository's root: so the process measured through /proc/<pid> is the
 * daemon itself. {log} and {query} are socket paths in the scenario's
 * temporary directory; a template without {query} is a daemon without a
 * query socket (the transport scenario's null reader). The daemon's stdout
 * goes to /dev/null; its stderr is kept, shown if it says anything.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { exited, sleep, spawnTracked, stopChild, type Scope } from './children.js';
import { ROOT } from './paths.js';

export const DEFAULT_TEMPLATE = 'node bin/memlogd -socket-log {log} -socket-query {query} -max-lines {maxLines} -max-bytes {maxBytes}';
export const DEFAULT_MAX_LINES = 5000;
export const DEFAULT_MAX_BYTES = 16 * 1024 * 1024;

const PLACEHOLDERS = ['log', 'query', 'maxLines', 'maxBytes'] as const;
type Placeholder = (typeof PLACEHOLDERS)[number];

/** Splits a command line into words: whitespace separates, '...' and "..." quote, \ escapes. */
export function splitWords(template: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === '\\' && i + 1 < template.length && '"\\$`'.includes(template[i + 1])) word += template[++i];
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < template.length) {
      word += template[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote) throw new Error(`daemon template: unterminated ${quote} quote`);
  if (inWord) words.push(word);
  if (words.length === 0) throw new Error('daemon template is empty');
  return words;
}

/** Checks a template once, before any scenario runs: its words split and its placeholders are known ones. */
export function checkTemplate(template: string): void {
  for (const word of splitWords(template)) {
    for (const m of word.matchAll(/\{([^}]*)\}/g)) {
      if (!(PLACEHOLDERS as readonly string[]).includes(m[1])) {
        throw new Error(`daemon template: unknown placeholder {${m[1]}} (known: ${PLACEHOLDERS.map((p) => `{${p}}`).join(' ')})`);
      }
    }
  }
  if (!template.includes('{log}')) throw new Error('daemon template: {log} is missing (the log socket path must be given to the daemon)');
}

export function hasQuerySocket(template: string): boolean {
  return template.includes('{query}');
}

export function expandTemplate(template: string, values: Record<Placeholder, string>): string[] {
  return splitWords(template).map((w) => w.replace(/\{(log|query|maxLines|maxBytes)\}/g, (_, k: Placeholder) => values[k]));
}

export interface DaemonConfig {
  template: string;
  maxLines?: number;
  maxBytes?: number;
  /** Words put after the template's (a flag of the daemon under test, as -compress-ring=false). */
  args?: string[];
  /** The daemon prints on stderr on purpose (the null reader's count): do not echo it. */
  quiet?: boolean;
}

export interface DaemonExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** What the daemon printed on stderr (the last 64 KiB). */
  output: string;
}

export class Daemon {
  /** ms from spawn() to both sockets ready. */
  readyMs = NaN;
  private stopped = false;

  private constructor(
    readonly child: ChildProcess,
    readonly pid: number,
    readonly command: string[],
    readonly logSocket: string,
    readonly querySocket: string | undefined,
    private readonly outputFile: string,
    private readonly config: DaemonConfig,
  ) {}

  /** Starts the daemon and resolves once its sockets are ready (the log socket exists, the query socket accepts). */
  static async start(scope: Scope, config: DaemonConfig): Promise<Daemon> {
    const logSocket = path.join(scope.dir, 'log.sock');
    const querySocket = hasQuerySocket(config.template) ? path.join(scope.dir, 'query.sock') : undefined;
    const command = expandTemplate(config.template, {
      log: logSocket,
      query: querySocket ?? '',
      maxLines: String(config.maxLines ?? DEFAULT_MAX_LINES),
      maxBytes: String(config.maxBytes ?? DEFAULT_MAX_BYTES),
    }).concat(config.args ?? []);
    // stdout goes nowhere (upstream memlogd prints every entry there, which would make the
    // bench measure a file write per line); stderr is kept, for errors and crashes.
    const outputFile = path.join(scope.dir, 'daemon.err');
    const out = fs.openSync(outputFile, 'w');
    let child: ChildProcess;
    const t0 = process.hrtime.bigint();
    try {
      child = spawnTracked(command[0], command.slice(1), { cwd: ROOT, stdio: ['ignore', 'ignore', out] });
    } finally {
      fs.closeSync(out);
    }
    scope.adopt(child);
    const spawnError = new Promise<never>((_, reject) => child.once('error', (err) => reject(new Error(`cannot start the daemon (${command[0]}): ${err.message}`))));
    spawnError.catch(() => {});
    const pid = await Promise.race([new Promise<number>((r) => child.once('spawn', () => r(child.pid as number))), spawnError]);
    const daemon = new Daemon(child, pid, command, logSocket, querySocket, outputFile, config);
    await Promise.race([daemon.waitReady(), spawnError]);
    daemon.readyMs = Number(process.hrtime.bigint() - t0) / 1e6;
    return daemon;
  }

  private async waitReady(): Promise<void> {
    const deadline = Date.now() + 15_000;
    const check = (): void => {
      this.assertAlive();
      if (Date.now() > deadline) throw new Error(`daemon not ready within 15 s${this.tail()}`);
    };
    while (!fs.existsSync(this.logSocket)) {
      check();
      await sleep(1);
    }
    if (this.querySocket === undefined) return;
    while (!(await accepts(this.querySocket))) {
      check();
      await sleep(1);
    }
  }

  /** Throws, with what the daemon printed, if it has exited (crashed) before it was asked to. */
  assertAlive(): void {
    if (!this.stopped && exited(this.child)) {
      throw new Error(`the daemon exited by itself (${this.child.signalCode ?? `status ${this.child.exitCode}`}): ${this.command.join(' ')}${this.tail()}`);
    }
  }

  requireQuery(): string {
    if (this.querySocket === undefined) throw new Error('this scenario needs a query socket, and the daemon template has no {query}');
    return this.querySocket;
  }

  output(): string {
    try {
      const text = fs.readFileSync(this.outputFile, 'utf8');
      return text.slice(-65536);
    } catch {
      return '';
    }
  }

  private tail(): string {
    const out = this.output().trim();
    return out ? `; it printed:\n${out.slice(-2000)}` : '';
  }

  /** SIGTERM (SIGKILL after 3 s); resolves with how it ended and what it printed. Throws if it had crashed before. */
  async stop(): Promise<DaemonExit> {
    this.assertAlive();
    this.stopped = true;
    await stopChild(this.child, 3000);
    const output = this.output();
    if (output.trim() !== '' && !this.config.quiet) {
      process.stderr.write(`\n  (the daemon's stderr: ${output.trim().slice(0, 1000)})\n  `);
    }
    return { code: this.child.exitCode, signal: this.child.signalCode, output };
  }
}

function accepts(socketPath: string): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const s = net.connect(socketPath);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
