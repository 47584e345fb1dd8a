/**
 * rsyslogd run privately: its own config, pidfile, work directory and
 * imuxsock socket, writing every message it gets to one file; never the
 * system's /dev/log or files. The bench measures it next to memlogd; the
 * syslog peer tests use it as the reference parser.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
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
