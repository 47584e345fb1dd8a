/**
 * memlog web's safety: no start off loopback without -token; the token on
 * every endpoint (bearer, or the cookie /?token= sets); the security headers
 * on every answer, errors included; GET and HEAD only; the page's files and
 * nothing beside them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startWebServer, type WebServer } from '../src/web/server.js';
import { BIN, run, startDaemon, tmpdir } from './helpers.js';
import { EventReader, request, startWeb, type Answer } from './web-helpers.js';

const TOKEN = 'k3y-For.the_tests~0123456789';
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const ENDPOINTS = ['/', '/?source=x', '/api/entries', '/api/follow', '/api/status', '/metrics', '/api/bundle', '/assets/app.js', '/assets/nothing.js', '/nowhere'];

function assertSecurityHeaders(a: Answer, what: string): void {
  assert.equal(a.headers['content-security-policy'], CSP, what);
  assert.equal(a.headers['x-content-type-options'], 'nosniff', what);
  assert.equal(a.headers['referrer-policy'], 'no-referrer', what);
}

/** A page directory with the files the page's build makes, and a secret beside it. */
function pageDir(dir: string): string {
  const page = path.join(dir, 'web');
  fs.mkdirSync(path.join(page, 'img'), { recursive: true });
  fs.writeFileSync(path.join(page, 'index.html'), '<!doctype html><title>memlog</title><script src="/assets/app.js"></script>\n');
  fs.writeFileSync(path.join(page, 'app.js'), 'console.log(1);\n');
  fs.writeFileSync(path.join(page, 'app.css'), 'body{}\n');
  fs.writeFileSync(path.join(page, 'img', 'logo.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>\n');
  fs.writeFileSync(path.join(page, '.hidden'), 'not for browsers\n');
  fs.writeFileSync(path.join(dir, 'secret.txt'), 'outside the page\n');
  fs.symlinkSync(path.join(dir, 'secret.txt'), path.join(page, 'link.txt'));
  return page;
}

async function server(t: { after(fn: () => Promise<void>): void }, opts: Partial<Parameters<typeof startWebServer>[0]> & { socket: string }): Promise<WebServer> {
  const web = await startWebServer({ host: '127.0.0.1', port: 0, log: () => {}, ...opts });
  t.after(() => web.close());
  return web;
}

test('off loopback without -token memlog web refuses to start, in one line naming -token', async (t) => {
  const dir = tmpdir(t);
  for (const listen of ['0.0.0.0:0', '[::]:0', '192.0.2.1:8080', 'example.com:80']) {
    const r = await run(BIN('memlog-web'), ['-listen', listen, '-socket', path.join(dir, 'q.sock')], { timeoutMs: 10_000 });
    assert.equal(r.code, 2, `${listen}: ${r.stderr}`);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.split('\n').length, 2, r.stderr);
    assert.match(r.stderr, /^memlog-web: .*-token/, listen);
  }
  const weak = await run(BIN('memlog-web'), ['-listen', '127.0.0.1:0', '-token', 'a b']);
  assert.equal(weak.code, 2);
  assert.match(weak.stderr, /^memlog-web: invalid value for flag -token: /);
  assert.ok(!weak.stderr.includes('a b'), 'the token is not shown');
  for (const listen of ['127.0.0.1', ':80', '127.0.0.1:99999', '[nonsense]:80', '::1:80']) {
    const r = await run(BIN('memlog-web'), ['-listen', listen]);
    assert.equal(r.code, 2, `${listen}: ${r.stderr}`);
    assert.match(r.stderr, /^memlog-web: invalid value ".*" for flag -listen: [^\n]+\n$/, listen);
  }
});

