// Probes built together share one TLS context per CA/certificate/key, and
// every probe still verifies, reports its certificate and fails as before.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SecureContexts } from '../../src/probes/secure-contexts.js';
import { SingleFlight } from '../../src/probes/single-flight.js';
import { buildProbe, observation } from '../helpers/probe.js';
import { startHttpsServer, type TestServer } from '../helpers/servers.js';
import { makeSelfSignedCert, type TestCert } from '../helpers/tls.js';

describe('shared secure contexts', () => {
  let cert: TestCert;
  let other: TestCert;
  let server: TestServer;
  before(async () => {
    cert = makeSelfSignedCert({ cn: 'localhost', days: 30 });
    other = makeSelfSignedCert({ cn: 'localhost', days: 10 });
    server = await startHttpsServer(cert, (_q, res) => res.end('ok'));
  });
  after(async () => { await server.close(); cert.cleanup(); other.cleanup(); });

  test('one context per CA, certificate and key; a failure is not kept', () => {
    const contexts = new SecureContexts();
    assert.equal(contexts.get({ ca: cert.cert }), contexts.get({ ca: `${cert.cert}` }));
    assert.notEqual(contexts.get({ ca: cert.cert }), contexts.get({ ca: other.cert }));
    assert.notEqual(contexts.get({ ca: cert.cert }), contexts.get({ ca: cert.cert, cert: other.cert, key: other.key }));
    assert.throws(() => contexts.get({ cert: other.cert, key: 'not a key' }));
    assert.throws(() => contexts.get({ cert: other.cert, key: 'not a key' }));
  });

  test('http and tcp probes sharing contexts each verify and report the expiry; one without the CA still fails', async () => {
    const deps = { singleFlight: new SingleFlight(), secureContexts: new SecureContexts() };
    const url = `https://localhost:${server.port}/`;
    const probes = [
      buildProbe({ type: 'http', url, tls: { ca_file: cert.certFile } }, deps),
      buildProbe({ type: 'http', url, tls: { ca_file: cert.certFile } }, deps),
      buildProbe({ type: 'tcp', address: `localhost:${server.port}`, tls: { ca_file: cert.certFile } }, deps),
    ];
    for (const p of probes) {
      for (let i = 0; i < 2; i++) {
        const r = await p.run();
        assert.equal(r.ok, true, r.message);
        assert.equal(observation(r, 'tls_cert_expiry_timestamp_seconds'), cert.notAfter);
      }
    }
    const wrongCa = await buildProbe({ type: 'http', url, tls: { ca_file: other.certFile } }, deps).run();
    assert.equal(wrongCa.ok, false);
    assert.equal(wrongCa.reason, 'tls', wrongCa.message);
  });
});
