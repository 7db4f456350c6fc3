// The main listener with a web config file, on a real agent over real TLS:
// basic auth, headers, client certificates in every client_auth_type, and
// the file re-read while the agent runs (new certificate, new client auth,
// a broken edit refused, TLS switched off refused).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import http from 'node:http';
import { writeFileSync, copyFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import bcrypt from 'bcryptjs';
import { startAgent, type RunningAgent } from '../helpers/agent.js';
import { makePki, type Pki } from '../helpers/pki.js';
import { waitUntil } from '../helpers/wait.js';

let pki: Pki;
const HASH = bcrypt.hashSync('s3cret', 4); // cost 4: the tests check behaviour, not bcrypt's cost

before(() => {
  pki = makePki();
  pki.server('server');
  pki.server('server2', 'rotated');
  pki.client('prom', { sans: ['DNS:prometheus'] });
  pki.client('other', { sans: ['DNS:someone-else'] });
  pki.client('stranger', { ca: 'other-ca' });
});
after(() => pki.cleanup());

interface Answer { status: number; headers: http.IncomingHttpHeaders; body: string; peerCn?: string }
interface Opts { cert?: string; auth?: string; path?: string; maxVersion?: 'TLSv1.2' | 'TLSv1.3' }

/** One HTTPS request on a fresh connection; resolves with the answer or rejects with the TLS/socket error. */
function get(url: string, o: Opts = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request(`${url}${o.path ?? '/healthz'}`, {
      agent: false, ca: pki.read('ca.crt'), maxVersion: o.maxVersion,
      ...(o.cert ? { cert: pki.read(`${o.cert}.crt`), key: pki.read(`${o.cert}.key`) } : {}),
      ...(o.auth ? { auth: o.auth } : {}),
    }, (res) => {
      let body = '';
      const peerCn = (res.socket as TLSSocket).getPeerCertificate().subject?.CN;
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, peerCn: String(peerCn) }));
    });
    req.on('error', reject);
    req.end();
  });
}
const failure = (p: Promise<unknown>) => p.then(() => 'succeeded', (e: NodeJS.ErrnoException) => e.code ?? e.message);

function writeWeb(dir: string, body: string): string {
  const file = `${dir}/web.yml`;
  writeFileSync(file, body);
  return file;
}
const tlsBlock = (extra = '') => `tls_server_config:\n  cert_file: ${pki.file('server.crt')}\n  key_file: ${pki.file('server.key')}\n${extra}`;
const metric = (body: string, series: string) => Number(body.split('\n').find((l) => l.startsWith(`${series} `))?.split(' ')[1]);

async function agentWith(web: string, extraAgent = ''): Promise<{ a: RunningAgent; file: string; url: string }> {
  const { mkdtempSync } = await import('node:fs');
  const dir = mkdtempSync(`${pki.dir}/agent-`);
  const file = writeWeb(dir, web);
  const a = await startAgent(`agent:\n  web_config_file: ${file}\n${extraAgent}probes: []\n`);
  return { a, file, url: a.url.replace('localhost', '127.0.0.1') };
}

