// TLS for the mysql and postgres probes against real servers with a test CA:
// the chain is verified against ca_file, host names are checked, a wrong CA
// or name fails with `tls`, insecure_skip_verify connects anyway. The server
// certificate is issued only for db.example.test, so connecting to
// "localhost" or 127.0.0.1 exercises the name check.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { parseConfigText } from '../../src/config/load.js';
import { PROBE_TYPES } from '../../src/probes/registry.js';
import { SingleFlight } from '../../src/probes/single-flight.js';
import type { ProbeResult } from '../../src/probes/types.js';
import { startMariaTopology, type MariaTopology } from '../harness/mariadb.js';
import { startPostgres, type PostgresServer } from '../harness/postgres.js';
import { requireBinary } from '../harness/require-binary.js';

async function runProbe(probe: Record<string, unknown>): Promise<ProbeResult> {
  const loaded = parseConfigText(JSON.stringify({ probes: [{ name: 'db', timeout: '2s', interval: '5s', ...probe }] }),
    { probeTypes: PROBE_TYPES, schema: { env: {} } });
  if (!loaded.ok) throw new Error(`config rejected: ${JSON.stringify(loaded.problems)}`);
  const cfg = loaded.config.probes[0];
  const p = cfg.definition.create(cfg, { logger: pino({ level: 'silent' }), singleFlight: new SingleFlight() });
  try { return await p.run(AbortSignal.timeout(cfg.timeoutMs)); } finally { await p.close?.(); }
}

interface Pki { dir: string; ca: string; otherCa: string; cert: string; key: string }

/** A CA, a server certificate for db.example.test signed by it, and an unrelated CA. */
async function makePki(): Promise<Pki> {
  const openssl = requireBinary('openssl', 'openssl');
  const run = (args: string[]) => promisify(execFile)(openssl, args);
  const dir = await mkdtemp(join(tmpdir(), 'vigil-tls-'));
  const f = (n: string) => join(dir, n);
  for (const ca of ['ca', 'other-ca']) {
    await run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${ca}.key`), '-out', f(`${ca}.pem`), '-days', '2', '-subj', `/CN=vigil test ${ca}`]);
  }
  await run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=db.example.test']);
  await writeFile(f('ext.cnf'), 'subjectAltName=DNS:db.example.test\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  await run(['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial',
    '-out', f('server.pem'), '-days', '2', '-extfile', f('ext.cnf')]);
  return { dir, ca: f('ca.pem'), otherCa: f('other-ca.pem'), cert: f('server.pem'), key: f('server.key') };
}

describe('TLS for mysql and postgres probes (real MariaDB and PostgreSQL, test CA)', () => {
  let pki: Pki;
  let topo: MariaTopology;
  let pg: PostgresServer;
  const mysqlUser = { user: 'vigil_tls', password: 'tls-pw-1' };

  before(async () => {
    pki = await makePki();
    // postgres runs as the postgres system user and wants its key private to it.
    const [uid, gid] = (await readFile('/etc/passwd', 'utf8')).split('\n').map((l) => l.split(':'))
      .filter((x) => x[0] === 'postgres').map((x) => [Number(x[2]), Number(x[3])])[0] ?? [];
    assert.ok(uid !== undefined, 'postgres system user missing: apt-get install -y postgresql');
    await chmod(pki.dir, 0o755);
    for (const file of [pki.cert, pki.key]) await chown(file, uid, gid);
    await chmod(pki.key, 0o600);
    await chmod(pki.cert, 0o644);
    [topo, pg] = await Promise.all([
      startMariaTopology({ replicas: 0 }),
      startPostgres({ settings: { ssl: 'on', ssl_cert_file: pki.cert, ssl_key_file: pki.key } }),
    ]);
    await topo.primary.query('CREATE USER ?@? IDENTIFIED BY ?', [mysqlUser.user, '127.0.0.1', mysqlUser.password]);
    await topo.primary.kill('SIGTERM');
    await topo.primary.start({ extraArgs: [`--ssl-cert=${pki.cert}`, `--ssl-key=${pki.key}`] });
  });
  after(async () => {
    await Promise.all([topo?.stop(), pg?.stop()]);
    if (pki) await rm(pki.dir, { recursive: true, force: true });
  });

  const mysql = (tls: unknown, host = '127.0.0.1') => runProbe({ type: 'mysql', address: `${host}:${topo.primary.port}`, ...mysqlUser, tls });
  const postgres = (tls: unknown) => runProbe({ type: 'postgres', address: `${pg.host}:${pg.port}`, user: pg.user, password: pg.password, database: pg.database, tls });

  it('mysql: verifies the chain against ca_file and connects', async () => {
    const r = await mysql({ ca_file: pki.ca });
    assert.equal(r.ok, true, r.message);
  });

  it('mysql: an unknown CA (tls: true uses the system CAs; or another ca_file) → tls', async () => {
    for (const tls of [true, { ca_file: pki.otherCa }]) {
      const r = await mysql(tls);
      assert.equal(r.reason, 'tls', `${JSON.stringify(tls)}: ${r.message}`);
    }
  });

  it('mysql: checks the host name of address against the certificate', async () => {
    const r = await mysql({ ca_file: pki.ca }, 'localhost');
    assert.equal(r.reason, 'tls', r.message);
    assert.match(r.message ?? '', /localhost|altname|Hostname/i);
    const skipped = await mysql({ insecure_skip_verify: true }, 'localhost');
    assert.equal(skipped.ok, true, `insecure_skip_verify connects anyway: ${skipped.message}`);
  });

  it('mysql: the session really is encrypted', async () => {
    const r = await runProbe({ type: 'mysql', address: `127.0.0.1:${topo.primary.port}`, ...mysqlUser, tls: { ca_file: pki.ca },
      query: "SELECT 1 FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'Ssl_cipher' AND VARIABLE_VALUE <> ''" });
    assert.match(r.message ?? '', /query returned 1 row/);
  });

  it('postgres: verifies chain and name (server_name) and connects over TLS', async () => {
    const r = await runProbe({ type: 'postgres', address: `${pg.host}:${pg.port}`, user: pg.user, password: pg.password, database: pg.database,
      tls: { ca_file: pki.ca, server_name: 'db.example.test' }, query: 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl' });
    assert.equal(r.ok, true, r.message);
    assert.match(r.message ?? '', /query returned 1 row/);
  });

  it('postgres: wrong CA, or a name the certificate does not carry → tls', async () => {
    const wrongCa = await postgres({ ca_file: pki.otherCa, server_name: 'db.example.test' });
    assert.equal(wrongCa.reason, 'tls', wrongCa.message);
    const wrongName = await postgres({ ca_file: pki.ca });
    assert.equal(wrongName.reason, 'tls', `127.0.0.1 is not in the certificate: ${wrongName.message}`);
    const skipped = await postgres({ insecure_skip_verify: true });
    assert.equal(skipped.ok, true, skipped.message);
  });
});
