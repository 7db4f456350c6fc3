// Proves the etcd harness gives real etcd semantics: reads/writes, leader
// failover, and loss of quorum.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { startEtcd } from './etcd.js';

// Write with a 1 s gRPC deadline per attempt, retrying until `withinMs`;
// returns ms until the first success, throws the last error otherwise.
// A fresh client per attempt on purpose: etcd3's default per-host circuit
// breaker opens for 5 s after 3 consecutive failures (one call with its 3
// retries is enough), which would hide how fast etcd itself recovers.
async function writeWithin(hosts: string[], key: string, withinMs: number): Promise<number> {
  const t0 = Date.now();
  let last: unknown;
  while (Date.now() - t0 < withinMs) {
    const client = new Etcd3({ hosts });
    try {
      await client.put(key).value(String(t0)).options({ deadline: Date.now() + 1000 });
      return Date.now() - t0;
    } catch (err) {
      last = err;
    } finally {
      client.close();
    }
  }
  throw last;
}

test('1-node etcd: put/get', async () => {
  const t0 = Date.now();
  const etcd = await startEtcd({ nodes: 1 });
  console.log(`# etcd 1-node healthy in ${Date.now() - t0} ms`);
  const client = new Etcd3({ hosts: etcd.endpoints });
  try {
    await client.put('vigil/a').value('1');
    assert.equal(await client.get('vigil/a').string(), '1');
  } finally {
    client.close();
    await etcd.stop();
  }
  assert.equal(etcd.members[0].isRunning(), false);
});

test('3-node etcd: leader loss keeps writes, quorum loss stops them', async () => {
  const t0 = Date.now();
  const etcd = await startEtcd({ nodes: 3 });
  console.log(`# etcd 3-node healthy in ${Date.now() - t0} ms`);
  const clients: Etcd3[] = [];
  try {
    const all = new Etcd3({ hosts: etcd.endpoints });
    clients.push(all);
    await all.put('vigil/b').value('x');
    assert.equal(await all.get('vigil/b').string(), 'x');

    const leader = await etcd.leader();
    await leader.kill();
    assert.equal(leader.isRunning(), false);
    const failoverMs = await writeWithin(etcd.endpoints, 'vigil/after-leader-kill', 5000);
    console.log(`# write OK ${failoverMs} ms after SIGKILL of leader ${leader.name}`);

    const survivors = etcd.members.filter((m) => m.isRunning());
    await survivors[1].kill();
    const lone = new Etcd3({ hosts: survivors[0].endpoint });
    clients.push(lone);
    const t1 = Date.now();
    await assert.rejects(lone.put('vigil/no-quorum').value('y').options({ deadline: Date.now() + 2000 }).exec());
    const failMs = Date.now() - t1;
    console.log(`# write without quorum failed after ${failMs} ms`);
    assert.ok(failMs < 10_000, `no-quorum write took ${failMs} ms to fail`);

    // Restarting one member on its old data dir restores quorum.
    const t2 = Date.now();
    await survivors[1].start();
    await writeWithin(etcd.endpoints, 'vigil/quorum-back', 10_000);
    console.log(`# quorum back, write OK ${Date.now() - t2} ms after restart of ${survivors[1].name}`);
  } finally {
    for (const c of clients) c.close();
    await etcd.stop();
  }
  assert.ok(etcd.members.every((m) => !m.isRunning()));
});