describe('TLS with basic auth', () => {
  test('right password 200 with the configured headers; wrong one 401 with WWW-Authenticate: Basic; plain HTTP gets nothing', async () => {
    const { a, url } = await agentWith(`${tlsBlock()}http_server_config:\n  headers:\n    X-Frame-Options: deny\n    X-Content-Type-Options: nosniff\nbasic_auth_users:\n  prometheus: ${HASH}\n`);
    try {
      assert.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const ok = await get(url, { auth: 'prometheus:s3cret', path: '/metrics' });
      assert.equal(ok.status, 200);
      assert.equal(ok.headers['x-frame-options'], 'deny');
      assert.equal(ok.headers['x-content-type-options'], 'nosniff');
      assert.match(ok.body, /^vigil_web_config_last_reload_successful\{listener="main"\} 1$/m);
      const bad = await get(url, { auth: 'prometheus:wrong' });
      assert.equal(bad.status, 401);
      assert.match(String(bad.headers['www-authenticate']), /^Basic\b/);
      assert.equal(JSON.parse(bad.body).code, 'VIGIL_E_UNAUTHORIZED');
      assert.equal(bad.headers['x-frame-options'], 'deny', 'headers on refusals too');
      assert.equal((await get(url)).status, 401, 'no credentials');
      assert.equal((await get(url, { auth: 'nobody:s3cret' })).status, 401);
      const plain = await failure(fetch(url.replace('https:', 'http:') + '/healthz'));
      assert.notEqual(plain, 'succeeded');
      const m = (await get(url, { auth: 'prometheus:s3cret', path: '/metrics' })).body;
      assert.equal(metric(m, 'vigil_listener_requests_refused_total{listener="main",reason="unauthorized"}'), 3);
      assert.ok(!a.logs.some((l) => JSON.stringify(l).includes('s3cret') || JSON.stringify(l).includes('wrong')), 'no password in any log line');
    } finally {
      await a.stop();
    }
  });
});

describe('client certificates', () => {
  test('RequireAndVerifyClientCert: no certificate fails the handshake; a foreign CA\'s is refused; ours gets in', async () => {
    const { a, url } = await agentWith(tlsBlock(`  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ${pki.file('ca.crt')}\n`));
    try {
      const none = await failure(get(url));
      assert.match(none, /ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED|ECONNRESET/, none);
      const none12 = await failure(get(url, { maxVersion: 'TLSv1.2' }));
      assert.match(none12, /EPROTO|HANDSHAKE_FAILURE/, `TLS 1.2: the server aborts the handshake itself (${none12})`);
      assert.notEqual(await failure(get(url, { cert: 'stranger' })), 'succeeded');
      assert.equal((await get(url, { cert: 'prom' })).status, 200);
      const m = (await get(url, { cert: 'prom', path: '/metrics' })).body;
      assert.ok(metric(m, 'vigil_listener_tls_failures_total{listener="main"}') >= 3);
    } finally {
      await a.stop();
    }
  });

  test('VerifyClientCertIfGiven, RequireAnyClientCert and client_allowed_sans, finished after the handshake', async () => {
    const { a, file, url } = await agentWith(tlsBlock(`  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ${pki.file('ca.crt')}\n`));
    try {
      assert.equal((await get(url)).status, 200, 'none given: in');
      assert.equal((await get(url, { cert: 'prom' })).status, 200, 'a verified one: in');
      assert.notEqual(await failure(get(url, { cert: 'stranger' })), 'succeeded', 'an unverified one: out');

      writeWeb(file.replace(/\/web\.yml$/, ''), tlsBlock(`  client_auth_type: RequireAnyClientCert\n`));
      await waitUntil('RequireAnyClientCert in force', async () => (await failure(get(url))) !== 'succeeded', { timeoutMs: 5000, intervalMs: 200 });
      assert.equal((await get(url, { cert: 'stranger' })).status, 200, 'any certificate, verified or not');

      writeWeb(file.replace(/\/web\.yml$/, ''), tlsBlock(`  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ${pki.file('ca.crt')}\n  client_allowed_sans: [prometheus]\n`));
      await waitUntil('client_allowed_sans in force', async () => (await failure(get(url, { cert: 'other' }))) !== 'succeeded', { timeoutMs: 5000, intervalMs: 200 });
      assert.equal((await get(url, { cert: 'prom' })).status, 200);
    } finally {
      await a.stop();
    }
  });
});

