// A view missing for a moment is waited for; the recorded primary and
// non-replicas never are; after the grace the member is left out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Roster } from '../../src/failover/roster.js';
import type { MemberView } from '../../src/failover/view.js';

const v = (name: string, source: MemberView['source'] = { host: '127.0.0.1', port: 3306 }) => ({ name, source } as MemberView);

test('roster: step by step through an etcd outage', () => {
  const r = new Roster();
  r.observe([v('db1', null), v('db2'), v('db3')], 0);
  assert.deepEqual(r.waitingFor(100, 3000, ['db3', 'db1']), []);
  // etcd comes back: only db3 has republished so far
  r.observe([v('db3')], 10_000);
  assert.deepEqual(r.waitingFor(10_500, 3000, ['db3', 'db1']), [{ name: 'db2', missingForMs: 500 }]);
  // the dead primary db1 (not a replica in its last view) is not waited for even when not excluded
  assert.deepEqual(r.waitingFor(10_500, 3000, ['db3']).map((a) => a.name), ['db2']);
  // db2 is back
  r.observe([v('db2'), v('db3')], 10_800);
  assert.deepEqual(r.waitingFor(10_900, 3000, ['db3']), []);
  // db2 goes for good: waited for 3 s, then left out
  r.observe([v('db3')], 20_000);
  assert.equal(r.waitingFor(22_999, 3000, ['db3']).length, 1);
  r.observe([v('db3')], 23_000);
  assert.equal(r.waitingFor(23_000, 3000, ['db3']).length, 0);
});
