// The group decision, one situation at a time (pure: no etcd, no timers).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decide, type GroupSituation } from '../../src/groups/decide.js';
import type { GroupSnapshot } from '../../src/groups/snapshot.js';
import type { MemberRecord } from '../../src/groups/records.js';

const rec = (member: string, priority: number, eligible = true): MemberRecord => ({
  member, instance: `i-${member}`, priority, eligible, why_not: eligible ? null : 'probe api is critical', role: 'standby', advertise: null, published_at: '',
});

function snap(over: Partial<GroupSnapshot> = {}): GroupSnapshot {
  return { revision: '10', active: undefined, members: [rec('a', 100), rec('b', 90), rec('c', 80)], paused: undefined, switchover: undefined, released: undefined, ...over };
}

const holder = (member: string, instance = `i-${member}`, token = '7') => ({
  record: { member, instance, priority: 0, since: '', advertise: null }, token, modRevision: token, lease: '1',
});

function sit(over: Partial<GroupSituation>): GroupSituation {
  return {
    me: 'b', instance: 'i-b', role: 'standby', holds: false, priority: 90, preempt: false, notEligible: undefined, hostHold: undefined,
    snapshot: snap(), vacantSinceMs: 0, lastSeenToken: undefined, takeoverDelayMs: 0, now: 0, ...over,
  };
}

test('a standby defers to an eligible member of higher priority, and stands when there is none', () => {
  assert.deepEqual(pick(decide(sit({}))), ['wait', 'deferring']);
  const aDown = snap({ members: [rec('a', 100, false), rec('b', 90), rec('c', 80)] });
  assert.deepEqual(pick(decide(sit({ snapshot: aDown }))), ['stand', 'elected']);
  assert.deepEqual(pick(decide(sit({ me: 'a', instance: 'i-a', priority: 100 }))), ['stand', 'elected']);
});

test('a standby waits while someone holds the key, and for its own earlier run\'s key to expire', () => {
  assert.deepEqual(pick(decide(sit({ me: 'a', priority: 100, snapshot: snap({ active: holder('c') }) }))), ['wait', 'held']);
  assert.deepEqual(pick(decide(sit({ me: 'a', instance: 'i-new', priority: 100, snapshot: snap({ active: holder('a', 'i-old') }) }))), ['wait', 'own_stale_key']);
});

test('nobody stands without etcd, while paused (group or host), or while not eligible', () => {
  assert.deepEqual(pick(decide(sit({ me: 'a', priority: 100, snapshot: undefined }))), ['wait', 'etcd_unavailable']);
  assert.deepEqual(pick(decide(sit({ me: 'a', priority: 100, snapshot: snap({ paused: { by: 'op', at: '', note: null } }) }))), ['wait', 'paused']);
  assert.deepEqual(pick(decide(sit({ me: 'a', priority: 100, hostHold: 'remediation is paused on this host' }))), ['wait', 'paused']);
  assert.deepEqual(pick(decide(sit({ me: 'a', priority: 100, notEligible: 'probe api is critical' }))), ['wait', 'not_eligible']);
});

test('takeover_delay applies after an unclean vacancy, not after a clean hand-over of the term last seen', () => {
  const base = { me: 'a', instance: 'i-a', priority: 100, takeoverDelayMs: 5000, vacantSinceMs: 1000, now: 3000, lastSeenToken: '7' };
  assert.deepEqual(pick(decide(sit(base))), ['wait', 'takeover_delay']);
  assert.deepEqual(pick(decide(sit({ ...base, now: 6000 }))), ['stand', 'elected']);
  const clean = snap({ released: { member: 'c', token: '7', at: '', cause: 'unhealthy' } });
  assert.deepEqual(pick(decide(sit({ ...base, snapshot: clean }))), ['stand', 'elected']);
  const older = snap({ released: { member: 'c', token: '5', at: '', cause: 'unhealthy' } });
  assert.deepEqual(pick(decide(sit({ ...base, snapshot: older }))), ['wait', 'takeover_delay'], 'a release of an older term says nothing about the last one');
});

