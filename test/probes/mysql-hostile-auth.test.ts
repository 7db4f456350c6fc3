// Issue 11, finding 1 (MySQL): a server vigil cannot authenticate must not
// obtain the password. Fake servers ask for every form of it that the driver
// would reveal (caching_sha2_password full authentication with the server's
// own RSA key, a switch to mysql_clear_password or sha256_password, the
// cleartext forms over TLS whose certificate is not verified); each test
// asserts on what the fake server received. The paths that stay allowed are
// shown too: a pinned key, and cleartext only over verified TLS. Real MariaDB
// (mysql_native_password) is covered by test/probes/mysql.test.ts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startFakeMysql, type FakeMysqlOptions, type FakeMysqlServer } from '../helpers/fake-mysql-server.js';
import { buildProbe } from '../helpers/probe.js';
import { makeSelfSignedCert, type TestCert } from '../helpers/tls.js';
import { tempDir } from '../helpers/agent.js';

const PASSWORD = 'hostile-peer-secret-5e1d';

describe('mysql auth against servers that want the password (fake MySQL servers)', () => {
  let cert: TestCert;
  let dir: { dir: string; cleanup: () => void };
  const servers: FakeMysqlServer[] = [];

  before(() => {
    cert = makeSelfSignedCert({ cn: 'localhost' });
    dir = tempDir('vigil-hostile-');
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
    cert?.cleanup();
    dir?.cleanup();
  });

  const fake = async (o: FakeMysqlOptions) => { const s = await startFakeMysql(o); servers.push(s); return s; };
  const probe = (s: FakeMysqlServer, extra: Record<string, unknown> = {}) =>
    buildProbe({ type: 'mysql', address: s.address, user: 'vigil', password: PASSWORD, timeout: '3s', ...extra }).run();
  const insecureTls = { tls: { insecure_skip_verify: true } };

  /** The fake got no password: not in any byte it received, none decrypted with its key. */
  function assertNothingLearned(s: FakeMysqlServer): void {
    assert.equal(s.connections(), 1, 'the probe connected to the fake server');
    assert.deepEqual(s.learned, [], 'the fake server read the password');
    assert.equal(s.received().includes(Buffer.from(PASSWORD)), false, 'the password went over the wire in clear');
  }

  it('caching_sha2_password full authentication with the server\'s own RSA key: refused, no password sent', async () => {
    const s = await fake({ plugin: 'caching_sha2_password', reply: { kind: 'full-auth' } });
    const r = await probe(s);
    assertNothingLearned(s);
    assert.equal(r.reason, 'auth', r.message);
    assert.match(r.message ?? '', /server asked for caching_sha2_password full authentication \(RSA key exchange\) over an unverified connection; refused: pin the server's key with server_public_key_file or use TLS/);
    assert.match(r.message ?? '', /VIGIL_E_AUTH_REFUSED/);
  });

  it('the same over TLS whose certificate is not verified (insecure_skip_verify): refused, not sent in clear', async () => {
    const s = await fake({ plugin: 'caching_sha2_password', reply: { kind: 'full-auth' }, tls: cert });
    const r = await probe(s, insecureTls);
    assertNothingLearned(s);
    assert.equal(r.reason, 'auth', r.message);
    assert.match(r.message ?? '', /caching_sha2_password full authentication .*refused/);
  });

  it('a switch to mysql_clear_password: refused with the reason, over plain TCP and over unverified TLS', async () => {
    for (const extra of [{}, insecureTls]) {
      const s = await fake({ reply: { kind: 'switch', plugin: 'mysql_clear_password' }, ...(extra === insecureTls ? { tls: cert } : {}) });
      const r = await probe(s, extra);
      assertNothingLearned(s);
      assert.equal(r.reason, 'auth', r.message);
      assert.match(r.message ?? '', /server asked for mysql_clear_password .*unverified connection; refused/);
    }
  });

  it('a switch to sha256_password (the server offers its own key): refused, no password sent', async () => {
    const s = await fake({ reply: { kind: 'switch', plugin: 'sha256_password' } });
    const r = await probe(s);
    assertNothingLearned(s);
    assert.equal(r.reason, 'auth', r.message);
    assert.match(r.message ?? '', /server asked for sha256_password .*refused: pin the server's key with server_public_key_file or use TLS/);
  });

  it('sha256_password announced in the greeting over unverified TLS: no password in the handshake response', async () => {
    const s = await fake({ plugin: 'sha256_password', reply: { kind: 'switch', plugin: 'sha256_password' }, tls: cert });
    const r = await probe(s, insecureTls);
    assertNothingLearned(s);
    assert.equal(r.reason, 'auth', r.message);
  });

  it('with server_public_key_file pinned, the password goes only to the key\'s owner', async () => {
    // Pinned to some other server's key: the fake server's key is never asked for and it cannot read what it gets.
    const other = join(dir.dir, 'other.pem');
    writeFileSync(other, generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }));
    for (const reply of [{ kind: 'full-auth' } as const, { kind: 'switch', plugin: 'sha256_password' } as const]) {
      const s = await fake({ reply });
      const r = await probe(s, { server_public_key_file: other });
      assertNothingLearned(s);
      assert.equal(r.reason, 'auth', r.message);
      assert.match(r.message ?? '', /1045/, 'the login went on, encrypted to the pinned key, and the server refused it');
    }
    // Pinned to this server's own key: it (and only it) reads the password, and it was never asked for its key.
    const s = await fake({ reply: { kind: 'full-auth' } });
    const own = join(dir.dir, 'own.pem');
    writeFileSync(own, s.publicKeyPem);
    await probe(s, { server_public_key_file: own });
    assert.deepEqual(s.learned, [PASSWORD]);
    assert.equal(s.received().includes(Buffer.from(PASSWORD)), false, 'encrypted, never in clear');
  });

  it('with verified TLS (ca_file) the cleartext forms are allowed: the authenticated server gets the password', async () => {
    for (const reply of [{ kind: 'full-auth' } as const, { kind: 'switch', plugin: 'mysql_clear_password' } as const]) {
      const s = await fake({ reply, tls: cert });
      const r = await probe(s, { tls: { ca_file: cert.certFile } });
      assert.deepEqual(s.learned, [PASSWORD], `${reply.kind}: ${r.message}`);
      assert.match(r.message ?? '', /1045/);
    }
  });

  it('server_public_key_file must hold a public key (checked when the config loads)', () => {
    const bad = join(dir.dir, 'bad.pem');
    writeFileSync(bad, 'not a key\n');
    assert.throws(() => buildProbe({ type: 'mysql', address: '127.0.0.1:3306', user: 'u', server_public_key_file: bad }),
      /server_public_key_file.*not a PEM public key/s);
    assert.throws(() => buildProbe({ type: 'mysql', address: '127.0.0.1:3306', user: 'u', server_public_key_file: join(dir.dir, 'missing.pem') }),
      /server_public_key_file.*cannot read/s);
  });
});
