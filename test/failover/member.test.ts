// The member loop on real servers: it writes the first primary record, and
// when the record names a new primary, replicas follow it and a writable
// old primary is fenced — also after it restarts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { startEtcd, type EtcdCluster } from '../harness/etcd.js';
import { startMariaTopology, type MariaNode, type MariaTopology } from '../harness/mariadb.js';
import { createEtcdClient, etcdConfigSchema } from '../../src/coordination/etcd-client.js';
import { clusterKeys, publishPrimary, readPrimary } from '../../src/coordination/cluster-records.js';
import { FailoverClusters } from '../../src/failover/clusters.js';
import type { FailoverSettings } from '../../src/failover/settings.js';
import type { Etcd3 } from 'etcd3';

let etcd: EtcdCluster;
let topo: MariaTopology;
const clients: Etcd3[] = [];
const sets: FailoverClusters[] = [];
const logger = pino({ level: process.env.VIGIL_TEST_LOG ?? 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const t0 = Date.now();
  let last: unknown;
  for (;;) {
    try { const v = await fn(); if (v) return v; } catch (err) { last = err; }
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(100);
  }
}

function settings(node: MariaNode): FailoverSettings {
  return {
    cluster: 'orders', local: { host: '127.0.0.1', port: node.port, user: topo.admin.user, password: topo.admin.password },
    advertise: { host: '127.0.0.1', port: node.port }, priority: 100, maxLagMs: 10_000, catchupTimeoutMs: 10_000,
    recoveryBlockMs: 0, fenceTimeoutMs: 2000, memberIntervalMs: 300, viewStaleAfterMs: 5000, bootstrap: true,
    primaryLease: { ttlMs: 4000, renewIntervalMs: 500, renewDeadlineMs: 2000, fenceWithinMs: 1000 }, replicaNetTimeoutMs: 4000,
  };
}

function member(name: string, node: MariaNode): FailoverClusters {
  const client = createEtcdClient(etcdConfigSchema({}).parse({ endpoints: etcd.endpoints }));
  clients.push(client);
  const set = new FailoverClusters({
    client, prefix: '/m', name, leaseTtlSeconds: 2, logger, env: {}, now: Date.now,
    lockHeld: () => undefined, setEpoch: () => undefined, setFenced: () => undefined, setPrimaryLeaseHeld: () => undefined, setErrant: () => undefined,
    control: { paused: () => false, dryRun: () => false, journal: async () => true },
  });
  sets.push(set);
  void set.apply([settings(node)]);
  return set;
}

const ro = async (n: MariaNode) => Number((await n.query<{ ro: number }>('SELECT @@read_only AS ro'))[0].ro);

before(async () => {
  [etcd, topo] = await Promise.all([startEtcd({ nodes: 1 }), startMariaTopology({ replicas: 2 })]);
});

after(async () => {
  for (const s of sets) await s.stop().catch(() => undefined);
  for (const c of clients) c.close();
  await Promise.all([topo?.stop(), etcd?.stop()]);
});

test('member loops: bootstrap, follow the new primary, fence the old one (also after its restart)', async () => {
  const [r1, r2] = topo.replicas;
  const db1 = member('db1', topo.primary);
  member('db2', r1);
  const db3 = member('db3', r2);
  const client = clients[0];
  const keys = clusterKeys('/m', 'orders');

  const first = await until('the bootstrap record', () => readPrimary(client, keys));
  assert.equal(first.value.name, 'db1');
  assert.equal(first.value.epoch, 1);
  assert.equal(first.value.port, topo.primary.port);
  await until('three member views', async () => (await client.getAll().prefix(keys.membersPrefix).keys()).length === 3);

  // Promote replica1 by hand and publish the record, as a promoter would.
  await r1.query('STOP REPLICA');
  await r1.query('RESET REPLICA ALL');
  await r1.query('SET GLOBAL read_only = OFF');
  const won = await publishPrimary(client, keys, first.modRevision, {
    name: 'db2', host: '127.0.0.1', port: r1.port, server_id: r1.serverId, epoch: 2,
    promoted_at: new Date().toISOString(), promoted_by: 'db2/test', previous: { name: 'db1', epoch: 1 },
  }, undefined);
  assert.ok(won);

  await until('db1 fenced', async () => (await ro(topo.primary)) === 1, 10_000);
  await until('replica2 following replica1', async () => {
    const [s] = await r2.query<Record<string, unknown>>('SHOW REPLICA STATUS');
    return s && Number(s.Master_Port) === r1.port && s.Slave_IO_Running === 'Yes' && s.Slave_SQL_Running === 'Yes';
  });
  await r1.query('CREATE DATABASE IF NOT EXISTS t1');
  await r1.query('CREATE TABLE t1.x (id int primary key)');
  await r1.query('INSERT INTO t1.x VALUES (42)');
  await until('the row on replica2', async () => (await r2.query('SELECT id FROM t1.x WHERE id = 42').catch(() => [])).length === 1);
  assert.equal(await ro(r1), 0, 'the new primary stays writable');

  type Events = { events: Array<{ kind: string; ok: boolean }> };
  const s1 = (db1.status().clusters as Record<string, Events>).orders;
  assert.ok(s1.events.some((e) => e.kind === 'fence' && e.ok), JSON.stringify(s1.events));
  const s3 = (db3.status().clusters as Record<string, Events>).orders;
  assert.ok(s3.events.some((e) => e.kind === 'follow' && e.ok), JSON.stringify(s3.events));
  await until('the follow verified', async () => (db3.status().clusters as Record<string, Events>).orders.events.some((e) => e.kind === 'follow_verified' && e.ok));

  // The old primary comes back writable (its config says nothing of read_only): fenced again.
  await topo.primary.kill();
  await topo.primary.start();
  assert.equal(await ro(topo.primary), 0, 'restarted writable, as a crashed primary would');
  const t0 = Date.now();
  await until('db1 fenced after restart', async () => (await ro(topo.primary)) === 1, 10_000);
  console.log(`# restarted old primary fenced ${Date.now() - t0} ms after it accepted connections`);
});