test('a switchover: the named target stands at once; the others, the old active member included, wait', () => {
  const sw = (to: string | null) => snap({ switchover: { from: 'a', to, by: 'op', at: '', modRevision: '9' } });
  assert.deepEqual(pick(decide(sit({ me: 'c', instance: 'i-c', priority: 80, snapshot: sw('c') }))), ['stand', 'switchover']);
  assert.deepEqual(pick(decide(sit({ me: 'b', snapshot: sw('c') }))), ['wait', 'switchover_elsewhere']);
  const cGone = snap({ members: [rec('a', 100), rec('b', 90), rec('c', 80, false)], switchover: { from: 'a', to: 'c', by: 'op', at: '', modRevision: '9' } });
  assert.deepEqual(pick(decide(sit({ me: 'a', instance: 'i-a', priority: 100, snapshot: cGone }))), ['stand', 'elected'], 'a switchover to a member no longer eligible is void');
  assert.deepEqual(pick(decide(sit({ me: 'a', instance: 'i-a', priority: 100, snapshot: sw(null) }))), ['wait', 'switchover_elsewhere']);
  // To anyone: the others elect as usual, with `a` (the old active) out of the running.
  const anyone = snap({ members: [rec('a', 100), rec('b', 90)], switchover: { from: 'a', to: null, by: 'op', at: '', modRevision: '9' } });
  assert.deepEqual(pick(decide(sit({ snapshot: anyone }))), ['stand', 'elected'], 'nobody defers to the member handing over');
});

test('an active member: a lost lease steps down even when paused; a pause holds everything else', () => {
  const mine = snap({ active: holder('b') });
  const paused = snap({ active: holder('b'), paused: { by: 'op', at: '', note: null } });
  assert.deepEqual(pick(decide(sit({ role: 'active', holds: false, snapshot: paused }))), ['step_down', 'lease_lost']);
  assert.deepEqual(pick(decide(sit({ role: 'active', holds: true, snapshot: paused, notEligible: 'probe api is critical' }))), ['stay', undefined]);
  assert.deepEqual(pick(decide(sit({ role: 'active', holds: true, snapshot: mine, notEligible: 'probe api is critical' }))), ['step_down', 'unhealthy']);
  assert.deepEqual(pick(decide(sit({ role: 'active', holds: true, snapshot: mine }))), ['stay', undefined]);
  assert.deepEqual(pick(decide(sit({ role: 'active', holds: true, snapshot: undefined }))), ['stay', undefined], 'etcd away: the lease deadline decides');
});

test('an active member steps down when etcd names someone else, or its own earlier instance', () => {
  assert.deepEqual(pick(decide(sit({ role: 'active', holds: true, snapshot: snap({ active: holder('c') }) }))), ['step_down', 'holder_changed']);
  assert.deepEqual(pick(decide(sit({ role: 'active', holds: true, snapshot: snap({ active: holder('b', 'i-other') }) }))), ['step_down', 'holder_changed']);
  assert.deepEqual(pick(decide(sit({ role: 'active', holds: true, snapshot: snap() }))), ['step_down', 'holder_changed']);
});

test('preempt hands over to an eligible member of higher priority; without preempt the active member stays', () => {
  const mine = snap({ active: holder('b') });
  assert.deepEqual(pick(decide(sit({ role: 'active', holds: true, snapshot: mine, preempt: true }))), ['step_down', 'preempted']);
  assert.deepEqual(pick(decide(sit({ role: 'active', holds: true, snapshot: mine, preempt: false }))), ['stay', undefined]);
  const aDown = snap({ active: holder('b'), members: [rec('a', 100, false), rec('b', 90)] });
  assert.deepEqual(pick(decide(sit({ role: 'active', holds: true, snapshot: aDown, preempt: true }))), ['stay', undefined]);
});

test('a switchover request is checked again by the active member: an ineligible target is refused', () => {
  const to = (t: string | null, members = [rec('a', 100), rec('b', 90), rec('c', 80, false)]) =>
    snap({ active: holder('b'), members, switchover: { from: 'b', to: t, by: 'op', at: '', modRevision: '9' } });
  assert.deepEqual(pick(decide(sit({ role: 'active', holds: true, snapshot: to('a') }))), ['step_down', 'switchover']);
  assert.equal(decide(sit({ role: 'active', holds: true, snapshot: to('c') })).kind, 'refuse_switchover');
  assert.equal(decide(sit({ role: 'active', holds: true, snapshot: to(null, [rec('b', 90), rec('c', 80, false)]) })).kind, 'refuse_switchover');
  assert.deepEqual(pick(decide(sit({ role: 'active', holds: true, snapshot: to(null) }))), ['step_down', 'switchover']);
});

function pick(d: ReturnType<typeof decide>): [string, string | undefined] {
  return [d.kind, 'reason' in d ? d.reason : 'cause' in d ? d.cause : undefined];
}
