/**
 * rsyslogd run privately: its own config, pidfile, work directory and
 * imuxsock socket, writing every message it gets to one file; never the
 * system's /dev/log or files. The bench measures it next to memlogd; the
 * syslog peer tests use it as the reference parser. Below, the same for
 * RELP (forward-relp): an imrelp receiver, and an imfile -> omrelp forwarder.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface RsyslogOptions {
  /** The rsyslogd binary. */
  rsyslogd: string;
  /** A private directory: config, pidfile, work directory, and (unless given) the socket and output file. */
  dir: string;
  /** The imuxsock socket to create (default DIR/rsyslog.sock). */
  socket?: string;
  /** The file every message is written to (default DIR/out). */
  output?: string;
  /**
   * 'fields': one JSON object per message with what rsyslog's own parsers
   * made of it (rfc5424 then rfc3164, hostname detection on), for comparing.
   * 'lines': TAG MSG per line, imuxsock's defaults (its fast special parser,
   * as on a stock /dev/log): for measuring.
   */
  mode: 'fields' | 'lines';
  /** How to start the process (the bench passes its tracked spawn). */
  spawn?: (command: string, args: string[], opts: SpawnOptions) => ChildProcess;
}

export interface Rsyslog {
  proc: ChildProcess;
  pid: number;
  socket: string;
  output: string;
  stderr(): string;
  stop(): Promise<void>;
}

// The fields the comparison needs, as JSON: jsonf escapes quotes and backslashes; control characters
// were already turned into #ooo by rsyslog on receipt (its default).
const FIELDS_TEMPLATE = `template(name="memlog_fields" type="list" option.jsonf="on") {
  property(outname="facility" name="syslogfacility" format="jsonf")
  property(outname="severity" name="syslogseverity" format="jsonf")
  property(outname="tag" name="syslogtag" format="jsonf")
  property(outname="programname" name="programname" format="jsonf")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="sd" name="structured-data" format="jsonf")
  property(outname="hostname" name="hostname" format="jsonf")
  property(outname="proto" name="protocol-version" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
  property(outname="raw" name="rawmsg" format="jsonf")
}`;

const LINES_TEMPLATE = `template(name="memlog_lines" type="string" string="%syslogtag%%msg%\\n")`;

