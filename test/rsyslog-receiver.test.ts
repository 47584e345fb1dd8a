/**
 * The rsyslog receiver harness itself (test/rsyslog-receiver.ts): one RFC 5424
 * message, octet-counted (RFC 6587), over plain TCP and over TLS verified with
 * the harness's CA, comes out with rsyslog's parse of every field; a restart
 * keeps the ports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import fs from 'node:fs';
import { tmpdir } from './helpers.js';
import { skipLoudly } from './peers.js';
import { receiverPeers, startRsyslog, type ReceivedMessage } from './rsyslog-receiver.js';

function octetCounted(msg: string): Buffer {
  const body = Buffer.from(msg, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `), body]);
}

/** Writes the bytes and ends the connection; resolves once the peer saw the end. */
function sendOver(socket: net.Socket, bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.end(bytes, () => resolve());
  });
}

function connected(socket: net.Socket, event: 'connect' | 'secureConnect'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.once(event, () => resolve(socket));
  });
}

const expected = (input: ReceivedMessage['input'], text: string): ReceivedMessage => ({
  input,
  'app-name': 'smoke-app',
  procid: '4321',
  msgid: 'ID47',
  severity: 5,
  facility: 20,
  hostname: 'host-a.example',
  timereported: '2024-05-06T07:08:09.123456Z',
  'structured-data': '[meta sequenceId="7"][memlog@32473 daemon="d1" seq="7"]',
  msg: text,
});

const message = (text: string): string =>
  `<165>1 2024-05-06T07:08:09.123456Z host-a.example smoke-app 4321 ID47 [meta sequenceId="7"][memlog@32473 daemon="d1" seq="7"] ${text}`;

test('rsyslog receiver: an octet-counted RFC 5424 message over tcp and over TLS is parsed into its fields', async (t) => {
  const found = await receiverPeers(['tcp', 'tls']);
  if ('why' in found) return skipLoudly(t, found.why);
  const dir = tmpdir(t);
  const r = await startRsyslog(dir, { inputs: ['tcp', 'tls'], rsyslogd: found.rsyslogd, t });

  // Two messages in one write over tcp: the framing, not the write, delimits them; one holds a line break.
  const plain = await connected(net.connect({ host: '127.0.0.1', port: r.ports.tcp! }), 'connect');
  await sendOver(plain, Buffer.concat([octetCounted(message('hello over tcp')), octetCounted(message('two\nlines'))]));

  const secure = await connected(
    tls.connect({ host: '127.0.0.1', port: r.ports.tls!, servername: 'localhost', ca: fs.readFileSync(r.caFile) }),
    'secureConnect',
  );
  assert.equal((secure as tls.TLSSocket).authorized, true);
  await sendOver(secure, octetCounted(message('hello over tls')));

  const got = await r.waitForMessages(3);
  const byMsg = (m: string): ReceivedMessage | undefined => got.find((g) => g.msg === m);
  assert.deepEqual(byMsg('hello over tcp'), expected('tcp', 'hello over tcp'));
  // rsyslog escapes control characters on receipt.
  assert.deepEqual(byMsg('two#012lines'), expected('tcp', 'two#012lines'));
  assert.deepEqual(byMsg('hello over tls'), expected('tls', 'hello over tls'));
  assert.equal(got.length, 3);
});

test('rsyslog receiver: restart comes back on the same ports, kill -9 leaves what was written', async (t) => {
  const found = await receiverPeers(['tcp', 'relp']);
  if ('why' in found) return skipLoudly(t, found.why);
  const dir = tmpdir(t);
  const r = await startRsyslog(dir, { inputs: ['tcp', 'relp'], rsyslogd: found.rsyslogd, t });
  const ports = { ...r.ports };
  const first = r.pid();

  const s1 = await connected(net.connect({ host: '127.0.0.1', port: r.ports.tcp! }), 'connect');
  await sendOver(s1, octetCounted(message('before')));
  await r.waitForMessages(1);

  await r.kill9();
  assert.equal(r.pid(), -1);
  await r.restart();
  assert.notEqual(r.pid(), first);
  assert.deepEqual(r.ports, ports);

  const s2 = await connected(net.connect({ host: '127.0.0.1', port: r.ports.tcp! }), 'connect');
  await sendOver(s2, octetCounted(message('after')));
  const got = await r.waitForMessages(2);
  assert.deepEqual(got.map((g) => g.msg), ['before', 'after']);
  await r.stop();
  assert.equal(r.pid(), -1);
});
