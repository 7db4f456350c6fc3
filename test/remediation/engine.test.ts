// The pure decision step, fed one result at a time with an injected clock:
// counting with grace, every gate in its fixed order, breaker, cooldown,
// escalation, corroboration, dry-run, manual runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decide, settle, step, GATE_ORDER } from '../../src/remediation/engine.js';
import { beginAction, breaker, completeAction, markBusy, recordPrecheck, resetBreaker } from '../../src/remediation/rule-state.js';
import { EMPTY_RULE_STATE, type DecisionContext, type RuleSpec, type RuleState } from '../../src/remediation/types.js';

const S = 1000;
const M = 60 * S;
const T0 = Date.parse('2024-05-01T10:00:00Z');

function spec(over: Partial<RuleSpec> = {}): RuleSpec {
  return {
    name: 'restart-api', actionType: 'systemd_restart', trigger: ['api'], probes: ['api'], needed: { api: 3 },
    cooldownMs: 2 * M, graceMs: 30 * S, maxActions: 3, windowMs: 60 * M, precheckRetryMs: 15 * S, ...over,
  };
}

function ctx(now: number, over: Partial<DecisionContext> = {}): DecisionContext {
  return {
    now, startedAt: T0 - 10 * M, startupGraceMs: 30 * S, paused: false, maintenance: { active: false, detail: 'none' },
    dryRun: false, budget: { maxActions: 10, windowMs: 60 * M, recent: [] }, ...over,
  };
}

/** Feeds results; returns the state and every decision's kind/reason. */
function feed(state: RuleState, sp: RuleSpec, results: Array<[string, boolean, number]>, c: (at: number) => DecisionContext = (at) => ctx(at)) {
  const out: string[] = [];
  for (const [probe, ok, at] of results) {
    const r = step(state, sp, { probe, ok, at }, c(at));
    state = r.state;
    out.push(r.decision.kind === 'blocked' ? `blocked:${r.decision.reason}` : r.decision.kind);
  }
  return { state, out };
}

const acted = (s: RuleState, id: string, start: number, end: number) =>
  completeAction(beginAction(s, { id, startedAt: start, dryRun: false, forced: false }), id, 'succeeded', end);

test('counts consecutive failures up to the probe threshold, a success resets', () => {
  const sp = spec();
  const { state, out } = feed(EMPTY_RULE_STATE, sp, [
    ['api', false, T0], ['api', false, T0 + S], ['api', true, T0 + 2 * S], ['api', false, T0 + 3 * S],
    ['api', false, T0 + 4 * S], ['api', false, T0 + 5 * S],
  ]);
  assert.deepEqual(out, ['none', 'none', 'none', 'none', 'none', 'act']);
  assert.equal(state.probes.api.counted, 3);
  assert.equal(state.probes.api.failingSince, T0 + 3 * S);
  const d = decide(state, sp, ctx(T0 + 5 * S));
  assert.equal(d.kind, 'act');
  assert.match(d.detail, /api: 3\/3 failures counted \(failing\)/);
});

test('a none decision says how far the condition is', () => {
  const { state } = feed(EMPTY_RULE_STATE, spec(), [['api', false, T0]]);
  const d = decide(state, spec(), ctx(T0));
  assert.deepEqual(d, { kind: 'none', detail: 'api: 1/3 failures counted (failing)' });
});

test('grace: failures while the action runs and within grace after it are not counted; counting restarts after', () => {
  const sp = spec({ cooldownMs: 0 });
  let { state } = feed(EMPTY_RULE_STATE, sp, [['api', false, T0], ['api', false, T0 + S], ['api', false, T0 + 2 * S]]);
  state = markBusy(beginAction(state, { id: 'a1', startedAt: T0 + 2 * S, dryRun: false, forced: false }), T0 + 2 * S, 'executing');
  // While executing: busy, and the failure is not counted.
  let r = feed(state, sp, [['api', false, T0 + 3 * S]]);
  assert.deepEqual(r.out, ['none']);
  assert.equal(r.state.probes.api.counted, 0);
  state = completeAction({ ...r.state, busy: undefined }, 'a1', 'succeeded', T0 + 4 * S);
  // Grace ends at T0+34s: failures up to then do not count.
  r = feed(state, sp, [['api', false, T0 + 10 * S], ['api', false, T0 + 20 * S], ['api', false, T0 + 34 * S]]);
  assert.deepEqual(r.out, ['none', 'none', 'none']);
  assert.equal(r.state.probes.api.counted, 0);
  r = feed(r.state, sp, [['api', false, T0 + 35 * S], ['api', false, T0 + 36 * S], ['api', false, T0 + 37 * S]]);
  assert.deepEqual(r.out, ['none', 'none', 'act']);
});

