// The web config file (exporter-toolkit's format): what it means, and every
// bad file refused with the exact problem by path and line — on its own, as
// agent.web_config_file / admin.web_config_file inside vigil.yaml (exit 2),
// and beside `promtool check web-config` for the shipped example.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadWebConfigFile } from '../../src/config/web-config.js';
import { parseConfigText } from '../../src/config/load.js';
import { Agent } from '../../src/agent.js';
import { makePki, type Pki } from '../helpers/pki.js';
import { REPO, runVigil } from '../helpers/agent.js';
import { requireBinary } from '../harness/require-binary.js';

// exporter-toolkit's own test hash: alice / alice123, made by Go's bcrypt.
const ALICE = '$2y$12$1DpfPeqF9HzHJt.EWswy1exHluGfbhnn3yXhR7Xes6m3WJqFg0Wby';

let pki: Pki;
before(() => {
  pki = makePki();
  pki.server('server');
});
after(() => pki.cleanup());

function web(name: string, body: string): string {
  const file = pki.file(name);
  writeFileSync(file, body);
  return file;
}
function problems(body: string) {
  const r = loadWebConfigFile(web('w.yml', body));
  return r.ok ? [] : r.problems;
}

describe('what a web config file means', () => {
  test('empty file: plain HTTP, no users, as exporter-toolkit reads it', () => {
    const r = loadWebConfigFile(web('empty.yml', '# nothing yet\n'));
    assert.ok(r.ok);
    assert.equal(r.value.tls, undefined);
    assert.equal(r.value.users.size, 0);
    assert.deepEqual(r.value.headers, {});
  });

  test('TLS with relative paths (relative to the file), Go names translated, users and headers', () => {
    const r = loadWebConfigFile(web('full.yml', `tls_server_config:
  cert_file: server.crt
  key_file: server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.crt
  min_version: TLS13
  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256]
  curve_preferences: [X25519, CurveP256]
  prefer_server_cipher_suites: false
http_server_config:
  http2: false
  headers:
    X-Frame-Options: deny
    X-XSS-Protection: 1
    Content-Security-Policy: ""
basic_auth_users:
  alice: ${ALICE}
rate_limit: { interval: 1s, burst: 5 }
`));
    assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
    const t = r.value.tls!;
    assert.equal(t.cert, pki.read('server.crt'));
    assert.equal(t.clientCa, pki.read('ca.crt'));
    assert.equal(t.clientAuth, 'RequireAndVerifyClientCert');
    assert.deepEqual([t.minVersion, t.maxVersion], ['TLSv1.3', 'TLSv1.3']);
    assert.equal(t.ciphers, 'ECDHE-ECDSA-AES128-GCM-SHA256', 'TLS 1.3 suites are not configurable (as in Go)');
    assert.equal(t.ecdhCurve, 'X25519:P-256');
    assert.equal(t.honorCipherOrder, false);
    assert.deepEqual(r.value.headers, { 'X-Frame-Options': 'deny', 'X-XSS-Protection': '1' }, 'a blank header is unset');
    assert.deepEqual([...r.value.users], [['alice', ALICE]]);
    assert.deepEqual(r.value.rateLimit, { intervalMs: 1000, burst: 5 });
    assert.deepEqual(r.value.sources, [pki.file('full.yml'), pki.file('server.crt'), pki.file('server.key'), pki.file('ca.crt')]);
  });

  test('RequireClientCert, exporter-toolkit\'s old name, is RequireAnyClientCert', () => {
    const r = loadWebConfigFile(web('old.yml', 'tls_server_config: {cert_file: server.crt, key_file: server.key, client_auth_type: RequireClientCert}\n'));
    assert.ok(r.ok);
    assert.equal(r.value.tls?.clientAuth, 'RequireAnyClientCert');
  });
});

