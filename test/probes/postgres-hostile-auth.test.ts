// Issue 11, finding 1 (PostgreSQL): a server vigil cannot authenticate must
// not obtain the password. Fake servers ask for it in clear
// (AuthenticationCleartextPassword) and as MD5 (an unsalted-enough hash a
// server can crack offline, and a downgrade any fake server can pick instead
// of SCRAM); each test asserts on what the fake server received. Real
// PostgreSQL with SCRAM is covered by test/probes/postgres.test.ts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startFakePostgres, type FakePostgresOptions, type FakePostgresServer } from '../helpers/fake-postgres-server.js';
import { buildProbe } from '../helpers/probe.js';
import { makeSelfSignedCert, type TestCert } from '../helpers/tls.js';

const PASSWORD = 'pg-hostile-secret-90ab';

describe('postgres auth against servers that want the password (fake PostgreSQL servers)', () => {
  let cert: TestCert;
  const servers: FakePostgresServer[] = [];

  before(() => { cert = makeSelfSignedCert({ cn: 'localhost' }); });
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
    cert?.cleanup();
  });

  const fake = async (o: FakePostgresOptions) => { const s = await startFakePostgres(o); servers.push(s); return s; };
  const probe = (s: FakePostgresServer, extra: Record<string, unknown> = {}) =>
    buildProbe({ type: 'postgres', address: `${s.host}:${s.port}`, user: 'vigil', password: PASSWORD, timeout: '3s', ...extra }).run();
  const insecureTls = { tls: { insecure_skip_verify: true } };

  function assertNothingSent(s: FakePostgresServer): void {
    assert.equal(s.connections(), 1, 'the probe connected to the fake server');
    assert.deepEqual(s.passwordMessages, [], 'the client answered the password request');
    assert.equal(s.received().includes(Buffer.from(PASSWORD)), false, 'the password went over the wire in clear');
  }

  it('AuthenticationCleartextPassword over plain TCP and over unverified TLS: refused, nothing sent', async () => {
    for (const extra of [{}, insecureTls]) {
      const s = await fake({ reply: { kind: 'cleartext' }, ...(extra === insecureTls ? { tls: cert } : {}) });
      const r = await probe(s, extra);
      assertNothingSent(s);
      assert.equal(r.reason, 'auth', r.message);
      assert.match(r.message ?? '', /VIGIL_E_AUTH_REFUSED: server asked for a cleartext password over an unverified connection; refused: use TLS with certificate verification/);
    }
  });

  it('AuthenticationMD5Password without verified TLS: refused, no hash sent', async () => {
    for (const extra of [{}, insecureTls]) {
      const s = await fake({ reply: { kind: 'md5' }, ...(extra === insecureTls ? { tls: cert } : {}) });
      const r = await probe(s, extra);
      assertNothingSent(s);
      assert.equal(r.reason, 'auth', r.message);
      assert.match(r.message ?? '', /server asked for an MD5 password hash over an unverified connection; refused: .*SCRAM/);
    }
  });

  it('over verified TLS (ca_file) both are answered: the authenticated server gets what it asked for', async () => {
    const clear = await fake({ reply: { kind: 'cleartext' }, tls: cert });
    const r1 = await probe(clear, { tls: { ca_file: cert.certFile } });
    assert.deepEqual(clear.passwordMessages, [PASSWORD], r1.message);
    const md5 = await fake({ reply: { kind: 'md5' }, tls: cert });
    const r2 = await probe(md5, { tls: { ca_file: cert.certFile } });
    assert.match(md5.passwordMessages[0] ?? '', /^md5[0-9a-f]{32}$/, r2.message);
    assert.equal(r2.reason, 'auth');
    assert.match(r2.message ?? '', /28P01/);
  });
});
