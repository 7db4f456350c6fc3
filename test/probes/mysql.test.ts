// The mysql probe against a real MariaDB: success, and each failure reason
// from a real cause (wrong password, closed port, a listener that never
// answers, unknown host, bad query, TLS refused), plus the connection rules.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText } from '../../src/config/load.js';
import { PROBE_TYPES } from '../../src/probes/registry.js';
import type { ProbeResult } from '../../src/probes/types.js';
import { startMariaTopology, type MariaTopology } from '../harness/mariadb.js';
import { freePort } from '../harness/ports.js';
import { buildProbe, observation } from '../helpers/probe.js';

function load(probe: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) {
  return parseConfigText(JSON.stringify({ probes: [{ name: 'db', ...probe }] }), { probeTypes: PROBE_TYPES, schema: { env } });
}

const probeFrom = (fields: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) => buildProbe(fields, { env });

describe('mysql probe (real MariaDB)', () => {
  let topo: MariaTopology;
  let address: string;
  const user = 'vigil_probe';
  const password = 'probe-secret-7f3a';
  let dir: string;
  const hung: { server?: Server; sockets: Socket[] } = { sockets: [] };

  before(async () => {
    topo = await startMariaTopology({ replicas: 0 });
    address = `127.0.0.1:${topo.primary.port}`;
    dir = await mkdtemp(join(tmpdir(), 'vigil-mysql-test-'));
    for (const host of ['127.0.0.1', 'localhost']) {
      await topo.primary.query('CREATE USER ?@? IDENTIFIED BY ?', [user, host, password]);
    }
  });
  after(async () => {
    for (const s of hung.sockets) s.destroy();
    hung.server?.close();
    await topo?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const connectionsOf = async (u: string) =>
    (await topo.primary.query<{ n: number }>('SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ?', [u]))[0].n;

  it('connects and runs SELECT 1, exporting connect and query time separately', async () => {
    const { run } = probeFrom({ type: 'mysql', address, user, password });
    const r = await run();
    assert.equal(r.ok, true, r.message);
    const connect = observation(r, 'db_connect_duration_seconds');
    const query = observation(r, 'db_query_duration_seconds');
    assert.ok(connect !== undefined && connect > 0 && connect < 1, `connect ${connect}`);
    assert.ok(query !== undefined && query > 0 && query < 1, `query ${query}`);
    assert.match(r.message ?? '', /vigil_probe@127\.0\.0\.1:\d+: connected in .*query returned 1 row/);
    const more: ProbeResult[] = [];
    for (let i = 0; i < 10; i++) more.push(await run());
    const median = (f: (x: ProbeResult) => number) => more.map(f).sort((a, b) => a - b)[5] * 1000;
    console.log(`# mysql probe, median of 10 runs: ${median((x) => x.durationSeconds).toFixed(1)} ms `
      + `(connect ${median((x) => observation(x, 'db_connect_duration_seconds')!).toFixed(1)} ms, query ${median((x) => observation(x, 'db_query_duration_seconds')!).toFixed(1)} ms)`);
  });

  it('closes its connection after each run unless keepalive is set', async () => {
    const { run } = probeFrom({ type: 'mysql', address, user, password });
    for (let i = 0; i < 3; i++) assert.equal((await run()).ok, true);
    // COM_QUIT is asynchronous on the server side; give it a moment.
    for (let i = 0; i < 20 && (await connectionsOf(user)) > 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await connectionsOf(user), 0);
  });

  it('with keepalive: true reuses one connection and reconnects when the server drops it', async () => {
    const { run, probe } = probeFrom({ type: 'mysql', address, user, password, keepalive: true, query: 'SELECT CONNECTION_ID()' });
    const first = await run();
    const second = await run();
    assert.equal(first.ok && second.ok, true);
    assert.match(second.message ?? '', /reused connection/);
    assert.equal(observation(second, 'db_connect_duration_seconds'), 0);
    assert.equal(await connectionsOf(user), 1);
    const [{ id }] = await topo.primary.query<{ id: number }>('SELECT ID AS id FROM information_schema.PROCESSLIST WHERE USER = ?', [user]);
    await topo.primary.query(`KILL ${Number(id)}`);
    await new Promise((r) => setTimeout(r, 100));
    const third = await run();
    assert.equal(third.ok, true, third.message);
    assert.match(third.message ?? '', /connected in/);
    await probe.close?.();
  });

  it('reads the password from password_file and from ${ENV}', async () => {
    const file = join(dir, 'pw');
    await writeFile(file, `${password}\n`, { mode: 0o600 });
    assert.equal((await probeFrom({ type: 'mysql', address, user, password_file: file }).run()).ok, true);
    assert.equal((await probeFrom({ type: 'mysql', address, user, password: '${DB_PW}' }, { DB_PW: password }).run()).ok, true);
  });

  it('connects over the unix socket', async () => {
    const r = await probeFrom({ type: 'mysql', socket: topo.primary.socket, user, password }).run();
    assert.equal(r.ok, true, r.message);
    assert.match(r.message ?? '', /vigil_probe@unix:\//);
  });

  it('wrong password → auth, and the message never shows a password', async () => {
    const r = await probeFrom({ type: 'mysql', address, user, password: 'wrong-pw-91c2' }).run();
    assert.equal(r.ok, false);
    assert.equal(r.reason, 'auth', r.message);
    assert.match(r.message ?? '', /1045/);
    assert.doesNotMatch(r.message ?? '', /wrong-pw-91c2|probe-secret/);
    assert.ok(Number.isNaN(observation(r, 'db_query_duration_seconds')), 'query time is NaN when the query never ran');
  });

  it('closed port → connect_refused', async () => {
    const r = await probeFrom({ type: 'mysql', address: `127.0.0.1:${await freePort()}`, user, password }).run();
    assert.equal(r.reason, 'connect_refused', r.message);
  });

  it('a listener that accepts and never answers → timeout, within the timeout plus a small margin', async () => {
    const port = await freePort();
    // Reads (and ignores) what the client sends, so its FIN is seen.
    hung.server = createServer((s) => { hung.sockets.push(s); s.resume(); });
    await new Promise<void>((r) => hung.server!.listen(port, '127.0.0.1', r));
    const { run, cfg: { timeoutMs } } = probeFrom({ type: 'mysql', address: `127.0.0.1:${port}`, user, password, timeout: '700ms', interval: '5s' });
    const t0 = Date.now();
    const r = await run();
    const took = Date.now() - t0;
    assert.equal(r.reason, 'timeout', r.message);
    console.log(`# hung listener: reason timeout after ${took} ms (timeout ${timeoutMs} ms): ${r.message}`);
    assert.ok(took >= timeoutMs - 20 && took < timeoutMs + 250, `took ${took} ms for timeout ${timeoutMs} ms`);
    // The socket is destroyed on abort: the server side sees the close.
    await new Promise((res) => setTimeout(res, 100));
    assert.ok(hung.sockets.length > 0 && hung.sockets.every((s) => s.readableEnded || s.destroyed), 'hung connection was closed');
  });

  it('unknown host → dns', async () => {
    const r = await probeFrom({ type: 'mysql', address: 'no-such-host.invalid:3306', user, password }).run();
    assert.equal(r.reason, 'dns', r.message);
  });

  it('a failing query → query, with the server error', async () => {
    const r = await probeFrom({ type: 'mysql', address, user, password, query: 'SELECT no_such_column' }).run();
    assert.equal(r.reason, 'query', r.message);
    assert.match(r.message ?? '', /query vigil_probe@.*ER_BAD_FIELD_ERROR \(1054\)/);
  });

  it('a query the user may not run → auth (grants), not query', async () => {
    const r = await probeFrom({ type: 'mysql', address, user, password, query: 'SELECT * FROM mysql.user' }).run();
    assert.equal(r.reason, 'auth', r.message);
  });

  it('tls: true against a server without TLS → tls', async () => {
    const r = await probeFrom({ type: 'mysql', address, user, password, tls: true }).run();
    assert.equal(r.reason, 'tls', r.message);
  });

  it('rejects configs that cannot work, with the field named', () => {
    const both = load({ type: 'mysql', address, socket: '/tmp/x.sock', user });
    assert.equal(both.ok, false);
    assert.match(JSON.stringify(!both.ok && both.problems), /either address .* or socket/);
    const neither = load({ type: 'mysql', user });
    assert.equal(neither.ok, false);
    const twoPasswords = load({ type: 'mysql', address, user, password: 'x', password_file: '/etc/hostname' });
    assert.match(JSON.stringify(!twoPasswords.ok && twoPasswords.problems), /probes\[0\]\.password_file.*either password or password_file/);
    const sni = load({ type: 'mysql', address, user, tls: { server_name: 'db.example' } });
    assert.match(JSON.stringify(!sni.ok && sni.problems), /tls\.server_name/);
    const unknownKey = load({ type: 'mysql', address, user, passwd: 'x' });
    assert.equal(unknownKey.ok, false);
  });
});
