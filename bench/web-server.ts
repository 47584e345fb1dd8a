/**
 * `memlog web` (issue 14) for the bench: bin/memlog-web on 127.0.0.1, a port
 * of the kernel's choosing, in front of a daemon's query socket. It prints
 * one line, `memlog web: http://HOST:PORT/`, once it listens; that is the
 * URL the scenario uses. Its process is the scope's: it goes when the scope
 * closes (SIGTERM).
 */
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { exited, spawnTracked, type Scope } from './children.js';
import { ROOT } from './paths.js';

const READY_MS = 15_000;

export class WebServer {
  private constructor(
    readonly child: ChildProcess,
    /** http://127.0.0.1:PORT (no trailing slash). */
    readonly base: string,
    private readonly stderr: () => string,
  ) {}

  static async start(scope: Scope, querySocket: string): Promise<WebServer> {
    const bin = path.join(ROOT, 'bin/memlog-web');
    const child = spawnTracked(process.execPath, [bin, '-listen', '127.0.0.1:0', '-socket', querySocket], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    scope.adopt(child);
    let err = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (s: string) => (err = (err + s).slice(-2000)));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`memlog web printed no URL within ${READY_MS / 1000} s${err ? `: ${err.trim()}` : ''}`)), READY_MS);
      const lines = readline.createInterface({ input: child.stdout as NodeJS.ReadableStream });
      lines.once('line', (line) => {
        clearTimeout(timer);
        const m = /^memlog web: (http:\/\/\S+?)\/?$/.exec(line.trim());
        if (m) resolve(m[1]);
        else reject(new Error(`memlog web's first line is not its URL: ${line.slice(0, 200)}`));
      });
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(new Error(`cannot start memlog web: ${e.message}`));
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`memlog web exited (${signal ?? `status ${code}`})${err ? `: ${err.trim()}` : ''}`));
      });
    });
    // Anything more on stdout: drained, so a chatty server never blocks on a full pipe.
    child.stdout?.resume();
    return new WebServer(child, url, () => err);
  }

  /** Throws, with what it printed, if it has exited before it was asked to. */
  assertAlive(): void {
    if (exited(this.child)) throw new Error(`memlog web exited by itself (${this.child.signalCode ?? `status ${this.child.exitCode}`})${this.stderr() ? `: ${this.stderr().trim()}` : ''}`);
  }
}
