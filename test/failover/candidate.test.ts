// The DeadMaster rule and candidate choice, fed one view change at a time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkLag, chooseCandidate, corroborate, type Snapshot } from '../../src/failover/candidate.js';
import type { MemberView } from '../../src/failover/view.js';

const NOW = 1_700_000_000_000;
const PRIMARY = { name: 'db1', host: '127.0.0.1', port: 3306 };

function view(name: string, port: number, over: Partial<MemberView> = {}): MemberView {
  return {
    name, cluster: 'orders', host: '127.0.0.1', port, priority: 100, reachable: true, server_error: null,
    flavor: 'mariadb', server_id: port, read_only: true, source: { host: '127.0.0.1', port: 3306 },
    io_running: 'Connecting', sql_running: 'Yes', last_io_errno: 2003, last_sql_errno: 0,
    gtid_received: '0-1-10', gtid_applied: '0-1-10', lag_seconds: 0, lag_measured_at: NOW - 3000,
    epoch_seen: 1, fenced: false, published_at: NOW - 200, ...over,
  };
}

function snap(views: MemberView[], self = 'db2'): Snapshot {
  return { self, views, primary: PRIMARY, now: NOW, staleAfterMs: 5000 };
}

test('corroboration: our IO thread still replicating means only our path is broken', () => {
  const r = corroborate(snap([view('db2', 3307, { io_running: 'Yes', last_io_errno: 0 }), view('db3', 3308)]));
  assert.equal(r.ok, false);
  assert.match(r.detail, /local IO thread still replicates from 127\.0\.0\.1:3306/);
});