test('gates run in a fixed order and the first that blocks names the reason', () => {
  assert.deepEqual(GATE_ORDER.map(([n]) => n),
    ['paused', 'maintenance', 'startup_grace', 'breaker_open', 'cooldown', 'rate_limited', 'not_corroborated', 'precheck']);
  const sp = spec({ trigger: ['api'], probes: ['api', 'api-tcp'], needed: { api: 1, 'api-tcp': 1 }, maxActions: 2, cooldownMs: 10 * M });
  const now = T0 + 5 * M;
  // Two actions within the window: breaker open; the last finished 1 minute ago: cooldown.
  let state: RuleState = acted(acted(EMPTY_RULE_STATE, 'a1', now - 3 * M, now - 3 * M), 'a2', now - M, now - M);
  state = feed(state, sp, [['api', false, now], ['api-tcp', true, now]]).state;
  state = recordPrecheck(state, now - S, 'precheck_failed', 'fleet guard');
  const all = {
    paused: true, maintenance: { active: true, detail: 'maintenance window "0 2 * * SUN"' }, startedAt: now - S,
    budget: { maxActions: 2, windowMs: 60 * M, recent: [now - 3 * M, now - M] },
  };
  const order: string[] = [];
  let c: DecisionContext = ctx(now, all);
  const lift: Array<(x: DecisionContext) => DecisionContext> = [
    (x) => ({ ...x, paused: false }),
    (x) => ({ ...x, maintenance: { active: false, detail: '' } }),
    (x) => ({ ...x, startedAt: now - 10 * M }),
    (x) => x, // breaker: reset below
    (x) => x, // cooldown: shortened below
    (x) => ({ ...x, budget: { ...x.budget, maxActions: 10 } }),
    (x) => x, // corroboration: api-tcp fails below
    (x) => x, // precheck stand: time passes below
  ];
  let sp2 = sp;
  for (let i = 0; i <= lift.length; i++) {
    const d = decide(state, sp2, c);
    order.push(d.kind === 'blocked' ? d.reason : d.kind);
    if (i === lift.length) break;
    c = lift[i](c);
    if (i === 3) state = resetBreaker(state, now - S / 2);
    if (i === 4) sp2 = { ...sp2, cooldownMs: 30 * S };
    if (i === 6) state = feed(state, sp2, [['api-tcp', false, now]], () => c).state;
    if (i === 7) c = { ...c, now: now + 20 * S };
  }
  assert.deepEqual(order, ['paused', 'maintenance', 'startup_grace', 'breaker_open', 'cooldown', 'rate_limited', 'not_corroborated', 'precheck_failed', 'act']);
});

test('startup grace: no action before it ends, nor before every probe of the rule reported since start', () => {
  const sp = spec({ needed: { api: 1 } });
  const started = T0;
  const c = (at: number) => ctx(at, { startedAt: started, startupGraceMs: 30 * S });
  let r = feed(EMPTY_RULE_STATE, sp, [['api', false, T0 + 5 * S]], c);
  assert.deepEqual(r.out, ['blocked:startup_grace']);
  assert.match(decide(r.state, sp, c(T0 + 5 * S)).detail, /no action before 2024-05-01T10:00:30.000Z/);
  // A probe whose last result predates the start (seeded) is not fresh.
  const sp2 = spec({ trigger: ['api'], probes: ['api', 'db'], needed: { api: 1, db: 1 } });
  r = feed(EMPTY_RULE_STATE, sp2, [['db', false, T0 - S], ['api', false, T0 + 40 * S]], c);
  const d = decide(r.state, sp2, c(T0 + 40 * S));
  assert.equal(d.kind, 'blocked');
  assert.match(d.detail, /waiting for a first result since start from db/);
  r = feed(r.state, sp2, [['db', false, T0 + 41 * S]], c);
  assert.deepEqual(r.out, ['act']);
});

test('breaker: trips at max_actions within window, stays open a full window from the trip, an operator reset closes it', () => {
  const sp = spec({ maxActions: 3, windowMs: 10 * M, cooldownMs: 0 });
  let s = EMPTY_RULE_STATE;
  s = acted(s, 'a', T0, T0 + S);
  s = acted(s, 'b', T0 + M, T0 + M + S);
  assert.equal(breaker(s, sp, T0 + 2 * M, false).open, false);
  s = acted(s, 'c', T0 + 2 * M, T0 + 2 * M + S);
  const b = breaker(s, sp, T0 + 3 * M, false);
  assert.deepEqual(b, { open: true, inWindow: 3, openedAt: T0 + 2 * M, closesAt: T0 + 12 * M });
  // Sliding-window count is down to 1 at T0+11m, but the breaker holds until T0+12m.
  assert.equal(breaker(s, sp, T0 + 11 * M, false).open, true);
  assert.equal(breaker(s, sp, T0 + 12 * M, false).open, false);
  assert.equal(resetBreaker(s, T0 + 3 * M) && breaker(resetBreaker(s, T0 + 3 * M), sp, T0 + 4 * M, false).open, false);
});

