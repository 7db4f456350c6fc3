// Proves the partition lab itself (no vigil agents): three MariaDB servers in
// their own namespaces replicate; an application next to the primary gets
// acknowledgements and the application user is stopped by read_only; cutting
// the primary's host reproduces the production problem (with MariaDB's default
// timing the replicas' IO threads keep saying `Yes` while the cut primary goes
// on accepting its local application's writes); healing catches up; etcd
// keeps quorum with a member cut; stop() leaves nothing behind.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Etcd3 } from 'etcd3';
import { sleep, until } from './lab.js';
import { PartitionLab } from './partition-lab.js';
import type { ReadOnlySampler } from './partition-app.js';

let lab: PartitionLab;
let sampler: ReadOnlySampler;

type ReplicaStatus = Record<string, unknown>;
const io = async (m: 'db2' | 'db3'): Promise<ReplicaStatus> => (await lab.node(m).query<ReplicaStatus>('SHOW REPLICA STATUS'))[0];

/** Put with a 1 s deadline per attempt on a fresh client (etcd3's circuit breaker would hide recovery); ms to success. */
async function putWithin(key: string, withinMs: number): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const c = new Etcd3({ hosts: lab.etcd.endpoints, dialTimeout: 1000 });
    try {
      await c.put(key).value(String(t0)).options({ deadline: Date.now() + 1000 });
      return Date.now() - t0;
    } catch (err) {
      if (Date.now() - t0 > withinMs) throw err;
    } finally { c.close(); }
  }
}

before(async () => {
  const t0 = Date.now();
  lab = await PartitionLab.start();
  console.log(`# partition lab ${lab.net.prefix} on ${lab.net.subnet} ready in ${Date.now() - t0} ms`);
  sampler = lab.startSampler();
});
after(() => lab?.stop());

test('a row written on db1 replicates to db2 and db3; replicas are read-only, default slave_net_timeout', async () => {
  await lab.node('db1').query('CREATE TABLE app.probe (v VARCHAR(20) PRIMARY KEY)');
  await lab.node('db1').query("INSERT INTO app.probe VALUES ('hello')");
  for (const m of ['db2', 'db3'] as const) {
    await lab.topo.waitReplicaCaughtUp(lab.node(m));
    assert.deepEqual(await lab.node(m).query('SELECT v FROM app.probe'), [{ v: 'hello' }]);
    const s = await io(m);
    assert.equal(s.Master_Host, lab.addr('db1'));
    assert.equal(s.Slave_IO_Running, 'Yes');
    const [{ t, ro }] = await lab.node(m).query<{ t: number; ro: number }>('SELECT @@slave_net_timeout AS t, @@read_only AS ro');
    assert.equal(Number(t), 60, 'MariaDB default, not the loopback harness\'s 2 s');
    assert.equal(Number(ro), 1);
  }
  await until('sampler sees db1 writable, db2/db3 read-only', async () => sampler.rounds.at(-1)?.states.db1 === 0 && sampler.rounds.at(-1)?.states.db2 === 1);
});

test('the application user is refused by read_only (no SUPER / READ ONLY ADMIN)', async () => {
  const w = lab.startWriter('db2', 'db2', 'ro-check');
  try {
    const e = await until('a refused write on db2', async () => w.errors.find((x) => x.code === 'ER_OPTION_PREVENTS_STATEMENT'), 15_000);
    assert.match(e.message, /read-only/);
    assert.equal(w.acks.length, 0);
  } finally { await w.stop(); }
});

test('cut db1: replicas do not notice within 5 s, the writer next to db1 keeps getting acknowledgements', async () => {
  const w = lab.startWriter('db1', 'db1', 'app1');
  const first = await until('the writer in db1 acknowledged', async () => w.acks[0], 15_000);
  assert.equal(first.serverId, 1);
  const before = await lab.record(); // no agents: nothing there, but etcd must answer
  assert.equal(before, undefined);

  const t0 = Date.now();
  await lab.cut('db1');
  await assert.rejects(lab.node('db1').query('SELECT 1'), 'db1 is unreachable from the root namespace');
  while (Date.now() - t0 < 5000) {
    for (const m of ['db2', 'db3'] as const) {
      const s = await io(m);
      assert.equal(s.Slave_IO_Running, 'Yes', `${m}'s IO thread noticed after ${Date.now() - t0} ms (${String(s.Last_IO_Error)})`);
    }
    await sleep(500);
  }
  const during = w.acksSince(t0);
  console.log(`# ${during.length} writes acknowledged by the cut db1 in ${Date.now() - t0} ms; db2 IO thread still Yes`);
  assert.ok(during.length >= 25, `writer acknowledged only ${during.length} writes while db1 was cut`);
  assert.ok(during.every((a) => a.serverId === 1));
  assert.equal(Number((await lab.node('db1').socketQuery<{ ro: number }>('SELECT @@read_only AS ro'))[0].ro), 0,
    'over its socket, the cut db1 is still writable');
  const cutRounds = sampler.rounds.filter((r) => r.t > t0 + 1500);
  assert.ok(cutRounds.length > 5 && cutRounds.every((r) => r.states.db1 === null), 'the sampler cannot reach db1');
  assert.deepEqual(sampler.twoWritable(), []);

  const ms = await putWithin(`/plab-check/${Date.now()}`, 5000);
  console.log(`# etcd put from the root namespace with db1 cut: ${ms} ms`);

  await lab.heal('db1');
  const t1 = Date.now();
  for (const m of ['db2', 'db3'] as const) await lab.topo.waitReplicaCaughtUp(lab.node(m), 30_000);
  console.log(`# after heal, db2 and db3 caught up in ${Date.now() - t1} ms`);
  const last = w.lastAck()!;
  await until('the last acknowledged write is on db3', async () =>
    (await lab.node('db3').query('SELECT 1 FROM app.writes WHERE id = ?', [last.id])).length === 1, 10_000);
  await w.stop();
});

test('etcd keeps quorum with one member cut; the cut member cannot serve', async () => {
  const leader = await lab.etcd.leader();
  const host = leader.name as 'e1' | 'e2' | 'e3';
  await lab.cut(host);
  try {
    const ms = await putWithin(`/plab-check/leader-cut-${Date.now()}`, 10_000);
    console.log(`# etcd leader ${host} cut: a put succeeded ${ms} ms later`);
    const only = new Etcd3({ hosts: [leader.endpoint], dialTimeout: 500 });
    try {
      await assert.rejects(async () => { await only.put('/plab-check/x').value('1').options({ deadline: Date.now() + 1500 }); });
    } finally { only.close(); }
  } finally {
    await lab.heal(host);
  }
  await until(`${host} serves again`, async () => {
    const c = new Etcd3({ hosts: [leader.endpoint], dialTimeout: 500 });
    try { await c.put('/plab-check/back').value('1').options({ deadline: Date.now() + 1000 }); return true; } finally { c.close(); }
  }, 15_000);
});

test('stop() kills every process and deletes every namespace', async () => {
  const pids = [...lab.topo.nodes.map((n) => n.pid()), ...lab.net.hosts.flatMap((h) => lab.net.pids(h))]
    .filter((p): p is number => p !== undefined);
  assert.ok(pids.length >= 9, `mariadbd ×3, etcd ×3, forwarders ×3 running (${pids.length})`);
  await lab.stop();
  for (const pid of pids) assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `pid ${pid} still alive`);
  const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').filter((l) => l.startsWith(lab.net.prefix));
  assert.deepEqual(left, []);
});
