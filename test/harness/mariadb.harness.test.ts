// Proves the MariaDB harness gives real, working GTID replication, and that a
// dead primary shows up on replicas the way failover code will see it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { startMariaTopology, type MariaNode, type MariaTopology } from './mariadb.js';

type ReplicaStatus = Record<string, string | number | null>;

async function replicaStatus(node: MariaNode): Promise<ReplicaStatus> {
  const [s] = await node.query<ReplicaStatus>('SHOW REPLICA STATUS');
  assert.ok(s, `${node.name} has no replica status`);
  return s;
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// mariadbd processes whose command line mentions this topology's temp dir.
function mariadbdPidsUnder(dir: string): number[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).filter((pid) => {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      return cmd.includes('mariadbd') && cmd.includes(dir);
    } catch {
      return false; // exited meanwhile
    }
  });
}

describe('MariaDB harness', () => {
  let topo: MariaTopology;

  before(async () => {
    const t0 = Date.now();
    topo = await startMariaTopology({ replicas: 2 });
    console.log(`# primary + 2 replicas ready in ${Date.now() - t0} ms`);
  });
  after(() => topo?.stop());

  it('replicates a row from the primary to both replicas', async () => {
    await topo.primary.query('CREATE DATABASE harness');
    await topo.primary.query('CREATE TABLE harness.t (id INT PRIMARY KEY, v VARCHAR(20))');
    await topo.primary.query('INSERT INTO harness.t VALUES (?, ?)', [1, 'hello']);
    for (const r of topo.replicas) {
      await topo.waitReplicaCaughtUp(r);
      assert.deepEqual(await r.query('SELECT id, v FROM harness.t'), [{ id: 1, v: 'hello' }]);
    }
  });

  it('shows both replication threads running on healthy replicas', async () => {
    for (const r of topo.replicas) {
      const s = await replicaStatus(r);
      assert.equal(s.Slave_IO_Running, 'Yes');
      assert.equal(s.Slave_SQL_Running, 'Yes');
      assert.equal(s.Master_Port, topo.primary.port);
      assert.equal(s.Seconds_Behind_Master, 0);
      const [{ ro }] = await r.query<{ ro: number }>('SELECT @@read_only AS ro');
      assert.equal(ro, 1);
    }
  });

  it('replicas notice a SIGKILLed primary within a few seconds', async () => {
    const pid = topo.primary.pid();
    assert.ok(pid);
    const t0 = Date.now();
    await topo.primary.kill('SIGKILL');
    assert.equal(topo.primary.isRunning(), false);
    const s = await waitFor('IO thread Connecting with errno 2003', 5_000, async () => {
      const st = await replicaStatus(topo.replicas[0]);
      return st.Slave_IO_Running === 'Connecting' && st.Last_IO_Errno === 2003 ? st : undefined;
    });
    console.log(`# replica1 reported Connecting/2003 ${Date.now() - t0} ms after SIGKILL: ${String(s.Last_IO_Error)}`);
    assert.equal(s.Slave_SQL_Running, 'Yes');
    assert.equal(s.Seconds_Behind_Master, null);
  });

  it('stop() leaves no mariadbd process behind', async () => {
    const pids = topo.nodes.map((n) => n.pid()).filter((p): p is number => p !== undefined);
    assert.equal(pids.length, 2, 'both replicas still running before stop()');
    assert.deepEqual(mariadbdPidsUnder(topo.dir).sort(), pids.sort());
    await topo.stop();
    assert.deepEqual(mariadbdPidsUnder(topo.dir), []);
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
    for (const n of topo.nodes) assert.equal(n.isRunning(), false);
  });
});