test('corroboration: step by step to DeadMaster', () => {
  const db2 = view('db2', 3307);
  const db3 = view('db3', 3308, { io_running: 'Yes', last_io_errno: 0 });
  const primaryAgent = view('db1', 3306, { source: null, io_running: null, last_io_errno: 0, reachable: true, read_only: false });

  // 1. we lost the primary but db3 still replicates from it
  let r = corroborate(snap([db2, db3]));
  assert.equal(r.ok, false);
  assert.deepEqual(r.disagreeing.map((d) => d.name), ['db3']);
  assert.match(r.detail, /db3 still replicates/);

  // 2. db3 lost it too: corroborated
  const db3Lost = { ...db3, io_running: 'Connecting', last_io_errno: 2003 };
  r = corroborate(snap([db2, db3Lost]));
  assert.equal(r.ok, true, r.detail);
  assert.deepEqual(r.agreeing, ['db2', 'db3']);

  // 3. ... but the primary's own agent still reaches its server: alive
  r = corroborate(snap([db2, db3Lost, primaryAgent]));
  assert.equal(r.ok, false);
  assert.match(r.detail, /db1 the primary's own agent reaches its server/);

  // 4. the primary's agent cannot reach its server either: agrees
  r = corroborate(snap([db2, db3Lost, { ...primaryAgent, reachable: false, server_error: 'ECONNREFUSED' }]));
  assert.equal(r.ok, true);
  assert.deepEqual(r.agreeing, ['db2', 'db3', 'db1']);
});

test('corroboration: stale, unreachable and re-pointed views neither confirm nor deny', () => {
  const r = corroborate(snap([
    view('db2', 3307),
    view('db3', 3308, { io_running: 'Yes', last_io_errno: 0, published_at: NOW - 9000 }),
    view('db4', 3309, { reachable: false, io_running: null }),
    view('db5', 3310, { io_running: 'Yes', last_io_errno: 0, source: { host: '127.0.0.1', port: 3399 } }),
    view('db6', 3311, { io_running: 'No', last_io_errno: 0 }),
  ]));
  assert.equal(r.ok, true, r.detail);
  assert.deepEqual(r.ignored.map((i) => i.name), ['db3', 'db4', 'db5', 'db6']);
  assert.match(r.detail, /db3 view is 9s old/);
});

test('corroboration: an IO error that comes from a live server is not a dead primary', () => {
  for (const errno of [1045, 1236, 0]) {
    const r = corroborate(snap([view('db2', 3307, { io_running: errno === 0 ? 'No' : 'Connecting', last_io_errno: errno })]));
    assert.equal(r.ok, false, `errno ${errno}`);
    assert.match(r.detail, /shows no connection error/);
  }
  assert.match(corroborate(snap([view('db2', 3307, { reachable: false, server_error: 'ECONNREFUSED' })])).detail, /local server is unreachable/);
  assert.match(corroborate(snap([view('db2', 3307, { source: null })])).detail, /not a replica/);
  assert.match(corroborate(snap([view('db2', 3307, { source: { host: '10.0.0.9', port: 3306 } })])).detail, /replicates from 10\.0\.0\.9:3306, not from the primary/);
  assert.match(corroborate(snap([])).detail, /no local view/);
});

test('corroboration: with the primary lease gone, a replica reconnecting without an errno yet has lost the primary', () => {
  // After slave_net_timeout of silence the IO thread says Connecting with errno 0 until its next connect attempt times out.
  const reconnecting = [view('db2', 3307, { io_running: 'Connecting', last_io_errno: 0 }), view('db3', 3308, { io_running: 'Connecting', last_io_errno: 0 })];
  assert.equal(corroborate(snap(reconnecting)).ok, false, 'while the lease is held (or unknown), no errno is no evidence');
  const gone = corroborate({ ...snap(reconnecting), leaseGone: true });
  assert.equal(gone.ok, true, gone.detail);
  assert.deepEqual([...gone.agreeing].sort(), ['db2', 'db3']);
  // Stopped by hand ('No', errno 0) is never evidence, lease or not; a replica still connected vetoes.
  assert.equal(corroborate({ ...snap([view('db2', 3307, { io_running: 'No', last_io_errno: 0 })]), leaseGone: true }).ok, false);
  assert.equal(corroborate({ ...snap([reconnecting[0], view('db3', 3308, { io_running: 'Yes', last_io_errno: 0 })]), leaseGone: true }).ok, false);
});

test('candidate: most advanced first, then priority, then name', () => {
  const db2 = view('db2', 3307, { gtid_received: '0-1-10', priority: 100 });
  const db3 = view('db3', 3308, { gtid_received: '0-1-12', priority: 50 });
  let c = chooseCandidate(snap([db2, db3]));
  assert.equal(c.candidate?.name, 'db3', 'more advanced wins over priority');
  assert.match(c.detail, /db3 at 0-1-12 .*db2 behind/);

  c = chooseCandidate(snap([db2, { ...db3, gtid_received: '0-1-10' }]));
  assert.equal(c.candidate?.name, 'db2', 'equal position: higher priority');

  c = chooseCandidate(snap([{ ...db2, priority: 50 }, { ...db3, gtid_received: '0-1-10' }]));
  assert.equal(c.candidate?.name, 'db2', 'equal position and priority: smaller name');
  c = chooseCandidate(snap([{ ...db3, gtid_received: '0-1-10' }, { ...db2, priority: 50 }]));
  assert.equal(c.candidate?.name, 'db2', 'order of views does not matter');
});

test('candidate: priority 0, broken SQL thread, stale or unreachable views are not eligible', () => {
  const c = chooseCandidate(snap([
    view('db2', 3307, { gtid_received: '0-1-9' }),
    view('db3', 3308, { gtid_received: '0-1-20', priority: 0 }),
    view('db4', 3309, { gtid_received: '0-1-20', last_sql_errno: 1062 }),
    view('db5', 3310, { gtid_received: '0-1-20', published_at: NOW - 60_000 }),
    view('db6', 3311, { gtid_received: '0-1-20', reachable: false }),
    view('db1', 3306, { gtid_received: '0-1-30', source: null }), // the dead primary itself
  ]));
  assert.equal(c.candidate?.name, 'db2');
  const why = Object.fromEntries(c.ranking.map((r) => [r.name, r.why ?? 'eligible']));
  assert.deepEqual(why, {
    db2: 'eligible', db3: 'priority 0 (must not be promoted)', db4: 'SQL thread failed with error 1062',
    db5: 'view is stale', db6: 'server unreachable',
  });
});

test('candidate: diverged replicas are refused, none eligible says so', () => {
  const c = chooseCandidate(snap([
    view('db2', 3307, { gtid_received: '0-1-10,1-1-5' }),
    view('db3', 3308, { gtid_received: '0-1-12' }),
  ]));
  assert.equal(c.candidate, undefined);
  assert.match(c.detail, /replicas diverged/);
  assert.equal(chooseCandidate(snap([view('db2', 3307, { priority: 0 })])).detail, 'no eligible replica');
  const bad = chooseCandidate(snap([view('db2', 3307, { gtid_received: 'garbage' })]));
  assert.match(bad.ranking[0].why ?? '', /unreadable GTID/);
});

test('lag gate: last measured lag against max_lag_on_failover, unknown fails', () => {
  assert.equal(checkLag(view('db2', 3307, { lag_seconds: 3 }), 10_000, NOW).ok, true);
  const r = checkLag(view('db2', 3307, { lag_seconds: 42 }), 10_000, NOW);
  assert.equal(r.ok, false);
  assert.equal(r.detail, 'lag of db2 42s (measured 3s ago) > max_lag_on_failover 10s');
  assert.match(checkLag(view('db2', 3307, { lag_seconds: null, lag_measured_at: null }), 10_000, NOW).detail, /unknown/);
});
