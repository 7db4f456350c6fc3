// The primary lease on the real loopback lab (MariaDB primary + 2 replicas,
// 3-node etcd, three agent processes): a primary that loses etcd fences
// itself at its deadline and comes back when etcd does; a dead mysqld
// releases the lease at once; a dead host's lease is waited out; a cloned
// member name takes no part; a paused member withholds its repairs.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { AgentProc, Lab, MEMBERS, PRIORITY, sleep, until, type Member } from './lab.js';
import { caughtUp, decision, others, replicatesFrom, writable } from './steps.js';
import { startTcpProxy } from '../harness/tcp-proxy.js';

let lab: Lab;
let current: Member = 'db1';
const APP = { user: 'lab_app', password: 'lab-app-pw' };
// As the lab's agents are configured (lab.ts): primary_lease ttl 4s, renew_deadline 2s, fence_within 1s.
const TTL_MS = 4000;
const RENEW_DEADLINE_MS = 2000;
const FENCE_WITHIN_MS = 1000;

before(async () => {
  lab = await Lab.start();
  await lab.fresh('db1');
  await lab.createApp('db1', APP);
});
after(async () => { await lab?.stop(); });

const byPriority = (ms: Member[]) => [...ms].sort((a, b) => PRIORITY[b] - PRIORITY[a]);

async function leaseKey(): Promise<{ member: string } | null> {
  return await lab.client.get(lab.keys().primaryLease).json() as { member: string } | null;
}

async function journalWrites(m: Member): Promise<Array<{ kind: string; outcome: string; detail: string }>> {
  return (await lab.agents[m].journal()).filter((r) => r.event === 'cluster_write');
}

test('etcd completely gone: the healthy primary fences itself at its renew deadline, kills app sessions, runs on_fence; back when etcd is', async () => {
  const hookFile = join(lab.dir, 'on-fence-ran');
  await lab.restartAgents({ onFence: ['sh', '-c', `printf '%s' "$VIGIL_FENCE_REASON" > ${hookFile}`] });
  const rec = await lab.settled(current);
  await until(`${current} holds the primary lease`, async () => (await leaseKey())?.member === current);
  const app = await mysql.createConnection({ host: '127.0.0.1', port: lab.node(current).port, ...APP });
  await app.query('INSERT INTO lab.t (v) VALUES (?)', [`before-etcd-loss-${Date.now()}`]);
  const t0 = Date.now();
  await Promise.all(lab.etcd.members.map((m) => m.kill()));
  try {
    await until(`${current} read_only`, async () => (await lab.readOnly(current)) === 1, 10_000, 20);
    const fencedMs = Date.now() - t0;
    console.log(`# etcd gone → primary read_only after ${fencedMs} ms (renew_deadline ${RENEW_DEADLINE_MS} ms, fence_within ${FENCE_WITHIN_MS} ms, ttl ${TTL_MS} ms)`);
    // The deadline fired (not some later loop), and the fence was done before anyone could see the key expire.
    assert.ok(fencedMs <= RENEW_DEADLINE_MS + FENCE_WITHIN_MS, `fenced ${fencedMs} ms after etcd died`);
    assert.ok(fencedMs < TTL_MS - 500, 'fenced with room to spare before the lease could expire');
    await assert.rejects(app.query('INSERT INTO lab.t (v) VALUES (?)', [`after-fence-${Date.now()}`]), 'the application session was killed');
    await until('on_fence ran', async () => existsSync(hookFile));
    assert.match(await readFile(hookFile, 'utf8'), /renew_deadline/);
    const st = (await lab.agents[current].status()).failover.clusters.orders;
    assert.match(st.guard.last_loss, /no renewal of .*primary_lease succeeded within renew_deadline 2s/);
    assert.ok(st.events.some((e: { kind: string; ok: boolean; detail: string }) => e.kind === 'fence' && e.ok && /killed [1-9]\d* client session/.test(e.detail)), JSON.stringify(st.events.slice(0, 4)));
    assert.equal(await lab.agents[current].metric('vigil_mysql_primary_lease_held', { cluster: 'orders' }), 0);
    assert.equal(await lab.agents[current].metric('vigil_mysql_fenced', { cluster: 'orders' }), 1);
    // Nobody else takes writes either: the replicas cannot reach etcd and never promote blind.
    await sleep(2000);
    assert.deepEqual(await writable(lab), []);
    // Made writable by hand while etcd is away: without the lease and without etcd, its agent fences it again.
    await lab.node(current).query('SET GLOBAL read_only = OFF');
    await until(`${current} fenced again without etcd`, async () => (await lab.readOnly(current)) === 1, 10_000, 50);
    const again = (await lab.agents[current].status()).failover.clusters.orders.events as Array<{ kind: string; detail: string }>;
    assert.ok(again.some((e) => e.kind === 'fence' && /writable without the primary lease and etcd is unreachable/.test(e.detail)), JSON.stringify(again.slice(0, 3)));
  } finally {
    app.destroy();
    await Promise.all(lab.etcd.members.map((m) => m.start()));
  }
  await until(`${current} writable again once etcd is back`, async () => (await lab.readOnly(current)) === 0, 30_000);
  assert.equal((await lab.record())?.epoch, rec.epoch, 'no promotion happened');
  assert.deepEqual(await writable(lab), [current]);
  const writes = await journalWrites(current);
  assert.ok(writes.some((w) => w.kind === 'fence' && w.outcome === 'done'), 'the fence is in the journal');
  assert.ok(writes.some((w) => w.kind === 'unfence' && w.outcome === 'done'), 'and so is the unfence');
  await lab.restartAgents({});
  await lab.settled(current);
});

