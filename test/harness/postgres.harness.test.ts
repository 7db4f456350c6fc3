// Proves the Postgres harness is a real server that enforces password auth
// over TCP, as the Postgres probe will meet it in production, and that a
// standby made by startStandby() really streams from its primary.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startPostgres, startStandby, waitReplayed, type PostgresServer } from './postgres.js';

describe('Postgres harness', () => {
  let server: PostgresServer;

  before(async () => {
    const t0 = Date.now();
    server = await startPostgres();
    console.log(`# postgres ready in ${Date.now() - t0} ms`);
  });
  after(() => server?.stop());

  const connect = async (password: string): Promise<pg.Client> => {
    const client = new pg.Client({ host: server.host, port: server.port, user: server.user, password, database: server.database });
    await client.connect();
    return client;
  };

  it('accepts the password over TCP and answers SELECT 1', async () => {
    const client = await connect(server.password);
    try {
      const res = await client.query('SELECT 1 AS one, current_database() AS db');
      assert.deepEqual(res.rows, [{ one: 1, db: server.database }]);
    } finally {
      await client.end();
    }
    assert.deepEqual(await server.query('SELECT 2 AS two'), [{ two: 2 }]);
  });

  it('rejects a wrong password', async () => {
    await assert.rejects(connect(`${server.password}x`), (err: Error & { code?: string }) => {
      assert.equal(err.code, '28P01'); // invalid_password
      assert.match(err.message, /password authentication failed/);
      return true;
    });
  });

  it('startStandby(): a hot standby streaming from the primary, replaying its writes', async () => {
    const t0 = Date.now();
    const standby = await startStandby(server, { name: 'harness-standby' });
    try {
      console.log(`# streaming standby ready in ${Date.now() - t0} ms`);
      const [rx] = await standby.query('SELECT pg_is_in_recovery() AS recovery, status, sender_port FROM pg_stat_wal_receiver');
      assert.deepEqual(rx, { recovery: true, status: 'streaming', sender_port: server.port });
      const [tx] = await server.query("SELECT state, sync_state FROM pg_stat_replication WHERE application_name = 'harness-standby'");
      assert.deepEqual(tx, { state: 'streaming', sync_state: 'async' });
      await server.query('CREATE TABLE replicated AS SELECT 42 AS answer');
      await waitReplayed(server, standby);
      assert.deepEqual(await standby.query('SELECT answer FROM replicated'), [{ answer: 42 }]);
      await assert.rejects(standby.query('CREATE TABLE nope (x int)'), (err: Error & { code?: string }) => err.code === '25006');
      const pid = standby.pid();
      assert.ok(pid);
      await standby.stop();
      assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
    } finally {
      await standby.stop();
    }
  });

  it('stop() ends the postmaster', async () => {
    const pid = server.pid();
    assert.ok(pid);
    await server.stop();
    assert.equal(server.pid(), undefined);
    assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
  });
});