describe('bad web config files: each problem by path and line', () => {
  const cases: Array<[string, string, Array<{ path: string; line?: number; message: string }>]> = [
    ['unknown key (strict, as yaml.UnmarshalStrict)', 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  certfile: x\n',
      [{ path: 'tls_server_config.certfile', line: 4, message: 'unknown key' }]],
    ['a password instead of a hash', `basic_auth_users:\n  john: doe\n`,
      [{ path: 'basic_auth_users.john', line: 2, message: 'must be a bcrypt hash like $2y$10$…; make one with `htpasswd -nBC 10 "" | tr -d \':\\n\'`' }]],
    ['a user name with a colon', `basic_auth_users:\n  "a:b": ${ALICE}\n`,
      [{ path: 'basic_auth_users.a:b', line: 2, message: 'a user name cannot contain ":" (basic auth splits user and password at the first one)' }]],
    ['a client CA without a client auth policy', 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_ca_file: ca.crt\n',
      [{ path: 'tls_server_config.client_ca_file', line: 4, message: 'a client CA is set but client_auth_type is NoClientCert: set client_auth_type: RequireAndVerifyClientCert to check client certificates' }]],
    ['verification without a client CA', 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n',
      [{ path: 'tls_server_config.client_ca_file', line: 2, message: 'RequireAndVerifyClientCert needs client_ca_file: the CA that signs your clients\' certificates' }]],
    ['missing files', 'tls_server_config:\n  cert_file: nope.crt\n  key_file: /nonexistent/nope.key\n',
      [{ path: 'tls_server_config.cert_file', line: 2, message: `cannot read ${'PKI'}/nope.crt (ENOENT)` },
        { path: 'tls_server_config.key_file', line: 3, message: 'cannot read /nonexistent/nope.key (ENOENT)' }]],
    ['a key that is not the certificate\'s', 'tls_server_config:\n  cert_file: server.crt\n  key_file: ca.key\n',
      [{ path: 'tls_server_config.cert_file', line: 2, message: 'cannot use this certificate and key: error:05800074:x509 certificate routines::key values mismatch' }]],
    ['TLS without a key', 'tls_server_config:\n  cert_file: server.crt\n',
      [{ path: 'tls_server_config.key_file', line: 2, message: 'TLS needs the server key: key_file (or key)' }]],
    ['both inline and file', `tls_server_config:\n  cert: "x"\n  cert_file: server.crt\n  key_file: server.key\n`,
      [{ path: 'tls_server_config.cert_file', line: 3, message: 'set either cert or cert_file, not both' }]],
    ['unknown enums', 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: Sometimes\n  min_version: TLS14\n  cipher_suites: [TLS_FAST]\n  curve_preferences: [P256]\n',
      [{ path: 'tls_server_config.client_auth_type', line: 4, message: 'must be one of NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert' },
        { path: 'tls_server_config.min_version', line: 5, message: 'must be one of TLS10, TLS11, TLS12, TLS13' },
        { path: 'tls_server_config.cipher_suites[0]', line: 6, message: `unknown cipher suite "TLS_FAST" (known: ${'CIPHERS'})` },
        { path: 'tls_server_config.curve_preferences[0]', line: 7, message: 'unknown curve "P256" (known: CurveP256, CurveP384, CurveP521, X25519)' }]],
    ['min above max', 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS13\n  max_version: TLS12\n',
      [{ path: 'tls_server_config.min_version', line: 4, message: 'must not be above max_version (TLS12)' }]],
    ['headers exporter-toolkit does not allow', 'http_server_config:\n  headers:\n    X-Frame-Options: allow\n    Server: vigil\n',
      [{ path: 'http_server_config.headers.X-Frame-Options', line: 3, message: 'must be one of deny, sameorigin, not "allow"' },
        { path: 'http_server_config.headers.Server', line: 4, message: 'header Server cannot be configured (only Strict-Transport-Security, X-Content-Type-Options, X-Frame-Options, X-XSS-Protection, Content-Security-Policy)' }]],
    ['SANs nobody verifies', 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAnyClientCert\n  client_allowed_sans: [prometheus]\n',
      [{ path: 'tls_server_config.client_allowed_sans', line: 5, message: 'names in a certificate nobody verified prove nothing: set client_auth_type: RequireAndVerifyClientCert' }]],
    ['a rate limit that refuses everything', 'rate_limit: { interval: 1s }\n',
      [{ path: 'rate_limit.burst', line: 1, message: 'must be at least 1 when interval is set (with 0 every request would be refused)' }]],
    ['not a mapping', '- a\n', [{ path: '', line: 1, message: 'the top level must be a mapping with keys like tls_server_config: and basic_auth_users:' }]],
  ];
  for (const [name, body, expected] of cases) {
    test(name, () => {
      const got = problems(body).map((p) => ({ ...p, message: p.message.replace(pki.dir, 'PKI').replace(/\(known: TLS_RSA[^)]*\)/, '(known: CIPHERS)') }));
      assert.deepEqual(got, expected);
    });
  }
});