test('mysqld dies, its agent lives: the lease is released at once, not waited out', async () => {
  await lab.settled(current);
  await caughtUp(lab, current);
  await until(`${current} holds the primary lease`, async () => (await leaseKey())?.member === current);
  const expected = byPriority(others(current))[0];
  // The load-balancer endpoints agree with the lease: writes to the primary, reads to replicas that keep up.
  const role = async (m: Member, r: string) => (await fetch(`http://127.0.0.1:${lab.agents[m].listenPort}/mysql/orders/${r}`)).status;
  await until('role endpoints settled', async () => (await role(current, 'primary')) === 200
    && (await Promise.all(others(current).map((m) => role(m, 'replica')))).every((c) => c === 200), 15_000);
  assert.equal(await role(current, 'replica'), 503);
  assert.deepEqual(await Promise.all(others(current).map((m) => role(m, 'primary'))), [503, 503]);
  assert.equal(await role(current, 'nonsense'), 404);
  const t0 = Date.now();
  await lab.node(current).kill();
  await until('the dead primary\'s endpoint says so', async () => (await role(current, 'primary')) === 503, 10_000, 50);
  await until('the primary lease gone', async () => (await leaseKey()) === null, 10_000, 20);
  const goneMs = Date.now() - t0;
  console.log(`# mysqld SIGKILL → primary lease released after ${goneMs} ms`);
  assert.ok(goneMs < TTL_MS, `released (${goneMs} ms), not expired`);
  const rec = await until('a new record', async () => { const r = await lab.record(); return r && r.name !== current && r; }, 30_000);
  assert.equal(rec.name, expected);
  await until('the new primary\'s endpoint answers 200', async () => (await role(expected, 'primary')) === 200, 15_000);
  const writes = await journalWrites(current);
  assert.ok(writes.some((w) => w.kind === 'lease_released' && /local server unreachable/.test(w.detail)), JSON.stringify(writes.slice(-5)));
  await lab.node(current).start({ readOnly: false });
  await until(`${current} fenced`, async () => (await lab.readOnly(current)) === 1, 15_000, 50);
  await lab.rejoined(current, expected);
  current = expected;
  await lab.settled(current);
});

test('the whole primary host dies (agent and mysqld): the lease expires before anyone is promoted', async () => {
  await lab.settled(current);
  await caughtUp(lab, current);
  await until(`${current} holds the primary lease`, async () => (await leaseKey())?.member === current);
  const old = current;
  const t0 = Date.now();
  await Promise.all([lab.agents[old].kill('SIGKILL'), lab.node(old).kill()]);
  let goneAt = 0;
  let recordAt = 0;
  while (Date.now() - t0 < 40_000 && !recordAt) {
    if (!goneAt && (await leaseKey()) === null) goneAt = Date.now();
    const r = await lab.record();
    if (r && r.name !== old) recordAt = Date.now();
    await sleep(20);
  }
  assert.ok(recordAt, `promoted within 40 s\n${await lab.explain()}`);
  assert.ok(goneAt && goneAt <= recordAt, 'the lease was gone before the record moved');
  // It expired (a TTL after its last renewal), nobody released it.
  assert.ok(goneAt - t0 >= TTL_MS - 1000, `lease gone after ${goneAt - t0} ms`);
  console.log(`# host kill → lease expired after ${goneAt - t0} ms, new record after ${recordAt - t0} ms`);
  current = (await lab.record())!.name as Member;
  await lab.node(old).start({ readOnly: false });
  await lab.agents[old].start();
  await until(`${old} fenced`, async () => (await lab.readOnly(old)) === 1, 15_000, 50);
  await lab.rejoined(old, current);
  await lab.settled(current);
});

