/**
 * Debian's rsyslogd as the central receiver of `memlog forward`'s tests: run
 * privately (its own config, pidfile and work directory in the test's temp
 * dir; no /dev/log, no kernel log, nothing of the machine's syslog), listening
 * on loopback ports the kernel said were free with the inputs asked for:
 * imtcp (RFC 6587 octet-counted framing), imtcp with TLS (gtls), imrelp,
 * imrelp with TLS. Every message it receives is written as one JSON object per
 * line of the fields rsyslog parsed, which messages() reads back.
 *
 * The TLS inputs use a CA and a server certificate made here with openssl
 * (makeCertificates), for localhost and 127.0.0.1. relp+tls also asks the
 * client for a certificate signed by that CA (certs.clientCertFile and
 * clientKeyFile): imrelp with a certificate of its own always does.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { findProgram } from '../bench/which.js';
import { accepts, freePort } from '../bench/rsyslog.js';
import { waitFor } from './helpers.js';
import { rsyslogWithModules, type RsyslogModule } from './peers.js';

export type ReceiverInput = 'tcp' | 'tls' | 'relp' | 'relp+tls';
export const RECEIVER_INPUTS: readonly ReceiverInput[] = ['tcp', 'tls', 'relp', 'relp+tls'];

/** One message as rsyslog parsed it (RFC 5424's fields; "-" where the message had none). */
export interface ReceivedMessage {
  /** Which of our inputs it came in on. */
  input: ReceiverInput;
  'app-name': string;
  procid: string;
  msgid: string;
  severity: number;
  facility: number;
  hostname: string;
  /** RFC 3339 with the fraction the message had, in the offset it had. */
  timereported: string;
  'structured-data': string;
  msg: string;
}

export interface Certificates {
  /** The CA's certificate (what a client verifies the server with) and key. */
  caFile: string;
  caKeyFile: string;
  /** The server's certificate and key, for localhost and 127.0.0.1, signed by the CA. */
  certFile: string;
  keyFile: string;
  /** A client certificate and key signed by the same CA (CN memlog-test-client). */
  clientCertFile: string;
  clientKeyFile: string;
}

export interface RsyslogReceiver {
  /** The port of each input asked for. */
  ports: Partial<Record<ReceiverInput, number>>;
  /** The CA that signs the TLS inputs' certificate. */
  caFile: string;
  certs: Certificates;
  /** The file rsyslog writes the messages to. */
  output: string;
  /** The running rsyslogd's pid (-1 when stopped). */
  pid(): number;
  /** What rsyslogd said on stdout/stderr and in its own messages, for failure messages. */
  diagnostics(): string;
  /** Every message received so far (across restarts), in the order written. */
  messages(): ReceivedMessage[];
  /** Waits (deadline) until at least n messages were received; returns them all. */
  waitForMessages(n: number, timeoutMs?: number): Promise<ReceivedMessage[]>;
  /** Stops rsyslogd (if running) and starts it again on the same ports; resolves once they accept connections. */
  restart(): Promise<void>;
  /** Kills rsyslogd with SIGKILL and waits for it to be gone. */
  kill9(): Promise<void>;
  /** Stops rsyslogd politely (SIGTERM, then SIGKILL after a while); idempotent. */
  stop(): Promise<void>;
}

export interface ReceiverOptions {
  inputs: ReceiverInput[];
  /** The rsyslogd binary (default: found on PATH/sbin). */
  rsyslogd?: string;
  /** Stopped after the test when given. */
  t?: { after(fn: () => void | Promise<void>): void };
}

/** The rsyslog modules each input needs. */
const MODULES: Record<ReceiverInput, RsyslogModule[]> = {
  tcp: ['imtcp'],
  tls: ['imtcp', 'lmnsd_gtls'],
  relp: ['imrelp'],
  'relp+tls': ['imrelp'],
};