function quote(s: string): string {
  if (/["\\\n]/.test(s)) throw new Error(`rsyslog: cannot put ${JSON.stringify(s)} in a config string`);
  return `"${s}"`;
}

export function rsyslogConfig(o: { dir: string; socket: string; output: string; mode: 'fields' | 'lines' }): string {
  const input =
    o.mode === 'fields'
      ? `input(type="imuxsock" Socket=${quote(o.socket)} CreatePath="on" UseSpecialParser="off" ParseHostname="on" RateLimit.Interval="0")`
      : `input(type="imuxsock" Socket=${quote(o.socket)} CreatePath="on" RateLimit.Interval="0")`;
  const action =
    o.mode === 'fields'
      ? `action(type="omfile" file=${quote(o.output)} template="memlog_fields")`
      : // omfile's defaults, as a stock config has them: written at the end of each batch the queue hands over.
        `action(type="omfile" file=${quote(o.output)} template="memlog_lines")`;
  return [
    `global(workDirectory=${quote(o.dir)} maxMessageSize="128k")`,
    // No /dev/log, no kernel log: only the socket given.
    `module(load="imuxsock" SysSock.Use="off")`,
    input,
    o.mode === 'fields' ? FIELDS_TEMPLATE : LINES_TEMPLATE,
    `*.* ${action}`,
    '',
  ].join('\n');
}

/** Starts rsyslogd in the foreground and resolves once its socket is there; rejects if it exits first. */
export async function startRsyslog(opts: RsyslogOptions): Promise<Rsyslog> {
  const socket = opts.socket ?? path.join(opts.dir, 'rsyslog.sock');
  const output = opts.output ?? path.join(opts.dir, 'out');
  const config = path.join(opts.dir, 'rsyslog.conf');
  const work = path.join(opts.dir, 'rsyslog-work');
  fs.mkdirSync(work, { recursive: true });
  fs.writeFileSync(config, rsyslogConfig({ dir: work, socket, output, mode: opts.mode }));
  const proc = (opts.spawn ?? spawn)(opts.rsyslogd, ['-n', '-f', config, '-i', path.join(opts.dir, 'rsyslog.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stdout?.on('data', (d: Buffer) => (stderr += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const r: Rsyslog = {
    proc,
    pid: proc.pid ?? -1,
    socket,
    output,
    stderr: () => stderr,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
  const deadline = Date.now() + 30_000;
  while (!fs.existsSync(socket)) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`rsyslogd exited (${proc.exitCode ?? proc.signalCode}) before creating ${socket}: ${stderr.trim()}`);
    if (Date.now() > deadline) {
      await r.stop();
      throw new Error(`rsyslogd did not create ${socket} within 30 s: ${stderr.trim()}`);
    }
    await new Promise((res) => setTimeout(res, 10));
  }
  return r;
}

/*
 * RELP on loopback, for the forward-relp scenario: an rsyslogd receiving with
 * imrelp, and an rsyslogd forwarding a file with imfile and omrelp. Both
 * have the same main queue; the receiver writes one short constant line per
 * message (omfile, template "m"), so that it costs little and the file is
 * counted quickly.
 */

/** The main queue of every rsyslogd here: room for a burst, and big batches (the same for all). */
const RELP_QUEUE = `main_queue(queue.size="200000" queue.dequeueBatchSize="1024")`;

/** Where rsyslog keeps its modules: the directory of imtcp.so as `dpkg -L rsyslog` lists it, else Debian's usual one. */
export function rsyslogModuleDir(): string {
  const r = spawnSync('dpkg', ['-L', 'rsyslog'], { encoding: 'utf8', timeout: 30_000 });
  const line = (r.stdout ?? '').split('\n').find((l) => l.endsWith('/imtcp.so'));
  if (line) return path.dirname(line);
  return `/usr/lib/${os.arch() === 'x64' ? 'x86_64' : os.arch()}-linux-gnu/rsyslog`;
}

const MODULE_PACKAGE: Record<string, string> = { imrelp: 'rsyslog-relp', omrelp: 'rsyslog-relp', imfile: 'rsyslog' };

/** Why the modules cannot be loaded (which are missing, and their package), or undefined when all are there. */
export function missingModules(names: string[]): string | undefined {
  const dir = rsyslogModuleDir();
  const missing = names.filter((n) => !fs.existsSync(path.join(dir, `${n}.so`)));
  if (missing.length === 0) return undefined;
  const packages = [...new Set(missing.map((n) => MODULE_PACKAGE[n] ?? 'rsyslog'))];
  return `rsyslog's ${missing.map((n) => `${n}.so`).join(', ')} not in ${dir} (apt-get install ${packages.join(' ')})`;
}

/** A port on loopback the kernel says is free now (bound to port 0, then closed; the caller retries if it is taken meanwhile). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Whether something accepts a TCP connection on the loopback port now. */
export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      s.destroy();
      resolve(false);
    });
  });
}

export interface RelpRsyslog extends Omit<Rsyslog, 'socket'> {
  /** The imrelp port (receiver) or the port it sends to (forwarder). */
  port: number;
  /** rsyslogd's own messages (errors of a session), for failure messages. */
  internal(): string;
}

export function relpReceiverConfig(o: { work: string; port: number; output: string; internal: string }): string {
  return [
    `global(workDirectory=${quote(o.work)} maxMessageSize="64k" net.enableDNS="off")`,
    RELP_QUEUE,
    `module(load="imrelp")`,
    `input(type="imrelp" address="127.0.0.1" port="${o.port}" ruleset="received")`,
    `template(name="memlog_count" type="string" string="m\\n")`,
    `ruleset(name="received") {`,
    `  action(type="omfile" file=${quote(o.output)} template="memlog_count")`,
    `}`,
    `*.* action(type="omfile" file=${quote(o.internal)})`,
    '',
  ].join('\n');
}

