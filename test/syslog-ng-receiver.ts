/**
 * syslog-ng run privately as a syslog receiver for the forwarder's tests:
 * its own config, persist, pid and control files in the test's directory,
 * listening on a loopback TCP port for RFC 5424 with octet counting
 * (RFC 6587), writing each message it parsed to a file as one JSON object
 * per line. It never reads or writes the machine's syslog.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { waitFor } from './helpers.js';

/** What syslog-ng made of one message (all values are strings, as syslog-ng's macros are). */
export interface SyslogNgMessage {
  PROGRAM: string;
  PID: string;
  MSGID: string;
  /** The severity, 0-7. */
  LEVEL_NUM: string;
  FACILITY_NUM: string;
  PRI: string;
  HOST: string;
  /** The message's own timestamp (ISO 8601, six fraction digits, in UTC). */
  ISODATE: string;
  MSG: string;
  /** The STRUCTURED-DATA: SD-ID to its params (absent without any). */
  SDATA?: Record<string, Record<string, string>>;
}

export interface SyslogNg {
  port: number;
  /** Every message written so far, in order. */
  messages(): Promise<SyslogNgMessage[]>;
  /** syslog-ng's own output (errors, warnings), for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

// format-json puts the .SDATA.* names under _SDATA (their leading dot becomes
// an underscore), nested by the dots of SD-ID.PARAM; SDATA here for short.
const TEMPLATE =
  '$(format-json --scope none PROGRAM=$PROGRAM PID=$PID MSGID=$MSGID LEVEL_NUM=$LEVEL_NUM FACILITY_NUM=$FACILITY_NUM PRI=$PRI HOST=$HOST ISODATE=$ISODATE MSG=$MSG --key .SDATA.*)\\n';

function config(port: number, output: string): string {
  if (/["\\\n]/.test(output)) throw new Error(`syslog-ng: cannot put ${JSON.stringify(output)} in a config string`);
  return [
    '@version: 3.38',
    // keep_hostname: the HOSTNAME the message says, not the peer's address; frac_digits: microseconds in ISODATE.
    'options { stats_freq(0); keep_hostname(yes); use_dns(no); use_fqdn(no); chain_hostnames(no); frac_digits(6); send_time_zone("+00:00"); log_msg_size(262144); };',
    // syslog(): RFC 5424 with octet counting (RFC 6587) on TCP.
    `source s_memlog { syslog(ip("127.0.0.1") port(${port}) transport("tcp") max_connections(100)); };`,
    `destination d_memlog { file("${output}" template("${TEMPLATE}")); };`,
    'log { source(s_memlog); destination(d_memlog); };',
    '',
  ].join('\n');
}

/** A port the kernel just gave out and took back (syslog-ng cannot tell which port 0 got it). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** One try on one port: resolves once it accepts connections; rejects (saying whether the port was taken) if it exits first. */
async function startOn(syslogNg: string, dir: string, port: number, n: number): Promise<SyslogNg> {
  const file = (name: string): string => path.join(dir, `syslog-ng-${n}.${name}`);
  const output = file('out.jsonl');
  fs.writeFileSync(file('conf'), config(port, output));
  const args = ['-F', '-e', '--no-caps', '-f', file('conf'), '-R', file('persist'), '-p', file('pid'), '-c', file('ctl')];
  const proc = spawn(syslogNg, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.once('error', (err) => (log += `\n${String(err)}`));
  const gone = (): boolean => proc.exitCode !== null || proc.signalCode !== null;
  const stop = async (): Promise<void> => {
    if (!gone()) proc.kill('SIGTERM');
    await exited;
  };
  let ready: 'up' | 'exited';
  try {
    ready = await waitFor(`syslog-ng to accept connections on 127.0.0.1:${port}`, async () => (gone() ? 'exited' : (await canConnect(port)) && 'up'));
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}: ${log.trim()}`);
  }
  if (ready === 'exited') {
    await exited;
    throw new Error(`syslog-ng exited (${proc.exitCode ?? proc.signalCode}) before accepting connections: ${log.trim()}`);
  }
  return {
    port,
    log: () => log,
    stop,
    messages: async () => {
      let text = '';
      try {
        text = await fs.promises.readFile(output, 'utf8');
      } catch {
        // Not written yet.
      }
      // A line still being written has no newline yet: only whole lines count.
      const lines = text.split('\n').slice(0, -1);
      return lines.map((line) => {
        const { _SDATA, ...fields } = JSON.parse(line) as SyslogNgMessage & { _SDATA?: SyslogNgMessage['SDATA'] };
        return _SDATA ? { ...fields, SDATA: _SDATA } : fields;
      });
    },
  };
}

/** Starts syslog-ng (the path from peers(['syslog-ng'])) with its files in dir; stop() it after the test. */
export async function startSyslogNg(syslogNg: string, dir: string): Promise<SyslogNg> {
  let last: unknown;
  // Another process may take the port between our picking it and syslog-ng binding it: then another port.
  for (let n = 0; n < 5; n++) {
    try {
      return await startOn(syslogNg, dir, await freePort(), n);
    } catch (err) {
      last = err;
      if (!/Address already in use|bind/i.test(String((err as Error).message))) throw err;
    }
  }
  throw last;
}