/** rsyslogd with what the inputs need (installed where it can be), or why it cannot be had (for skipLoudly). */
export async function receiverPeers(inputs: ReceiverInput[]): Promise<{ rsyslogd: string } | { why: string }> {
  const r = await rsyslogWithModules([...new Set(inputs.flatMap((i) => MODULES[i]))]);
  return 'why' in r ? r : { rsyslogd: r.rsyslogd };
}

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${(r.stderr || String(r.error ?? r.status)).trim()}`);
}

/** Makes a CA (named cn) in dir: returns its certificate and key files. */
export function makeCa(dir: string, name = 'ca', cn = 'memlog test CA'): { caFile: string; caKeyFile: string } {
  fs.mkdirSync(dir, { recursive: true });
  const caFile = path.join(dir, `${name}.pem`);
  const caKeyFile = path.join(dir, `${name}-key.pem`);
  openssl(
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', caKeyFile, '-out', caFile, '-days', '7', '-subj', `/CN=${cn}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    dir,
  );
  return { caFile, caKeyFile };
}

/** A certificate for `name` signed by the CA, with the extensions given (openssl x509 -extfile syntax). */
function signed(dir: string, ca: { caFile: string; caKeyFile: string }, name: string, cn: string, ext: string): { certFile: string; keyFile: string } {
  const certFile = path.join(dir, `${name}.pem`);
  const keyFile = path.join(dir, `${name}-key.pem`);
  const csr = path.join(dir, `${name}.csr`);
  const extFile = path.join(dir, `${name}.ext`);
  fs.writeFileSync(extFile, ext);
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', csr, '-subj', `/CN=${cn}`], dir);
  openssl(['x509', '-req', '-in', csr, '-CA', ca.caFile, '-CAkey', ca.caKeyFile, '-set_serial', String(Date.now()), '-out', certFile, '-days', '7', '-extfile', extFile], dir);
  return { certFile, keyFile };
}