test('a second agent with the same member name takes no part, and says whose name it is', async () => {
  await lab.settled(current);
  const name = byPriority(others(current))[0];
  const twin = new AgentProc(name, lab.node(name), await startTcpProxy({ file: lab.writerFile }), lab, '-twin');
  try {
    await twin.start();
    const st = await until('the twin reports the conflict', async () => {
      const s = (await twin.status()).failover.clusters.orders;
      return s.identity_conflict && s;
    }, 15_000);
    assert.match(st.identity_conflict, new RegExp(`another agent publishes as member "${name}" \\(server 127\\.0\\.0\\.1:${lab.node(name).port}, server_id \\d+, agent started .*\\): it is alive`));
    assert.match(await readFile(twin.logFile, 'utf8'), /another agent publishes as member/);
    // The original keeps its place: its view is still its own.
    const view = await lab.client.get(lab.keys().member(name)).json() as { instance: string };
    const origInstance = (await lab.agents[name].status()).failover.clusters.orders.guard;
    assert.ok(view.instance && origInstance, 'views carry their agent instance');
    await sleep(1500);
    assert.equal((await lab.client.get(lab.keys().member(name)).json() as { instance: string }).instance, view.instance, 'the twin never overwrote it');
  } finally {
    await twin.kill('SIGTERM');
    await twin.proxy.close();
  }
  await lab.settled(current);
});

test('paused: a replica pointed at the wrong source is not repointed behind the operator\'s back; resumed, it is', async () => {
  await lab.settled(current);
  const [a, b] = others(current);
  assert.equal((await lab.agents[b].admin('POST', '/v1/remediation/pause', { note: 'maintenance' })).status, 200);
  try {
    // An operator points b at the other replica by hand.
    await lab.topo.pointReplicaAt(lab.node(b), lab.node(a));
    await until(`${b}'s agent withholds the follow`, async () => {
      const ev = (await lab.agents[b].status()).failover.clusters.orders.events as Array<{ kind: string; detail: string }>;
      return ev.some((e) => e.kind === 'follow' && /withheld \(remediation is paused\): would follow/.test(e.detail));
    }, 15_000);
    await sleep(1500);
    assert.ok(await replicatesFrom(lab, b, a), 'still as the operator left it');
    assert.ok((await journalWrites(b)).some((w) => w.kind === 'follow' && w.outcome === 'withheld'), 'the withheld write is journalled');
  } finally {
    await lab.agents[b].admin('POST', '/v1/remediation/resume', {});
  }
  await until(`${b} follows ${current} again`, () => replicatesFrom(lab, b, current), 20_000);
  assert.ok((await journalWrites(b)).some((w) => w.kind === 'follow' && w.outcome === 'started'), 'the follow was journalled before it was made');
  await lab.settled(current);
  for (const m of MEMBERS) assert.equal(await decision(lab, m).then((d) => d?.kind === 'acted'), false);
});

test('paused: a primary an operator set read_only stays read_only; resumed, its agent lifts it', async () => {
  await lab.settled(current);
  const agent = lab.agents[current];
  assert.equal((await agent.admin('POST', '/v1/remediation/pause', { note: 'switchover by hand' })).status, 200);
  try {
    await lab.node(current).query('SET GLOBAL read_only = ON');
    await until('the unfence withheld', async () => {
      const ev = (await agent.status()).failover.clusters.orders.events as Array<{ kind: string; detail: string }>;
      return ev.some((e) => e.kind === 'unfence' && /withheld \(remediation is paused\)/.test(e.detail));
    }, 10_000);
    await sleep(1500);
    assert.equal(await lab.readOnly(current), 1, 'left as the operator set it');
  } finally {
    await agent.admin('POST', '/v1/remediation/resume', {});
  }
  await until(`${current} writable again`, async () => (await lab.readOnly(current)) === 0, 10_000);
  await lab.settled(current);
});