test('with -token: the bearer token is let in, a wrong or missing one is a 401 on every endpoint', async (t) => {
  const dir = tmpdir(t);
  const daemon = await startDaemon(t, dir);
  // On loopback (the tests use nothing else): a token given is required there too.
  const web = await startWeb(t, ['-listen', '127.0.0.1:0', '-socket', daemon.querySocket, '-token', TOKEN]);
  const url = web.url;
  const wrong: Record<string, string>[] = [
    {},
    { Authorization: `Bearer ${TOKEN}x` },
    { Authorization: `Bearer ${TOKEN.slice(0, -1)}` },
    { Authorization: `Basic ${Buffer.from(`user:${TOKEN}`).toString('base64')}` },
    { Authorization: TOKEN },
    { Cookie: `memlog_token=${TOKEN}x` },
    { Cookie: `other=${TOKEN}` },
  ];
  for (const p of [...ENDPOINTS, '/assets/../package.json']) {
    for (const headers of wrong) {
      for (const method of ['GET', 'HEAD', 'POST']) {
        const a = await request(url, p, { method, headers });
        const what = `${method} ${p} with ${JSON.stringify(headers)}`;
        assert.equal(a.status, 401, what);
        assert.equal(a.headers['www-authenticate'], 'Bearer', what);
        assert.equal(a.headers['content-type'], 'text/plain; charset=utf-8', what);
        assertSecurityHeaders(a, what);
        if (method !== 'HEAD') assert.match(a.text, /^unauthorized: [^\n]+\n$/, what);
      }
    }
  }
  const ok = await request(url, '/api/status', { headers: { Authorization: `Bearer ${TOKEN}` } });
  assert.equal(ok.status, 200);
  assert.equal((JSON.parse(ok.text) as { pid: number }).pid, daemon.pid);
  const metrics = await request(url, '/metrics', { headers: { Authorization: `bearer ${TOKEN}` } });
  assert.equal(metrics.status, 200);
  const entries = await request(url, '/api/entries', { headers: { Authorization: `Bearer ${TOKEN}` } });
  assert.equal(entries.status, 200);
  assert.match(entries.text, /memlogd started/);
});

test('/?token= sets the cookie and sends the browser on without the token; the cookie then lets it in', async (t) => {
  const dir = tmpdir(t);
  const daemon = await startDaemon(t, dir);
  const web = await server(t, { socket: daemon.querySocket, token: TOKEN, pageDir: pageDir(dir) });
  const set = await request(web.url, `/?source=sshd&token=${encodeURIComponent(TOKEN)}&p=err`);
  assert.equal(set.status, 303);
  assert.equal(set.headers.location, '/?source=sshd&p=err');
  assert.deepEqual(set.headers['set-cookie'], [`memlog_token=${TOKEN}; HttpOnly; SameSite=Strict; Path=/`]);
  assertSecurityHeaders(set, '303');
  const bare = await request(web.url, `/?token=${encodeURIComponent(TOKEN)}`);
  assert.equal(bare.headers.location, '/');
  const wrong = await request(web.url, `/?token=${encodeURIComponent(TOKEN)}0`);
  assert.equal(wrong.status, 401);
  assert.equal(wrong.headers['set-cookie'], undefined);
  const cookie = { Cookie: `theme=dark; memlog_token=${TOKEN}` };
  for (const p of ['/?source=sshd&p=err', '/api/status', '/metrics', '/api/entries?source=memlogd', '/assets/app.js']) {
    const a = await request(web.url, p, { headers: cookie });
    assert.equal(a.status, 200, `${p}: ${a.text}`);
  }
  // The token in the query of anything but / is not a way in.
  assert.equal((await request(web.url, `/api/status?token=${encodeURIComponent(TOKEN)}`)).status, 401);
});

test('every answer carries the Content-Security-Policy, nosniff and no-referrer headers, errors included', async (t) => {
  const dir = tmpdir(t);
  const daemon = await startDaemon(t, dir);
  const web = await server(t, { socket: daemon.querySocket, pageDir: pageDir(dir) });
  const down = await server(t, { socket: path.join(dir, 'none.sock'), pageDir: path.join(dir, 'not-built') });
  const answers: [string, Answer, number][] = [];
  // An event stream does not end: its headers are looked at, then it is closed.
  for (const p of ENDPOINTS.filter((e) => e !== '/api/follow')) answers.push([p, await request(web.url, p), 0]);
  const es = await EventReader.open(web.url, '/api/follow');
  es.close();
  assert.equal(es.status, 200);
  answers.push(['/api/follow', { status: es.status, headers: es.headers, body: Buffer.alloc(0), text: '' }, 200]);
  answers.push(['bad param', await request(web.url, '/api/entries?p=nope'), 400]);
  answers.push(['405', await request(web.url, '/api/status', { method: 'DELETE' }), 405]);
  answers.push(['traversal', await request(web.url, '/assets/../package.json'), 404]);
  answers.push(['502', await request(down.url, '/api/status'), 502]);
  answers.push(['page not built', await request(down.url, '/'), 500]);
  for (const [what, a, status] of answers) {
    if (status !== 0) assert.equal(a.status, status, `${what}: ${a.text}`);
    assertSecurityHeaders(a, `${what} (${a.status})`);
    if (what !== '/assets/app.js' && !what.startsWith('/?') && what !== '/') assert.equal(a.headers['cache-control'], 'no-store', what);
  }
  assert.equal(answers.find(([w]) => w === 'page not built')?.[1].text, `the page is not built: ${path.join(dir, 'not-built', 'index.html')} is missing (run npm run build)\n`);
});