test('cooldown counts from the completion of the last action', () => {
  const sp = spec({ needed: { api: 1 }, cooldownMs: 2 * M, graceMs: 0 });
  let s = acted(EMPTY_RULE_STATE, 'a', T0, T0 + M); // a one-minute action
  let r = feed(s, sp, [['api', false, T0 + 2 * M]]);
  assert.deepEqual(r.out, ['blocked:cooldown']);
  assert.match(decide(r.state, sp, ctx(T0 + 2 * M)).detail, /cooldown until 2024-05-01T10:03:00.000Z/);
  s = r.state;
  r = feed(s, sp, [['api', false, T0 + 3 * M]]);
  assert.deepEqual(r.out, ['act']);
});

test('escalation: waits for the earlier rule to act in this failing run and for its grace, then acts', () => {
  const restart = spec({ name: 'restart-api', needed: { api: 3 }, graceMs: 30 * S });
  const leave = spec({ name: 'leave-asg', actionType: 'asg_set_unhealthy', after: 'restart-api', needed: { api: 3 } });
  let rs = EMPTY_RULE_STATE;
  let ls = EMPTY_RULE_STATE;
  const run = (probe: string, ok: boolean, at: number) => {
    rs = step(rs, restart, { probe, ok, at }, ctx(at)).state;
    const r = step(ls, leave, { probe, ok, at }, ctx(at, { after: { spec: restart, state: rs } }));
    ls = r.state;
    return r.decision;
  };
  // An old restart (yesterday) must not count for today's failing run.
  rs = acted(rs, 'old', T0 - 24 * 60 * M, T0 - 24 * 60 * M);
  run('api', false, T0);
  run('api', false, T0 + S);
  let d = run('api', false, T0 + 2 * S);
  assert.deepEqual(d, { kind: 'none', detail: 'waiting for restart-api to act first (escalation step 1 of 2)' });
  rs = acted(rs, 'r1', T0 + 3 * S, T0 + 4 * S); // grace until T0+34s
  d = run('api', false, T0 + 10 * S);
  assert.equal(d.kind, 'none');
  assert.equal(ls.probes.api.counted, 0, 'failures in restart-api\'s grace are not counted by leave-asg either');
  run('api', false, T0 + 35 * S);
  run('api', false, T0 + 36 * S);
  d = run('api', false, T0 + 37 * S);
  assert.equal(d.kind, 'act', d.detail);
});

test('escalation goes on when the earlier rule gave up (its breaker is open)', () => {
  const restart = spec({ name: 'restart-api', maxActions: 1, windowMs: 60 * M });
  const leave = spec({ name: 'leave-asg', after: 'restart-api', needed: { api: 1 } });
  const rs = acted(EMPTY_RULE_STATE, 'r1', T0 - 5 * M, T0 - 5 * M); // before this failing run, but it tripped the breaker
  const r = step(EMPTY_RULE_STATE, leave, { probe: 'api', ok: false, at: T0 }, ctx(T0, { after: { spec: restart, state: rs } }));
  assert.equal(r.decision.kind, 'act');
});

test('corroboration: all_of probes must agree', () => {
  const sp = spec({ trigger: ['api'], probes: ['api', 'lb'], needed: { api: 1, lb: 2 } });
  let r = feed(EMPTY_RULE_STATE, sp, [['lb', true, T0], ['api', false, T0 + S]]);
  assert.deepEqual(r.out, ['none', 'blocked:not_corroborated']);
  assert.match(decide(r.state, sp, ctx(T0 + S)).detail, /lb: 0\/2 failures counted \(passing\)/);
  r = feed(r.state, sp, [['lb', false, T0 + 2 * S], ['lb', false, T0 + 3 * S]]);
  assert.deepEqual(r.out, ['blocked:not_corroborated', 'act']);
  // all_of alone: any probe triggers, all must agree.
  const sp2 = spec({ trigger: ['a', 'b'], probes: ['a', 'b'], needed: { a: 1, b: 1 } });
  r = feed(EMPTY_RULE_STATE, sp2, [['b', true, T0], ['a', false, T0 + S], ['b', false, T0 + 2 * S]]);
  assert.deepEqual(r.out, ['none', 'blocked:not_corroborated', 'act']);
});

test('settle: a precheck refusal gives its own reason; dry-run passes every gate and stops at dry_run', () => {
  const act = { kind: 'act', detail: 'api: 3/3' } as const;
  assert.deepEqual(settle(act, { ok: false, reason: 'lock_unavailable', detail: 'held by host-b' }, false, 'x'),
    { kind: 'blocked', reason: 'lock_unavailable', detail: 'held by host-b' });
  assert.deepEqual(settle(act, { ok: true }, true, 'api.service'),
    { kind: 'blocked', reason: 'dry_run', detail: 'dry run: would have acted on api.service (api: 3/3)' });
  assert.deepEqual(settle(act, { ok: true }, false, 'x'), act);
  const blocked = { kind: 'blocked', reason: 'cooldown', detail: 'd' } as const;
  assert.equal(settle(blocked, { ok: true }, true, 'x'), blocked);
});

