// Proves the Postgres harness is a real server that enforces password auth
// over TCP, as the Postgres probe will meet it in production.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startPostgres, type PostgresServer } from './postgres.js';

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

  it('stop() ends the postmaster', async () => {
    const pid = server.pid();
    assert.ok(pid);
    await server.stop();
    assert.equal(server.pid(), undefined);
    assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
  });
});