describe('the file re-read while the agent runs', () => {
  test('a new certificate reaches new connections; a broken edit is refused (metric 0, logged once); fixed, it is 1 again', async () => {
    const { a, file, url } = await agentWith(tlsBlock());
    const dir = file.replace(/\/web\.yml$/, '');
    try {
      assert.equal((await get(url)).peerCn, 'localhost');
      copyFileSync(pki.file('server2.crt'), `${dir}/rotated.crt`);
      copyFileSync(pki.file('server2.key'), `${dir}/rotated.key`);
      writeWeb(dir, `tls_server_config:\n  cert_file: rotated.crt\n  key_file: rotated.key\n`);
      await waitUntil('the rotated certificate', async () => (await get(url)).peerCn === 'rotated', { timeoutMs: 5000, intervalMs: 200 });

      // The certificate file itself replaced (the web config unchanged): seen too.
      copyFileSync(pki.file('server.crt'), `${dir}/rotated.crt`);
      copyFileSync(pki.file('server.key'), `${dir}/rotated.key`);
      await waitUntil('the certificate file\'s new content', async () => (await get(url)).peerCn === 'localhost', { timeoutMs: 5000, intervalMs: 200 });

      writeWeb(dir, `tls_server_config:\n  cert_file: rotated.crt\n  key_file: missing.key\n`);
      // Looked at when a connection or request arrives (as exporter-toolkit reads it per request).
      const failed = await waitUntil('the refusal', async () => {
        await get(url);
        return a.logs.find((l) => l.msg === 'web config reload failed; the listener keeps its last good web config');
      }, { timeoutMs: 5000, intervalMs: 200 });
      assert.deepEqual(failed.problems, [`${file}: tls_server_config.key_file (line 3): cannot read ${dir}/missing.key (ENOENT)`]);
      assert.equal((await get(url)).status, 200, 'the last good config serves');
      assert.equal(metric((await get(url, { path: '/metrics' })).body, 'vigil_web_config_last_reload_successful{listener="main"}'), 0);
      for (let i = 0; i < 2; i++) { // two more looks at the still-broken file
        await new Promise((r) => setTimeout(r, 1100));
        assert.equal((await get(url)).status, 200);
      }
      assert.equal(a.logs.filter((l) => l.msg === failed.msg).length, 1, 'logged once, not at every look');

      writeWeb(dir, tlsBlock(`basic_auth_users:\n  prometheus: ${HASH}\n`));
      await waitUntil('fixed', async () => (await get(url)).status === 401, { timeoutMs: 5000, intervalMs: 200 });
      assert.equal(metric((await get(url, { path: '/metrics', auth: 'prometheus:s3cret' })).body, 'vigil_web_config_last_reload_successful{listener="main"}'), 1);
    } finally {
      await a.stop();
    }
  });

  test('client_auth_type tightened at runtime applies to the next connection', async () => {
    const { a, file, url } = await agentWith(tlsBlock());
    try {
      assert.equal((await get(url)).status, 200);
      writeWeb(file.replace(/\/web\.yml$/, ''), tlsBlock(`  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ${pki.file('ca.crt')}\n`));
      await waitUntil('a client without a certificate refused in the handshake', async () => (await failure(get(url))) !== 'succeeded', { timeoutMs: 5000, intervalMs: 200 });
      assert.equal((await get(url, { cert: 'prom' })).status, 200);
    } finally {
      await a.stop();
    }
  });

  test('TLS switched off in the file: refused until a restart; HTTPS keeps serving', async () => {
    const { a, file, url } = await agentWith(tlsBlock());
    try {
      writeWeb(file.replace(/\/web\.yml$/, ''), `basic_auth_users:\n  prometheus: ${HASH}\n`);
      const failed = await waitUntil('the refusal', async () => {
        await get(url);
        return a.logs.find((l) => l.msg === 'web config reload failed; the listener keeps its last good web config');
      }, { timeoutMs: 5000, intervalMs: 200 });
      assert.match(JSON.stringify(failed.problems), /tls_server_config was removed: turning TLS on or off takes a restart/);
      assert.equal((await get(url)).status, 200, 'still HTTPS, still without users (the last good config)');
    } finally {
      await a.stop();
    }
  });
});
