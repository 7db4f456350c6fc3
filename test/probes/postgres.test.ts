// The postgres probe against a real PostgreSQL: success and each failure
// reason from a real cause, the server-side statement timeout, TLS refused,
// unix socket, keepalive, and no connection left behind.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText } from '../../src/config/load.js';
import { PROBE_TYPES } from '../../src/probes/registry.js';
import type { ProbeResult } from '../../src/probes/types.js';
import { startPostgres, type PostgresServer } from '../harness/postgres.js';
import { freePort } from '../harness/ports.js';
import { buildProbe, observation } from '../helpers/probe.js';

function load(probe: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) {
  return parseConfigText(JSON.stringify({ probes: [{ name: 'pg', type: 'postgres', ...probe }] }), { probeTypes: PROBE_TYPES, schema: { env } });
}

const probeFrom = (fields: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) => buildProbe({ type: 'postgres', ...fields }, { env });

describe('postgres probe (real PostgreSQL)', () => {
  let pg: PostgresServer;
  let address: string;
  const user = 'vigil_probe';
  const password = 'pg-probe-secret-51';
  let dir: string;
  const hung: { server?: Server; sockets: Socket[] } = { sockets: [] };
  let base: Record<string, unknown>;

  before(async () => {
    pg = await startPostgres();
    address = `${pg.host}:${pg.port}`;
    await pg.query(`CREATE ROLE ${user} LOGIN PASSWORD '${password}'`);
    base = { address, user, password, database: pg.database };
    dir = await mkdtemp(join(tmpdir(), 'vigil-pg-test-'));
  });
  after(async () => {
    for (const s of hung.sockets) s.destroy();
    hung.server?.close();
    await pg?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const vigilSessions = async () =>
    Number((await pg.query<{ n: string }>("SELECT COUNT(*) AS n FROM pg_stat_activity WHERE application_name = 'vigil' AND usename = $1", [user]))[0].n);

  it('connects and runs SELECT 1, exporting connect and query time separately', async () => {
    const r = await probeFrom(base).run();
    assert.equal(r.ok, true, r.message);
    const connect = observation(r, 'db_connect_duration_seconds')!;
    const query = observation(r, 'db_query_duration_seconds')!;
    assert.ok(connect > 0 && connect < 1 && query > 0 && query < 1, `connect ${connect} query ${query}`);
    assert.match(r.message ?? '', /^vigil_probe@127\.0\.0\.1:\d+\/vigil: connected in .*query returned 1 row/);
    const more: ProbeResult[] = [];
    for (let i = 0; i < 10; i++) more.push(await probeFrom(base).run());
    const median = (f: (x: ProbeResult) => number) => more.map(f).sort((a, b) => a - b)[5] * 1000;
    console.log(`# postgres probe, median of 10 runs: ${median((x) => x.durationSeconds).toFixed(1)} ms `
      + `(connect ${median((x) => observation(x, 'db_connect_duration_seconds')!).toFixed(1)} ms, query ${median((x) => observation(x, 'db_query_duration_seconds')!).toFixed(1)} ms)`);
  });

  it('leaves no session behind without keepalive; keeps exactly one with it', async () => {
    const plain = probeFrom(base);
    for (let i = 0; i < 3; i++) assert.equal((await plain.run()).ok, true);
    for (let i = 0; i < 20 && (await vigilSessions()) > 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await vigilSessions(), 0);
    const kept = probeFrom({ ...base, keepalive: true });
    await kept.run();
    const second = await kept.run();
    assert.match(second.message ?? '', /reused connection/);
    assert.equal(await vigilSessions(), 1);
    await pg.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [user]);
    await new Promise((r) => setTimeout(r, 100));
    const third = await kept.run();
    assert.equal(third.ok, true, `reconnects after the server dropped the kept connection: ${third.message}`);
    await kept.probe.close?.();
  });

  it('reads the password from password_file and ${ENV}; connects over the unix socket', async () => {
    const file = join(dir, 'pw');
    await writeFile(file, `${password}\n`, { mode: 0o600 });
    const { password: _pw, ...noPw } = base;
    assert.equal((await probeFrom({ ...noPw, password_file: file }).run()).ok, true);
    assert.equal((await probeFrom({ ...noPw, password: '${PG_PW}' }, { PG_PW: password }).run()).ok, true);
    const { address: _a, ...noAddr } = base;
    const sock = await probeFrom({ ...noAddr, socket: pg.dir, port: pg.port }).run();
    assert.equal(sock.ok, true, sock.message);
    assert.match(sock.message ?? '', /unix:.*\.s\.PGSQL\.\d+/);
  });

  it('wrong password → auth (SQLSTATE 28P01), the password never shown', async () => {
    const r = await probeFrom({ ...base, password: 'wrong-pg-pw-77' }).run();
    assert.equal(r.reason, 'auth', r.message);
    assert.match(r.message ?? '', /28P01/);
    assert.doesNotMatch(r.message ?? '', /wrong-pg-pw-77|pg-probe-secret/);
  });

  it('unknown database → auth (3D000)', async () => {
    const r = await probeFrom({ ...base, database: 'nope' }).run();
    assert.equal(r.reason, 'auth', r.message);
    assert.match(r.message ?? '', /3D000/);
  });

  it('closed port → connect_refused', async () => {
    const r = await probeFrom({ ...base, address: `127.0.0.1:${await freePort()}` }).run();
    assert.equal(r.reason, 'connect_refused', r.message);
  });

  it('a listener that accepts and never answers → timeout, within the timeout plus a small margin', async () => {
    const port = await freePort();
    // Reads (and ignores) what the client sends, so its FIN is seen.
    hung.server = createServer((s) => { hung.sockets.push(s); s.resume(); });
    await new Promise<void>((r) => hung.server!.listen(port, '127.0.0.1', r));
    const { run, cfg: { timeoutMs } } = probeFrom({ ...base, address: `127.0.0.1:${port}`, timeout: '700ms', interval: '5s' });
    const t0 = Date.now();
    const r = await run();
    const took = Date.now() - t0;
    assert.equal(r.reason, 'timeout', r.message);
    console.log(`# postgres hung listener: reason timeout after ${took} ms (timeout ${timeoutMs} ms): ${r.message}`);
    assert.ok(took >= timeoutMs - 20 && took < timeoutMs + 250, `took ${took} ms`);
    await new Promise((res) => setTimeout(res, 100));
    assert.ok(hung.sockets.length > 0 && hung.sockets.every((s) => s.readableEnded || s.destroyed), 'hung connection was closed');
  });

  it('a slow statement is cancelled by the server: timeout (SQLSTATE 57014 or the abort)', async () => {
    const { run, cfg: { timeoutMs } } = probeFrom({ ...base, query: 'SELECT pg_sleep(5)', timeout: '500ms', interval: '5s' });
    const t0 = Date.now();
    const r = await run();
    assert.equal(r.reason, 'timeout', r.message);
    assert.ok(Date.now() - t0 < timeoutMs + 250);
  });

  it('unknown host → dns; failing query → query; forbidden table → auth', async () => {
    assert.equal((await probeFrom({ ...base, address: 'no-such-host.invalid:5432' }).run()).reason, 'dns');
    const q = await probeFrom({ ...base, query: 'SELECT no_such_column' }).run();
    assert.equal(q.reason, 'query', q.message);
    assert.match(q.message ?? '', /42703/);
    const forbidden = await probeFrom({ ...base, query: 'SELECT * FROM pg_authid' }).run();
    assert.equal(forbidden.reason, 'auth', forbidden.message);
    assert.match(forbidden.message ?? '', /42501/);
  });

  it('tls: true against a server without TLS → tls', async () => {
    const r = await probeFrom({ ...base, tls: true }).run();
    assert.equal(r.reason, 'tls', r.message);
  });

  it('rejects configs that cannot work', () => {
    assert.equal(load({ user }).ok, false, 'needs address or socket');
    const both = load({ ...base, password_file: '/etc/hostname' });
    assert.match(JSON.stringify(!both.ok && both.problems), /either password or password_file/);
  });
});