describe('inside vigil.yaml', () => {
  const load = (yaml: string) => parseConfigText(yaml, Agent.loadOptions({}));

  test('agent.web_config_file: the web file\'s problems at the key, each with its own path and line', () => {
    const file = web('bad.yml', 'tls_server_config:\n  cert_file: server.crt\nbasic_auth_users:\n  bob: hunter2\n');
    const r = load(`agent:\n  listen: 127.0.0.1:9817\n  web_config_file: ${file}\n`);
    assert.ok(!r.ok);
    assert.deepEqual(r.problems, [
      { path: 'agent.web_config_file', line: 3, message: `${file}: tls_server_config.key_file (line 2): TLS needs the server key: key_file (or key)` },
      { path: 'agent.web_config_file', line: 3, message: `${file}: basic_auth_users.bob (line 4): must be a bcrypt hash like $2y$10$…; make one with \`htpasswd -nBC 10 "" | tr -d ':\\n'\`` },
    ]);
  });

  test('a missing web config file', () => {
    const r = load('agent:\n  web_config_file: /nonexistent/web.yml\n');
    assert.ok(!r.ok);
    assert.deepEqual(r.problems, [{ path: 'agent.web_config_file', line: 2, message: '/nonexistent/web.yml: web config file /nonexistent/web.yml does not exist' }]);
  });

  test('admin.web_config_file may not have users: the bearer token takes the Authorization header', () => {
    const file = web('admin.yml', `basic_auth_users:\n  alice: ${ALICE}\n`);
    const token = pki.file('admin.token');
    writeFileSync(token, 'a'.repeat(32));
    const r = load(`admin:\n  token_file: ${token}\n  web_config_file: ${file}\n`);
    assert.ok(!r.ok);
    assert.deepEqual(r.problems.map((p) => [p.path, p.line]), [['admin.web_config_file', 3]]);
    assert.match(r.problems[0].message, /basic_auth_users: admin authenticates with its bearer token .*client_auth_type: RequireAndVerifyClientCert/);
  });

  test('listener keys: defaults, and the checks', () => {
    const ok = load('probes: []\n');
    assert.ok(ok.ok);
    const a = ok.config.agent;
    assert.deepEqual([a.max_connections, a.headers_timeout, a.request_timeout, a.idle_timeout, a.allowed_hosts], [64, 5000, 10_000, 5000, []]);
    const bad = load('agent:\n  allowed_hosts: ["vigil.example.com", "Host With Space", "[::1]:9817", "DB1:9817"]\n  max_connections: 0\n  headers_timeout: 20s\n');
    assert.ok(!bad.ok);
    assert.deepEqual(bad.problems, [
      { path: 'agent.allowed_hosts[1]', line: 2, message: '"Host With Space" is not a host name, IP address or host:port (IPv6 in brackets: [::1]:9817)' },
      { path: 'agent.max_connections', line: 3, message: 'Number must be greater than or equal to 1' },
      { path: 'agent.headers_timeout', line: 4, message: 'must not be longer than request_timeout (the whole request, headers included, must arrive within it)' },
    ].sort((x, y) => x.line - y.line));
  });
});

describe('the shipped example', () => {
  test('promtool check web-config accepts examples/web-config.yml, and so does vigil', () => {
    const promtool = requireBinary('promtool', 'prometheus');
    const file = pki.file('web-config.yml');
    copyFileSync(join(REPO, 'examples/web-config.yml'), file);
    pki.server('vigil'); // the example names vigil.crt and vigil.key beside itself
    const out = spawnSync(promtool, ['check', 'web-config', file], { encoding: 'utf8' });
    assert.equal(out.status, 0, out.stdout + out.stderr);
    assert.match(out.stdout + out.stderr, /SUCCESS/);
    const r = loadWebConfigFile(file);
    assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
    assert.ok(r.value.tls && r.value.users.size > 0);
  });

  test('vigil check-config --web.config.file: a bad web file is exit 2 with its problems', async () => {
    const file = web('flag.yml', 'tls_server_config:\n  cert_file: server.crt\n');
    const cfg = pki.file('v.yaml');
    writeFileSync(cfg, 'probes: []\n');
    const bad = await runVigil(['check-config', cfg, '--web.config.file', file]);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr, `${file}: 1 problem\n  tls_server_config.key_file (line 2): TLS needs the server key: key_file (or key)\n`);
    const good = await runVigil(['check-config', cfg, '--web.config.file', web('good.yml', '')]);
    assert.equal(good.code, 0, good.stderr);
  });
});
