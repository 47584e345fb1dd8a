/**
 * What the web page's tests (and scripts/screenshots.mjs) share: a real
 * `memlog-web` process and Debian's chromium driven by playwright-core (which
 * never downloads a browser: it is given chromium's path).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { BIN, waitFor } from './helpers.js';
import { peers } from './peers.js';

/** Whatever registers clean-ups: a node:test context, or the screenshot script's own list. */
export interface Cleanup {
  after(fn: () => void | Promise<void>): void;
}

export interface WebServer {
  proc: ChildProcess;
  /** `http://127.0.0.1:PORT/`, as the command printed it. */
  url: string;
  /** host:port, to start another on the same address. */
  listen: string;
  stderr(): string;
  stop(): Promise<void>;
}

/** Starts bin/memlog-web on listen (default: a free loopback port) for socket, and waits for the line with its URL. */
export async function startWeb(t: Cleanup, socket: string, listen = '127.0.0.1:0', flags: string[] = []): Promise<WebServer> {
  const proc = spawn(process.execPath, [BIN('memlog-web'), '-listen', listen, '-socket', socket, ...flags], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    await exited;
  };
  t.after(stop);
  const url = await waitFor(`memlog-web to print its URL (stderr: ${stderr.trim()})`, () => {
    if (proc.exitCode !== null) throw new Error(`memlog-web exited with ${proc.exitCode}: ${stderr.trim()}`);
    return /^memlog web: (http:\/\/\S+\/)$/m.exec(stdout)?.[1];
  });
  return { proc, url, listen: new URL(url).host, stderr: () => stderr, stop };
}

/** Chromium's flags for a quiet, headless run in a container (no sandbox: the tests may run as root). */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Debian's chromium, headless, closed after the test; or why it cannot be had (for skipLoudly). */
export async function launchChromium(t: Cleanup): Promise<Browser | string> {
  const found = await peers(['chromium']);
  if ('why' in found) return found.why;
  // launch() gives the browser a fresh temporary profile of its own and removes it on close.
  const browser = await chromium.launch({ executablePath: found.paths.chromium, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
  t.after(() => browser.close());
  return browser;
}

export interface WatchedPage {
  page: Page;
  context: BrowserContext;
  /** Errors the page reported: uncaught exceptions and console errors (a CSP violation is one). */
  errors: string[];
}

/** A new page in its own context, its errors collected. */
export async function openPage(browser: Browser, url: string, opts: { colorScheme?: 'light' | 'dark'; width?: number; height?: number } = {}): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport: { width: opts.width ?? 1280, height: opts.height ?? 800 }, colorScheme: opts.colorScheme ?? 'light' });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  await page.goto(url);
  return { page, context, errors };
}

/** The page's test hook (WEB-CONTRACT.md), as the tests read it. */
export interface MemlogPageHook {
  seqs(): number[];
  held(): number;
  state(): string;
}

export async function pageSeqs(page: Page): Promise<number[]> {
  return page.evaluate(() => (window as unknown as { memlogPage: MemlogPageHook }).memlogPage.seqs());
}

export async function pageState(page: Page): Promise<string> {
  return page.evaluate(() => (window as unknown as { memlogPage: MemlogPageHook }).memlogPage.state());
}