/** A CA, a server certificate for localhost and 127.0.0.1, and a client certificate, all in dir. */
export function makeCertificates(dir: string): Certificates {
  const ca = makeCa(dir);
  const server = signed(dir, ca, 'server', 'localhost',
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n');
  const client = signed(dir, ca, 'client', 'memlog-test-client',
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n');
  return { ...ca, ...server, clientCertFile: client.certFile, clientKeyFile: client.keyFile };
}

function quote(s: string): string {
  if (/["\\\n]/.test(s)) throw new Error(`rsyslog: cannot put ${JSON.stringify(s)} in a config string`);
  return `"${s}"`;
}

// jsonf escapes what JSON needs; rsyslog has already turned control characters into #ooo on receipt (its default).
const TEMPLATE = `template(name="memlog_received" type="list" option.jsonf="on") {
  property(outname="input" name="$!input" format="jsonf")
  property(outname="app-name" name="app-name" format="jsonf")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="severity" name="syslogseverity" format="jsonf" datatype="number")
  property(outname="facility" name="syslogfacility" format="jsonf" datatype="number")
  property(outname="hostname" name="hostname" format="jsonf")
  property(outname="timereported" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="structured-data" name="structured-data" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
}`;

export function receiverConfig(o: { work: string; output: string; internal: string; ports: Partial<Record<ReceiverInput, number>>; certs: Certificates }): string {
  const lines = [
    `global(workDirectory=${quote(o.work)} maxMessageSize="64k" net.enableDNS="off")`,
    // Bigger batches than the default: the forwarder's throughput is measured through this.
    `main_queue(queue.size="200000" queue.dequeueBatchSize="2048")`,
  ];
  const tcpInputs = (['tcp', 'tls'] as const).filter((i) => o.ports[i] !== undefined);
  const relpInputs = (['relp', 'relp+tls'] as const).filter((i) => o.ports[i] !== undefined);
  if (tcpInputs.length > 0) lines.push(`module(load="imtcp")`);
  if (relpInputs.length > 0) lines.push(`module(load="imrelp")`);
  // Each input tags its messages with its name, so a test can tell which one a message came in on.
  for (const i of RECEIVER_INPUTS) {
    const port = o.ports[i];
    if (port === undefined) continue;
    const common = `address="127.0.0.1" port="${port}" name=${quote(i)} ruleset="received"`;
    if (i === 'tcp') lines.push(`input(type="imtcp" ${common} supportOctetCountedFraming="on")`);
    if (i === 'tls') {
      lines.push(
        `input(type="imtcp" ${common} supportOctetCountedFraming="on" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon"` +
          ` streamDriver.caFile=${quote(o.certs.caFile)} streamDriver.certFile=${quote(o.certs.certFile)} streamDriver.keyFile=${quote(o.certs.keyFile)})`,
      );
    }
    if (i === 'relp') lines.push(`input(type="imrelp" ${common})`);
    if (i === 'relp+tls') {
      lines.push(
        // With a certificate of its own, imrelp always authenticates its clients too (its default is by
        // fingerprint): certvalid takes any client certificate the CA signed (certs.clientCertFile).
        `input(type="imrelp" ${common} tls="on" tls.authMode="certvalid" tls.caCert=${quote(o.certs.caFile)} tls.myCert=${quote(o.certs.certFile)} tls.myPrivKey=${quote(o.certs.keyFile)})`,
      );
    }
  }
  lines.push(
    TEMPLATE,
    `ruleset(name="received") {`,
    `  set $!input = $inputname;`,
    `  action(type="omfile" file=${quote(o.output)} template="memlog_received")`,
    `}`,
    // rsyslog's own messages (errors of a session, a handshake) go to their own file, for diagnostics.
    `*.* action(type="omfile" file=${quote(o.internal)})`,
    '',
  );
  return lines.join('\n');
}

export { freePort };


const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;

/** Reads the JSON lines of a growing file, keeping a line that is not whole yet for the next call. */
class LineFile {
  private offset = 0;
  private partial = Buffer.alloc(0);
  readonly parsed: ReceivedMessage[] = [];

  constructor(private readonly file: string) {}

  read(): ReceivedMessage[] {
    let fd: number;
    try {
      fd = fs.openSync(this.file, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return this.parsed;
      throw err;
    }
    try {
      const chunks: Buffer[] = [this.partial];
      const buf = Buffer.allocUnsafe(1 << 20);
      for (;;) {
        const n = fs.readSync(fd, buf, 0, buf.length, this.offset);
        if (n === 0) break;
        chunks.push(Buffer.from(buf.subarray(0, n)));
        this.offset += n;
      }
      const all = Buffer.concat(chunks);
      let start = 0;
      for (let nl = all.indexOf(10, start); nl !== -1; nl = all.indexOf(10, start)) {
        const line = all.subarray(start, nl).toString('utf8');
        start = nl + 1;
        const j = JSON.parse(line) as Record<string, unknown>;
        // Numbers as numbers whether or not this rsyslog honours datatype="number".
        j.severity = Number(j.severity);
        j.facility = Number(j.facility);
        this.parsed.push(j as unknown as ReceivedMessage);
      }
      this.partial = Buffer.from(all.subarray(start));
    } finally {
      fs.closeSync(fd);
    }
    return this.parsed;
  }

  /** After a kill: the line rsyslog was writing will never be finished; drop it from the file. */
  dropPartial(): void {
    this.read();
    if (this.partial.length === 0) return;
    this.offset -= this.partial.length;
    fs.truncateSync(this.file, this.offset);
    this.partial = Buffer.alloc(0);
  }
}

/**
 * Starts a private rsyslogd receiving on the inputs asked for; resolves once every port accepts
 * connections. Ports are taken free from the kernel; if one was taken meanwhile, it tries again with others.
 */
export async function startRsyslog(dir: string, opts: ReceiverOptions): Promise<RsyslogReceiver> {
  const rsyslogd = opts.rsyslogd ?? findProgram('rsyslogd');
  if (!rsyslogd) throw new Error('rsyslogd not found (see receiverPeers, which installs it)');
  if (opts.inputs.length === 0) throw new Error('startRsyslog: no inputs asked for');
  const base = path.join(dir, 'rsyslog');
  const work = path.join(base, 'work');
  fs.mkdirSync(work, { recursive: true });
  const config = path.join(base, 'rsyslog.conf');
  const pidFile = path.join(base, 'rsyslog.pid');
  const output = path.join(base, 'received.jsonl');
  const internal = path.join(base, 'internal.log');
  // Made whether or not a TLS input is asked for: tests of failures want a CA at hand too.
  const certs = makeCertificates(path.join(base, 'tls'));
  const file = new LineFile(output);

  let proc: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let said = '';
  let ports: Partial<Record<ReceiverInput, number>> = {};

  const diagnostics = (): string => {
    let own = '';
    try {
      own = fs.readFileSync(internal, 'utf8').trim().split('\n').slice(-10).join('\n');
    } catch {
      // Not written yet.
    }
    return [said.trim(), own].filter(Boolean).join('\n') || '(nothing)';
  };

  const kill = async (signal: NodeJS.Signals): Promise<void> => {
    const p = proc;
    if (!p) return;
    if (p.exitCode === null && p.signalCode === null) p.kill(signal);
    if (signal !== 'SIGKILL') {
      // Politely first; one that does not exit within the deadline is killed.
      await waitFor('rsyslogd to exit', () => p.exitCode !== null || p.signalCode !== null, STOP_TIMEOUT_MS).catch(() => p.kill('SIGKILL'));
    }
    await exited;
    proc = undefined;
  };

  /** Starts rsyslogd on `ports`; resolves when all accept; rejects (rsyslogd stopped) if it exits or times out first. */
  const launch = async (): Promise<void> => {
    fs.writeFileSync(config, receiverConfig({ work, output, internal, ports, certs }));
    fs.rmSync(pidFile, { force: true });
    said = '';
    const p = spawn(rsyslogd, ['-n', '-f', config, '-i', pidFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc = p;
    p.stdout?.on('data', (d: Buffer) => (said += d.toString()));
    p.stderr?.on('data', (d: Buffer) => (said += d.toString()));
    exited = new Promise<void>((resolve) => {
      if (p.exitCode !== null || p.signalCode !== null) resolve();
      else p.once('exit', () => resolve());
    });
    const gone = (): boolean => p.exitCode !== null || p.signalCode !== null;
    for (const [input, port] of Object.entries(ports)) {
      let state: 'ready' | 'gone' | 'in use';
      try {
        state = await waitFor(
          `rsyslogd to listen on ${input} port ${port}`,
          async () => (gone() ? 'gone' : /already in use/i.test(diagnostics()) ? 'in use' : (await accepts(port)) && 'ready'),
          READY_TIMEOUT_MS,
        );
      } catch (err) {
        await kill('SIGTERM');
        throw new Error(`${(err as Error).message}: ${diagnostics()}`);
      }
      if (state === 'gone') throw new Error(`rsyslogd exited (${p.exitCode ?? p.signalCode}) before listening on ${input} port ${port}: ${diagnostics()}`);
      if (state === 'in use') {
        await kill('SIGTERM');
        throw Object.assign(new Error(`rsyslogd: ${input} port ${port} is in use: ${diagnostics()}`), { code: 'EADDRINUSE' });
      }
    }
  };

  for (let attempt = 1; ; attempt++) {
    ports = {};
    for (const i of opts.inputs) ports[i] = await freePort();
    try {
      await launch();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 5) throw err;
    }
  }

  const receiver: RsyslogReceiver = {
    ports,
    caFile: certs.caFile,
    certs,
    output,
    pid: () => proc?.pid ?? -1,
    diagnostics,
    messages: () => file.read(),
    waitForMessages: (n, timeoutMs = 60_000) =>
      waitFor(`${n} messages at rsyslog`, () => {
        const all = file.read();
        return all.length >= n && all;
      }, timeoutMs).catch((err: Error) => {
        throw new Error(`${err.message} (it has ${file.read().length}): ${diagnostics()}`);
      }),
    restart: async () => {
      await kill('SIGTERM');
      file.dropPartial();
      await launch();
    },
    kill9: async () => {
      await kill('SIGKILL');
      file.dropPartial();
    },
    stop: async () => {
      await kill('SIGTERM');
    },
  };
  opts.t?.after(() => receiver.stop());
  return receiver;
}
