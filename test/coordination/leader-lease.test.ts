// The leader lease against a real etcd: it outlives its TTL while renewals
// succeed, tells its holder to stop strictly before etcd can expire it when
// renewals stop, and a holder that stalled past its deadline learns it on its
// first look, before it can act on a stale answer.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { startEtcd, type EtcdCluster } from '../harness/etcd.js';
import { LeaderLease } from '../../src/coordination/leader-lease.js';
import { clockMarginMs, leaseTimingProblems, worstCaseActingMs, type LeaseTiming } from '../../src/coordination/lease-timing.js';

let etcd: EtcdCluster;
let client: Etcd3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TIMING: LeaseTiming = { ttlMs: 3000, renewIntervalMs: 300, renewDeadlineMs: 1500, fenceWithinMs: 700 };
const open: LeaderLease[] = [];

function lease(key: string, onLost: (why: string) => void = () => undefined, timing = TIMING): LeaderLease {
  const l = new LeaderLease({ client, key, timing, onLost });
  open.push(l);
  return l;
}

before(async () => {
  etcd = await startEtcd({ nodes: 1 });
  client = new Etcd3({ hosts: etcd.endpoints, defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + 1000 }) });
});
after(async () => {
  for (const l of open) l.abandon();
  client?.close();
  await etcd?.stop();
});

test('the timing rule: the holder stops acting strictly before the key can expire elsewhere', () => {
  assert.deepEqual(leaseTimingProblems(TIMING), []);
  assert.equal(clockMarginMs(3000), 500);
  assert.equal(clockMarginMs(30_000), 3000);
  assert.equal(worstCaseActingMs(TIMING), 2200);
  const tooLong = leaseTimingProblems({ ttlMs: 6000, renewIntervalMs: 1000, renewDeadlineMs: 5000, fenceWithinMs: 1500 });
  assert.equal(tooLong.length, 1);
  assert.match(tooLong[0].message, /renew_deadline 5s \+ fence_within 1\.5s \+ clock margin 0\.6s = 7\.1s exceeds ttl 6s/);
  assert.match(leaseTimingProblems({ ttlMs: 6000, renewIntervalMs: 2000, renewDeadlineMs: 3000, fenceWithinMs: 1000 })[0].message, /at least twice renew_interval/);
  assert.match(leaseTimingProblems({ ttlMs: 2500, renewIntervalMs: 100, renewDeadlineMs: 200, fenceWithinMs: 100 })[0].message, /whole seconds/);
});

test('held past its TTL while renewals succeed; release deletes the key at once', async () => {
  const l = lease('/ll/a');
  const won = await l.acquire('{"member":"a"}', () => false);
  assert.equal(won.ok, true);
  const kv = (await client.get('/ll/a').exec()).kvs[0];
  assert.equal(won.ok && won.revision, kv.create_revision, 'the revision of the winning write is the key\'s create revision (a fencing token)');
  await sleep(TIMING.ttlMs * 2);
  assert.equal(l.held(), true);
  assert.ok(l.remainingMs() > TIMING.renewDeadlineMs - 2 * TIMING.renewIntervalMs, `renewed recently (${l.remainingMs()} ms left)`);
  assert.equal(await client.get('/ll/a').string(), '{"member":"a"}');
  const other = lease('/ll/a');
  const refused = await other.acquire('{"member":"b"}', () => false);
  assert.equal(refused.ok, false);
  assert.equal(refused.ok === false && refused.holder?.value.toString(), '{"member":"a"}', 'the refusal names the holder');
  await l.release();
  assert.equal(l.held(), false);
  assert.equal(await client.get('/ll/a').string(), null);
});

test('a holder stalled past its deadline learns it on its first look, before acting', async () => {
  const reasons: string[] = [];
  const l = lease('/ll/stall', (why) => reasons.push(why));
  assert.equal((await l.acquire('{"member":"a"}', () => false)).ok, true);
  // The whole process stalls (no timer, no I/O) for longer than the renew deadline.
  const t0 = performance.now();
  while (performance.now() - t0 < TIMING.renewDeadlineMs + 300) { /* stalled */ }
  assert.equal(l.held(), false, 'the first look after waking says: not leader');
  assert.equal(reasons.length, 1);
  assert.match(reasons[0], /no renewal of \/ll\/stall succeeded within renew_deadline 1\.5s/);
  await l.release();
});

test('etcd gone: the holder is told to stop at its renew deadline, before etcd could expire the key', async () => {
  const lost: number[] = [];
  const reasons: string[] = [];
  const l = lease('/ll/cut', (why) => { lost.push(performance.now()); reasons.push(why); });
  assert.equal((await l.acquire('{"member":"a"}', () => false)).ok, true);
  await sleep(1000);
  // Just after a renewal, the time left is about renew_deadline; etcd's expiry is a full TTL from when it got that renewal.
  const left = l.remainingMs();
  const killedAt = performance.now();
  await etcd.members[0].kill();
  try {
    const t0 = Date.now();
    while (lost.length === 0 && Date.now() - t0 < 10_000) await sleep(20);
    assert.equal(lost.length, 1, 'onLost fired once');
    const after = lost[0] - killedAt;
    // The deadline came when it had to, give or take a timer tick, and well inside the TTL.
    assert.ok(after <= left + 100, `lost ${Math.round(after)} ms after the kill, ${Math.round(left)} ms were left`);
    assert.ok(after + TIMING.fenceWithinMs + clockMarginMs(TIMING.ttlMs) <= TIMING.ttlMs, `room to fence before the TTL (${Math.round(after)} ms)`);
    assert.match(reasons[0], /within renew_deadline/);
    assert.equal(l.held(), false);
  } finally {
    await etcd.members[0].start();
  }
});

test('takeover: the next process of the same member takes its own key by compare-and-swap; preconditions hold', async () => {
  const a = lease('/ll/own');
  assert.equal((await a.acquire('{"member":"m1","instance":"old"}', () => false)).ok, true);
  a.abandon(); // the process is gone (no revoke): its key lives until its lease expires
  const b = lease('/ll/own');
  const took = await b.acquire('{"member":"m1","instance":"new"}', (h) => JSON.parse(h.value.toString()).member === 'm1');
  assert.equal(took.ok, true);
  assert.equal(took.ok && took.revision, (await client.get('/ll/own').exec()).kvs[0].mod_revision, 'a takeover\'s revision is its compare-and-swap write');
  await sleep(TIMING.ttlMs + 1000); // the old lease expired meanwhile: the key is bound to the new one
  assert.equal(await client.get('/ll/own').string(), '{"member":"m1","instance":"new"}');
  await b.release();

  await client.put('/ll/record').value('r1');
  const rev = (await client.get('/ll/record').exec()).kvs[0].mod_revision;
  await client.put('/ll/record').value('r2');
  const c = lease('/ll/pre');
  const refused = await c.acquire('{"member":"m1"}', () => true, [{ key: '/ll/record', modRevision: rev }]);
  assert.equal(refused.ok, false, 'the record moved: no lease');
  assert.equal(await client.get('/ll/pre').string(), null, 'and nothing left behind');
  const now = (await client.get('/ll/record').exec()).kvs[0].mod_revision;
  assert.equal((await c.acquire('{"member":"m1"}', () => true, [{ key: '/ll/record', modRevision: now }])).ok, true);
  await c.release();
});
