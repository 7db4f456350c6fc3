// Lock, leased member views and the primary record against a real 3-node etcd.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { Etcd3 } from 'etcd3';
import { startEtcd, type EtcdCluster } from '../harness/etcd.js';
import { createEtcdClient, etcdConfigSchema, type EtcdConfig } from '../../src/coordination/etcd-client.js';
import { tryLock } from '../../src/coordination/lock.js';
import { LeasedKey } from '../../src/coordination/leased-key.js';
import {
  acknowledgeRecoveryBlock, blockActive, clusterKeys, publishPrimary, readPrimary, readRecoveryBlock, type PrimaryRecord,
} from '../../src/coordination/cluster-records.js';

let etcd: EtcdCluster;
let cfg: EtcdConfig;
const clients: Etcd3[] = [];
const children: ChildProcess[] = [];
const holder = (member: string) => ({ member, purpose: 'test', since: new Date().toISOString() });

function client(): Etcd3 {
  const c = createEtcdClient(cfg);
  clients.push(c);
  return c;
}

function sleep(ms: number) { return new Promise((r) => setTimeout(r, ms)); }

async function child(mode: 'lock' | 'key', key: string, ttl: number): Promise<ChildProcess> {
  const c = spawn(process.execPath, ['--import', 'tsx', 'test/coordination/fixtures/hold.ts', mode, cfg.endpoints.join(','), key, String(ttl)], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(c);
  let out = '';
  c.stdout!.on('data', (d) => { out += String(d); });
  const deadline = Date.now() + 20_000;
  while (!out.includes('ready')) {
    if (c.exitCode !== null || Date.now() > deadline) throw new Error(`child did not get ready: ${out}`);
    await sleep(50);
  }
  return c;
}

async function sigkill(c: ChildProcess): Promise<void> {
  if (c.exitCode === null && c.signalCode === null) { c.kill('SIGKILL'); await once(c, 'exit'); }
}

before(async () => {
  etcd = await startEtcd({ nodes: 3 });
  const parsed = etcdConfigSchema({}).safeParse({ endpoints: etcd.endpoints, prefix: '/t', request_timeout: '1s' });
  assert.ok(parsed.success);
  cfg = parsed.data;
});

after(async () => {
  for (const c of children) await sigkill(c);
  for (const c of clients) c.close();
  await etcd?.stop();
});

test('config: endpoints, prefix, credentials go together, TLS without verification refused', () => {
  const ok = etcdConfigSchema({ PW: 's3cret' }).parse({ endpoints: ['127.0.0.1:2379', '[::1]:2379'], prefix: '/vigil/', username: 'u', password: '${PW}' });
  assert.deepEqual(ok.endpoints, ['127.0.0.1:2379', '[::1]:2379']);
  assert.equal(ok.prefix, '/vigil');
  assert.deepEqual(ok.auth, { username: 'u', password: 's3cret' });
  const bad = etcdConfigSchema({}).safeParse({ endpoints: ['127.0.0.1:2379'], username: 'u', tls: { insecure_skip_verify: true } });
  assert.equal(bad.success, false);
  const msgs = bad.success ? [] : bad.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  assert.deepEqual(msgs.sort(), ['password: username and password (or password_file) go together',
    'tls.insecure_skip_verify: not supported for etcd: give the cluster\'s CA in ca_file instead']);
  assert.equal(etcdConfigSchema({}).safeParse({ endpoints: [] }).success, false);
});

test('lock: one holder at a time, the refusal names the holder, release frees it', async () => {
  const a = client();
  const b = client();
  const first = await tryLock(a, '/t/lock1', holder('db2'), 3);
  assert.ok(first.ok);
  assert.ok(first.lock.valid(1000));
  const second = await tryLock(b, '/t/lock1', holder('db3'), 3);
  assert.equal(second.ok, false);
  assert.equal(second.ok ? '' : second.heldBy?.member, 'db2');
  await first.lock.release();
  assert.equal(first.lock.valid(), false);
  const third = await tryLock(b, '/t/lock1', holder('db3'), 3);
  assert.ok(third.ok);
  await (third.ok && third.lock.release());
});

test('lock: a SIGKILLed holder frees the lock within its TTL', async () => {
  const c = await child('lock', '/t/lock2', 2);
  const b = client();
  assert.equal((await tryLock(b, '/t/lock2', holder('db3'), 2)).ok, false);
  const killedAt = Date.now();
  await sigkill(c);
  let took: number | undefined;
  while (Date.now() - killedAt < 10_000) {
    const r = await tryLock(b, '/t/lock2', holder('db3'), 2);
    if (r.ok) { took = Date.now() - killedAt; await r.lock.release(); break; }
    await sleep(100);
  }
  assert.ok(took !== undefined, 'lock never freed');
  console.log(`# lock free ${took} ms after SIGKILL of its holder (TTL 2 s)`);
  assert.ok(took! <= 2000 + 2500, `freed after ${took} ms`);
});

test('leased key: visible while the publisher lives, gone after close or after SIGKILL + TTL', async () => {
  const a = client();
  const k = new LeasedKey(a, '/t/members/db2', 2);
  assert.deepEqual(await k.publish({ n: 1 }), { ok: true });
  assert.deepEqual(await k.publish({ n: 2 }), { ok: true });
  assert.equal(await a.get('/t/members/db2').string(), '{"n":2}');
  await k.close();
  assert.equal(await a.get('/t/members/db2').string(), null);

  const c = await child('key', '/t/members/db9', 2);
  assert.notEqual(await a.get('/t/members/db9').string(), null);
  await sigkill(c);
  const t0 = Date.now();
  while (await a.get('/t/members/db9').string() !== null) {
    assert.ok(Date.now() - t0 < 8000, 'view of a dead agent never disappeared');
    await sleep(100);
  }
});

test('primary record: compare-and-swap lets exactly one of two writers win', async () => {
  const keys = clusterKeys('/t', 'orders');
  const [a, b] = [client(), client()];
  const rec = (name: string, epoch: number): PrimaryRecord => ({
    name, host: '127.0.0.1', port: 3306, server_id: 1, epoch, promoted_at: new Date().toISOString(), promoted_by: `${name}/x`, previous: null,
  });
  assert.equal(await publishPrimary(a, keys, undefined, rec('db1', 1), undefined), true);
  assert.equal(await publishPrimary(b, keys, undefined, rec('db9', 1), undefined), false, 'create only once');
  const cur = await readPrimary(a, keys);
  assert.equal(cur?.value.name, 'db1');
  const until = Date.now() + 3_600_000;
  const results = await Promise.all([
    publishPrimary(a, keys, cur!.modRevision, rec('db2', 2), { until, by: 'db2', epoch: 2, acknowledged: null }),
    publishPrimary(b, keys, cur!.modRevision, rec('db3', 2), { until, by: 'db3', epoch: 2, acknowledged: null }),
  ]);
  assert.deepEqual(results.filter(Boolean).length, 1, `results ${results}`);
  const now = await readPrimary(a, keys);
  const winner = results[0] ? 'db2' : 'db3';
  assert.equal(now?.value.name, winner);
  assert.equal(await a.get(keys.history(2)).string(), JSON.stringify(now?.value));
  const block = await readRecoveryBlock(a, keys);
  assert.equal(block?.value.by, winner);
  assert.equal(blockActive(block?.value, Date.now()), true);

  const ack = await acknowledgeRecoveryBlock(b, keys, 'alice', 'checked the old primary', Date.now());
  assert.equal(ack.acknowledged, true);
  assert.equal(blockActive((await readRecoveryBlock(a, keys))?.value, Date.now()), false);
  assert.equal((await acknowledgeRecoveryBlock(b, keys, 'bob', undefined, Date.now())).acknowledged, false, 'already acknowledged');
});

test('lock without quorum: a bounded refusal, and a held lock stops being valid', async () => {
  const a = client();
  const held = await tryLock(a, '/t/lock3', holder('db2'), 2);
  assert.ok(held.ok);
  const leader = await etcd.leader();
  const others = etcd.members.filter((m) => m !== leader);
  await Promise.all(others.map((m) => m.kill()));
  try {
    const t0 = Date.now();
    const r = await tryLock(client(), '/t/lock4', holder('db3'), 2);
    const took = Date.now() - t0;
    assert.equal(r.ok, false);
    console.log(`# lock refused after ${took} ms without quorum: ${r.ok ? '' : r.detail}`);
    assert.ok(took < 15_000, `refusal took ${took} ms`);
    await sleep(2500);
    assert.equal(held.lock.valid(), false, 'a lock whose lease cannot be renewed must not count as held');
  } finally {
    await Promise.all(others.map((m) => m.start()));
  }
  const again = await tryLock(client(), '/t/lock4', holder('db3'), 2);
  assert.ok(again.ok, 'lock available again once quorum is back');
  await again.lock.release();
  // The lost lock's lease keeps its keepalive timer until released: left alone
  // it once held this test file's process open after its last test.
  await held.lock.release();
});
