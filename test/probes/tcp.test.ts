// TCP probe against real listeners on 127.0.0.1 (plain and TLS).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildProbe, observation } from '../helpers/probe.js';
import { closedPort, startHttpServer, startHttpsServer, startSilentServer, type TestServer } from '../helpers/servers.js';
import { makeSelfSignedCert, type TestCert } from '../helpers/tls.js';

let plain: TestServer;
let silent: TestServer;
before(async () => {
  plain = await startHttpServer((_q, s) => s.end('hi'));
  silent = await startSilentServer();
});
after(async () => { await plain.close(); await silent.close(); });

test('connects to a listening port', async () => {
  const before = plain.connections();
  const r = await buildProbe({ type: 'tcp', address: `127.0.0.1:${plain.port}` }).run();
  assert.equal(r.ok, true, r.message);
  assert.equal(r.message, `connected to 127.0.0.1:${plain.port}`);
  assert.deepEqual(r.observations, []);
  assert.equal(plain.connections() - before, 1);
});

test('a server that accepts but never speaks is still a successful TCP connect', async () => {
  const r = await buildProbe({ type: 'tcp', address: `127.0.0.1:${silent.port}` }).run();
  assert.equal(r.ok, true, r.message);
});

test('connection refused', async () => {
  const port = await closedPort();
  const r = await buildProbe({ type: 'tcp', address: `127.0.0.1:${port}` }).run();
  assert.equal(r.ok, false);
  assert.equal(r.reason, 'connect_refused');
  assert.match(r.message ?? '', new RegExp(`^connect to 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
});

test('IPv6 loopback in brackets', async () => {
  const port = await closedPort();
  const r = await buildProbe({ type: 'tcp', address: `[::1]:${port}` }).run();
  assert.equal(r.ok, false);
  assert.match(r.message ?? '', /^connect to \[::1\]:\d+: /);
  assert.ok(r.reason === 'connect_refused' || r.reason === 'internal', `${r.reason}: ${r.message}`);
});

describe('tls', () => {
  let cert: TestCert;
  let tls: TestServer;
  before(async () => {
    cert = makeSelfSignedCert({ cn: 'localhost' });
    tls = await startHttpsServer(cert, (_q, s) => s.end('hi'));
  });
  after(async () => { await tls.close(); cert.cleanup(); });

  test('tls: true against a self-signed certificate fails with reason tls', async () => {
    const r = await buildProbe({ type: 'tcp', address: `localhost:${tls.port}`, tls: true }).run();
    assert.equal(r.ok, false);
    assert.equal(r.reason, 'tls', r.message);
  });

  test('with ca_file: handshake succeeds and the expiry is observed', async () => {
    const r = await buildProbe({ type: 'tcp', address: `localhost:${tls.port}`, tls: { ca_file: cert.certFile } }).run();
    assert.equal(r.ok, true, r.message);
    assert.equal(r.message, `connected to localhost:${tls.port} (TLS)`);
    assert.equal(observation(r, 'tls_cert_expiry_timestamp_seconds'), cert.notAfter);
  });

  test('a handshake that never completes: timeout honoured', async () => {
    const p = buildProbe({ type: 'tcp', address: `127.0.0.1:${silent.port}`, tls: { insecure_skip_verify: true }, interval: '5s', timeout: '300ms' });
    const started = performance.now();
    const r = await p.run();
    const took = performance.now() - started;
    assert.equal(r.ok, false);
    assert.equal(r.reason, 'timeout', r.message);
    assert.equal(r.message, `connect to 127.0.0.1:${silent.port} timed out`);
    assert.ok(took >= 280 && took < 1300, `took ${took.toFixed(0)} ms`);
  });
});
