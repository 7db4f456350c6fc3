// The listener keys through the agent: the admin API behind TLS with client
// certificates (its bearer token still required), and a vigil.yaml reload
// applying allowed_hosts and a new web_config_file to the running listener.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import bcrypt from 'bcryptjs';
import { startAgent } from '../helpers/agent.js';
import { makePki, type Pki } from '../helpers/pki.js';

let pki: Pki;
before(() => {
  pki = makePki();
  pki.server('server');
  pki.client('operator');
});
after(() => pki.cleanup());

function call(url: string, opts: { cert?: string; token?: string; method?: string; host?: string; auth?: string } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.request(url, {
      method: opts.method ?? 'GET', agent: false, ca: pki.read('ca.crt'),
      headers: { ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...(opts.host ? { host: opts.host } : {}) },
      ...(opts.auth ? { auth: opts.auth } : {}),
      ...(opts.cert ? { cert: pki.read(`${opts.cert}.crt`), key: pki.read(`${opts.cert}.key`) } : {}),
    }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); });
    req.on('error', reject);
    req.end();
  });
}

test('admin API over TLS with client certificates: certificate and token both needed', async () => {
  const token = 'x'.repeat(40);
  writeFileSync(pki.file('admin.token'), token);
  writeFileSync(pki.file('admin-web.yml'), `tls_server_config:
  cert_file: server.crt
  key_file: server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.crt
`);
  const a = await startAgent(`admin:\n  listen: 127.0.0.1:0\n  token_file: ${pki.file('admin.token')}\n  web_config_file: ${pki.file('admin-web.yml')}\n  max_connections: 4\nprobes: []\n`);
  try {
    const url = a.agent.adminAddress!;
    assert.match(url, /^https:\/\//);
    assert.equal(await call(`${url}/v1/remediation`, { cert: 'operator', token }), 200);
    assert.equal(await call(`${url}/v1/remediation`, { cert: 'operator' }), 401, 'the bearer token is still needed');
    const none = await call(`${url}/v1/remediation`, { token }).then(String, (e: NodeJS.ErrnoException) => String(e.code));
    assert.match(none, /ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED|ECONNRESET/);
    assert.equal((await a.get('/healthz')).status, 200, 'the main listener is plain HTTP as configured');
  } finally {
    await a.stop();
  }
});

test('a vigil.yaml reload applies allowed_hosts and a new web_config_file (users) to the running listener', async () => {
  const a = await startAgent('probes: []\n');
  try {
    const port = new URL(a.url).port;
    writeFileSync(pki.file('users.yml'), `basic_auth_users:\n  prometheus: ${bcrypt.hashSync('pw', 4)}\n`);
    a.writeConfig(`agent:\n  allowed_hosts: [vigil.test]\n  web_config_file: ${pki.file('users.yml')}\n  max_connections: 8\nprobes: []\n`);
    assert.equal((await a.post('/-/reload')).status, 200);
    assert.equal(await call(`${a.url}/healthz`, { host: `vigil.test:${port}`, auth: 'prometheus:pw' }), 200);
    assert.equal(await call(`${a.url}/healthz`, { host: `vigil.test:${port}` }), 401);
    assert.equal(await call(`${a.url}/healthz`, { host: `127.0.0.1:${port}`, auth: 'prometheus:pw' }), 403);

    // TLS cannot be switched on by a reload: said, and the listener stays plain HTTP.
    writeFileSync(pki.file('tls.yml'), 'tls_server_config: {cert_file: server.crt, key_file: server.key}\n');
    a.writeConfig(`agent:\n  allowed_hosts: [vigil.test]\n  web_config_file: ${pki.file('tls.yml')}\nprobes: []\n`);
    assert.equal(await call(`${a.url}/-/reload`, { method: 'POST', host: `vigil.test:${port}`, auth: 'prometheus:pw' }), 200);
    assert.ok(a.logs.some((l) => l.level === 40 && /tls_server_config was added: turning TLS on or off takes a restart/.test(String(l.msg))), JSON.stringify(a.logs.filter((l) => l.level >= 40)));
    assert.equal(await call(`${a.url}/healthz`, { host: `vigil.test:${port}`, auth: 'prometheus:pw' }), 200, 'still plain HTTP with the last good users');
  } finally {
    await a.stop();
  }
});
