// The fleet's pure judgement: the share of live members with a probe
// critical (this agent's own view over its record), the stand-down rule
// (stand_down_share, min_members, never one member alone), and free slots.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countShare, freeSlots, judge, type FleetLimits } from '../../src/fleet/decide.js';
import type { FleetSnapshot } from '../../src/fleet/snapshot.js';

const rec = (member: string, critical: string[] = []) => ({ member, instance: 'x', critical, watching: ['api'], published_at: '' });
const snap = (members: ReturnType<typeof rec>[], slots: FleetSnapshot['slots'] = []): FleetSnapshot => ({ revision: '1', members, slots });
const slot = (index: number, holder = 'w2') => ({ index, lease: '7', record: { holder, instance: 'y', rule: 'restart', action: 'exec', probe: 'api', since: '2024-01-01T00:00:00.000Z' } });
const limits = (o: Partial<FleetLimits> = {}): FleetLimits => ({ name: 'web', maxConcurrent: 1, minMembers: 3, standDownShare: 0.3, ...o });
const five = (critical: number) => ['w1', 'w2', 'w3', 'w4', 'w5'].map((m, i) => rec(m, i < critical ? ['api'] : []));

test('the share counts live members with the probe critical; this agent\'s own view replaces its record', () => {
  // w1's record still says passing; its own view (the trigger) says critical.
  const c = countShare(snap(five(0).map((r, i) => (i === 1 ? rec('w2', ['api']) : r))), { member: 'w1', critical: ['api'] }, 'api', limits());
  assert.deepEqual([c.criticalMembers, c.live, c.share, c.standDown], [['w1', 'w2'], 5, 0.4, true]);
  // An agent not yet in etcd still counts itself.
  assert.equal(countShare(snap([]), { member: 'w9', critical: ['api'] }, 'api', limits()).live, 1);
});

test('stand down: at least stand_down_share of at least min_members, and never one member alone', () => {
  const self = (critical: boolean) => ({ member: 'w1', critical: critical ? ['api'] : [] });
  assert.equal(countShare(snap(five(1)), self(true), 'api', limits()).standDown, false, '1 of 5 (0.2) < 0.3');
  assert.equal(countShare(snap(five(2)), self(true), 'api', limits()).standDown, true, '2 of 5 (0.4) >= 0.3');
  assert.equal(countShare(snap(five(1)), self(true), 'api', limits({ standDownShare: 0.2 })).standDown, false, '1 of 5 is 0.2 but one host alone is not a shared cause');
  assert.equal(countShare(snap(five(0).slice(0, 2).map((r) => rec(r.member, ['api']))), self(true), 'api', limits()).standDown, false, '2 live < min_members 3: the share means nothing');
  assert.equal(countShare(snap(five(5)), self(true), 'api', limits({ standDownShare: undefined })).standDown, false, 'stand_down_share off');
  const ten = Array.from({ length: 10 }, (_, i) => rec(`h${i}`, i < 3 ? ['api'] : []));
  assert.equal(countShare(snap(ten), { member: 'h0', critical: ['api'] }, 'api', limits()).standDown, true, '3 of 10 is exactly 0.3');
  assert.equal(countShare(snap(five(5)), self(true), 'db', limits()).criticalMembers.length, 0, 'another probe is another cause');
});

test('free slots: indexes below max_concurrent nobody holds; none once max_concurrent keys are held, whatever their index', () => {
  assert.deepEqual(freeSlots(snap([]), 3), [0, 1, 2]);
  assert.deepEqual(freeSlots(snap([], [slot(1)]), 3), [0, 2]);
  assert.deepEqual(freeSlots(snap([], [slot(0), slot(5)]), 2), [], 'a slot left at index 5 (an agent configured with more) still counts');
  assert.deepEqual(freeSlots(snap([], [{ index: -1, lease: '1', record: undefined }]), 1), [], 'an unreadable key counts as held');
});

test('judge: shared cause first, then busy (naming the holders), else the free slots', () => {
  const self = { member: 'w1', critical: ['api'] };
  const shared = judge(snap(five(4)), limits(), self, 'api');
  assert.equal(shared.kind, 'shared_cause');
  assert.match(shared.kind === 'shared_cause' ? shared.detail : '', /^4 of 5 members of fleet web have api critical \(w1, w2, w3, w4; stand_down_share 0\.3\)/);
  const busy = judge(snap(five(1), [slot(0)]), limits(), self, 'api');
  assert.deepEqual(busy, { kind: 'busy', detail: 'fleet web: 1 of 1 slot(s) held: slot 0 by w2 (rule restart, exec, on api) since 2024-01-01T00:00:00.000Z' });
  const free = judge(snap(five(1)), limits({ maxConcurrent: 2 }), self, 'api');
  assert.deepEqual(free.kind === 'free' ? free.free : undefined, [0, 1]);
});