test('only GET and HEAD: any other method is a 405', async (t) => {
  const dir = tmpdir(t);
  const daemon = await startDaemon(t, dir);
  const web = await server(t, { socket: daemon.querySocket, pageDir: pageDir(dir) });
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
    for (const p of ['/', '/api/entries', '/api/follow', '/api/status', '/metrics', '/api/bundle', '/assets/app.js']) {
      const a = await request(web.url, p, { method });
      assert.equal(a.status, 405, `${method} ${p}`);
      assert.equal(a.headers.allow, 'GET, HEAD');
      assert.match(a.text, new RegExp(`^method ${method} not allowed`));
    }
  }
  const head = await request(web.url, '/api/status', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-type'], 'application/json; charset=utf-8');
  assert.equal(head.body.length, 0);
});

test('the page and its assets with their content types; nothing outside the page directory, no dotfiles', async (t) => {
  const dir = tmpdir(t);
  const daemon = await startDaemon(t, dir);
  const web = await server(t, { socket: daemon.querySocket, pageDir: pageDir(dir) });
  const types: [string, string, string][] = [
    ['/', 'text/html; charset=utf-8', 'index.html'],
    ['/?source=a&p=err', 'text/html; charset=utf-8', 'index.html'],
    ['/assets/app.js', 'text/javascript; charset=utf-8', 'app.js'],
    ['/assets/app.css', 'text/css; charset=utf-8', 'app.css'],
    ['/assets/img/logo.svg', 'image/svg+xml', 'img/logo.svg'],
  ];
  for (const [p, type, file] of types) {
    const a = await request(web.url, p);
    assert.equal(a.status, 200, p);
    assert.equal(a.headers['content-type'], type, p);
    assert.equal(a.text, fs.readFileSync(path.join(dir, 'web', file), 'utf8'), p);
  }
  const head = await request(web.url, '/assets/app.js', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], String(fs.statSync(path.join(dir, 'web', 'app.js')).size));
  for (const p of [
    '/assets/../package.json',
    '/assets/../../package.json',
    '/assets/%2e%2e/secret.txt',
    '/assets/..%2fsecret.txt',
    '/assets/..%5csecret.txt',
    '/assets/img/..%2f..%2fsecret.txt',
    '/assets/.hidden',
    '/assets/%2ehidden',
    '/assets/img/../.hidden',
    '/assets/link.txt',
    '/assets/img',
    '/assets/',
    '/assets/app.js%00.png',
    '/assets//etc/passwd',
    '/assets/%2fetc%2fpasswd',
    '/web/app.js',
    '/secret.txt',
    '/../secret.txt',
  ]) {
    const a = await request(web.url, p);
    assert.equal(a.status, 404, `${p}: ${a.status} ${a.text}`);
    assert.equal(a.headers['content-type'], 'text/plain; charset=utf-8', p);
    assert.ok(!a.text.includes('outside the page') && !a.text.includes('not for browsers') && !a.text.includes('"name"'), p);
  }
});

test('without -token, only requests for an IP address or localhost are answered (no DNS rebinding)', async (t) => {
  const dir = tmpdir(t);
  const daemon = await startDaemon(t, dir);
  const web = await server(t, { socket: daemon.querySocket, pageDir: pageDir(dir) });
  const port = new URL(web.url).port;
  for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST.:${port}`, `[::1]:${port}`, '127.0.0.1']) {
    const a = await request(web.url, '/api/status', { headers: { Host: host } });
    assert.equal(a.status, 200, host);
  }
  for (const host of [`attacker.example:${port}`, 'attacker.example', `localhost.attacker.example:${port}`, `127.0.0.1.nip.io:${port}`, '[bad]:80']) {
    for (const p of ['/', '/api/status', '/api/entries', '/assets/app.js']) {
      const a = await request(web.url, p, { headers: { Host: host } });
      assert.equal(a.status, 403, `${host} ${p}: ${a.text}`);
      assertSecurityHeaders(a, host);
      assert.match(a.text, /^forbidden: /);
    }
  }
  // With a token the token is the guard, whatever name the server is reached by.
  const guarded = await server(t, { socket: daemon.querySocket, token: TOKEN, pageDir: pageDir(path.join(dir, 'g')) });
  const a = await request(guarded.url, '/api/status', { headers: { Host: 'logs.example.org', Authorization: `Bearer ${TOKEN}` } });
  assert.equal(a.status, 200);
});