test('dry-run records count for cooldown and breaker only while in dry-run', () => {
  const sp = spec({ needed: { api: 1 }, graceMs: 0 });
  const s = beginAction(EMPTY_RULE_STATE, { id: 'd1', startedAt: T0, completedAt: T0, outcome: 'dry_run', dryRun: true, forced: false });
  assert.deepEqual(feed(s, sp, [['api', false, T0 + S]], (at) => ctx(at, { dryRun: true })).out, ['blocked:cooldown']);
  assert.deepEqual(feed(s, sp, [['api', false, T0 + S]], (at) => ctx(at, { dryRun: false })).out, ['act']);
});

test('host-wide budget: rate_limited once all rules together used it up', () => {
  const sp = spec({ needed: { api: 1 } });
  const c = (at: number) => ctx(at, { budget: { maxActions: 2, windowMs: 60 * M, recent: [T0 - 59 * M, T0 - M] } });
  assert.deepEqual(feed(EMPTY_RULE_STATE, sp, [['api', false, T0]], c).out, ['blocked:rate_limited']);
  assert.deepEqual(feed(EMPTY_RULE_STATE, sp, [['api', false, T0 + 2 * M]], c).out, ['act'], 'one fell out of the window');
});

test('manual run: respects the gates (not the trigger) unless forced; never while an action runs', () => {
  const sp = spec();
  const fresh = feed(EMPTY_RULE_STATE, sp, [['api', true, T0 - S]]).state; // passing: no trigger, yet a run is allowed
  assert.equal(decide(EMPTY_RULE_STATE, sp, ctx(T0), { kind: 'manual', force: false }).kind, 'blocked', 'no fresh result yet: startup_grace');
  assert.deepEqual(decide(fresh, sp, ctx(T0), { kind: 'manual', force: false }), { kind: 'act', detail: 'run by an operator' });
  const s = acted(fresh, 'a', T0 - M, T0 - M);
  const d = decide(s, sp, ctx(T0), { kind: 'manual', force: false });
  assert.equal(d.kind === 'blocked' && d.reason, 'cooldown');
  assert.equal(decide(s, sp, ctx(T0), { kind: 'manual', force: true }).kind, 'act', 'force skips the rule\'s own gates (here the cooldown)');
  // An operator's pause and a maintenance window hold against force, unless overridden by name.
  const held = decide(s, sp, ctx(T0, { paused: true }), { kind: 'manual', force: true });
  assert.deepEqual([held.kind, held.kind === 'blocked' && held.reason], ['blocked', 'paused']);
  assert.match(held.detail, /force does not override it; add override=paused/);
  const maint = decide(s, sp, ctx(T0, { maintenance: { active: true, detail: 'window db-patching' } }), { kind: 'manual', force: true });
  assert.equal(maint.kind === 'blocked' && maint.reason, 'maintenance');
  assert.equal(decide(s, sp, ctx(T0, { paused: true, maintenance: { active: true, detail: 'w' } }), { kind: 'manual', force: true, override: ['paused', 'maintenance'] }).kind, 'act');
  assert.equal(decide(s, sp, ctx(T0, { paused: true }), { kind: 'manual', force: false, override: ['paused'] }).kind, 'blocked', 'override means nothing without force');
  assert.equal(decide(markBusy(s, T0, 'executing'), sp, ctx(T0), { kind: 'manual', force: true }).kind, 'none');
});

test('flapping for many cycles never yields more than max_actions per window', () => {
  const sp = spec({ needed: { api: 1 }, cooldownMs: 5 * S, graceMs: 0, maxActions: 3, windowMs: 2 * M });
  let s = EMPTY_RULE_STATE;
  const acts: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const at = T0 + i * S;
    const r = step(s, sp, { probe: 'api', ok: i % 2 === 1, at }, ctx(at));
    s = r.state;
    if (r.decision.kind === 'act') {
      acts.push(at);
      s = completeAction(beginAction(s, { id: `a${i}`, startedAt: at, dryRun: false, forced: false }), `a${i}`, 'succeeded', at + 100);
    }
  }
  assert.ok(acts.length >= 20, `acted ${acts.length} times`);
  for (const t of acts) {
    const inWindow = acts.filter((x) => x > t - sp.windowMs && x <= t).length;
    assert.ok(inWindow <= sp.maxActions, `${inWindow} actions in the window ending ${new Date(t).toISOString()}`);
  }
});