export function relpForwarderConfig(o: { work: string; input: string; port: number; window: number; internal: string }): string {
  return [
    `global(workDirectory=${quote(o.work)} maxMessageSize="64k" net.enableDNS="off")`,
    RELP_QUEUE,
    `module(load="imfile")`,
    `module(load="omrelp")`,
    // From the file's first line (no state file yet in the fresh work directory), each line a message.
    `input(type="imfile" file=${quote(o.input)} tag="corpus" ruleset="forward")`,
    `ruleset(name="forward") {`,
    `  action(type="omrelp" target="127.0.0.1" port="${o.port}" windowSize="${o.window}")`,
    `}`,
    `*.* action(type="omfile" file=${quote(o.internal)})`,
    '',
  ].join('\n');
}

/** rsyslogd -n with config text in dir (its pidfile there too). */
function launch(rsyslogd: string, dir: string, config: string, port: number, output: string, spawnFn: RsyslogOptions['spawn']): RelpRsyslog {
  const file = path.join(dir, 'rsyslog.conf');
  fs.writeFileSync(file, config);
  const internalFile = path.join(dir, 'internal.log');
  const proc = (spawnFn ?? spawn)(rsyslogd, ['-n', '-f', file, '-i', path.join(dir, 'rsyslog.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stdout?.on('data', (d: Buffer) => (stderr += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return {
    proc,
    pid: proc.pid ?? -1,
    port,
    output,
    stderr: () => stderr,
    internal: () => {
      try {
        return fs.readFileSync(internalFile, 'utf8').trim().split('\n').slice(-5).join('\n');
      } catch {
        return '';
      }
    },
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

function gone(r: RelpRsyslog): boolean {
  return r.proc.exitCode !== null || r.proc.signalCode !== null;
}

/** An rsyslogd receiving RELP on a free loopback port, one line per message into output; resolves once the port accepts. */
export async function startRelpReceiver(opts: { rsyslogd: string; dir: string; output: string; spawn?: RsyslogOptions['spawn'] }): Promise<RelpRsyslog> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const work = path.join(opts.dir, 'work');
    fs.mkdirSync(work, { recursive: true });
    const config = relpReceiverConfig({ work, port, output: opts.output, internal: path.join(opts.dir, 'internal.log') });
    const r = launch(opts.rsyslogd, opts.dir, config, port, opts.output, opts.spawn);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const said = (): string => [r.stderr().trim(), r.internal()].filter(Boolean).join(' / ');
      if (gone(r)) throw new Error(`rsyslogd (imrelp) exited (${r.proc.exitCode ?? r.proc.signalCode}) before listening on port ${port}: ${said()}`);
      if (await accepts(port)) return r;
      if (/already in use/i.test(said()) && attempt < 5) {
        await r.stop();
        break; // another port
      }
      if (Date.now() > deadline) {
        await r.stop();
        throw new Error(`rsyslogd (imrelp) did not listen on port ${port} within 30 s: ${said()}`);
      }
      await new Promise((res) => setTimeout(res, 10));
    }
  }
}

/** An rsyslogd reading input from its first line (imfile) and sending every line with omrelp to port; started, not waited for. */
export function startRelpForwarder(opts: { rsyslogd: string; dir: string; input: string; port: number; window: number; spawn?: RsyslogOptions['spawn'] }): RelpRsyslog {
  const work = path.join(opts.dir, 'work');
  fs.mkdirSync(work, { recursive: true });
  const config = relpForwarderConfig({ work, input: opts.input, port: opts.port, window: opts.window, internal: path.join(opts.dir, 'internal.log') });
  return launch(opts.rsyslogd, opts.dir, config, opts.port, '', opts.spawn);
}
