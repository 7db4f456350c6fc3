// The fleet step in the acting path (act.ts) with a stand-in FleetGate: it
// runs after the decision and BEFORE the action's precheck (so the
// asg_set_unhealthy guard counts under the slot); a refusal is recorded like
// any gate (decision log, blocked counter) and the precheck is never asked;
// the slot is held through the grace after an action, given back at once
// when nothing ran, and a slot no longer certainly held is not acted on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { act, type ActHost, type LiveRule } from '../../src/remediation/act.js';
import { DecisionLog } from '../../src/remediation/decision-log.js';
import { Journal } from '../../src/remediation/journal.js';
import { EMPTY_RULE_STATE, type RuleSpec, type RuleState } from '../../src/remediation/types.js';
import type { FleetAnswer, FleetGate, FleetRequest } from '../../src/remediation/fleet-gate.js';
import type { FleetSpec } from '../../src/remediation/fleet-rule.js';
import type { Action, PrecheckResult } from '../../src/actions/types.js';
import { createMetrics } from '../../src/metrics/catalogue.js';

const FLEET: FleetSpec = { name: 'web', maxConcurrent: 1, minMembers: 3, settleMs: 0, unavailable: 'refuse' };
const spec = (fleet: FleetSpec = FLEET): RuleSpec => ({
  name: 'restart', actionType: 'exec', trigger: ['api'], probes: ['api'], needed: { api: 2 }, cooldownMs: 0, graceMs: 700,
  maxActions: 5, windowMs: 3600_000, precheckRetryMs: 1000, fleet,
});

interface World { host: ActHost; events: string[]; metrics: ReturnType<typeof createMetrics>; decisions: DecisionLog; done: () => Promise<void> }

async function world(gate: FleetGate | undefined, dryRun = false): Promise<World> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-act-fleet-'));
  const journal = new Journal({ dir, maxBytes: 1 << 20, keep: (r) => [...r] });
  await journal.open();
  const logger = pino({ level: 'silent' });
  const metrics = createMetrics(new Registry(), { version: 't' });
  const decisions = new DecisionLog(logger, metrics);
  const states = new Map<string, RuleState>();
  const host: ActHost = {
    now: Date.now, journal, logger, metrics, decisions, dryRun, signal: new AbortController().signal,
    getState: (r) => states.get(r) ?? EMPTY_RULE_STATE, setState: (r, s) => { states.set(r, s); },
    retentionMs: () => 3600_000, claimClusterSlot: () => true, releaseClusterSlot: () => undefined, fleet: gate,
  };
  return { host, events: [], metrics, decisions, done: async () => { await journal.close(); await rm(dir, { recursive: true, force: true }); } };
}

function action(w: World, pre: PrecheckResult = { ok: true }): Action {
  return {
    type: 'exec', scope: 'host', target: 'x',
    precheck: async () => { w.events.push('precheck'); return pre; },
    execute: async () => { w.events.push('execute'); return { outcome: 'succeeded', detail: 'done' }; },
  };
}

/** A gate that answers `answer`, logging the request and the hold's releases into the world's events. */
function gate(w: () => World, answer: (req: FleetRequest) => FleetAnswer | 'hold', valid = () => true): FleetGate {
  return {
    acquire: async (req) => {
      w().events.push(`acquire ${req.fleet.name} on ${req.probe}${req.dryRun ? ' (dry run)' : ''}`);
      const a = answer(req);
      if (a !== 'hold') return a;
      return { ok: true, detail: 'took slot 0 of fleet web', hold: { detail: 'slot 0 of fleet web', valid, release: (ms) => { w().events.push(`release after ${ms}`); } } };
    },
  };
}

const act1 = (w: World, a: Action, s = spec()) =>
  act(w.host, { spec: s, action: a } as LiveRule, { kind: 'act', detail: 'api: 2/2' }, { probe: 'api', reason: 'status', forced: false });

test('the slot comes before the precheck; it is held through the grace after the action', async () => {
  let w!: World;
  w = await world(gate(() => w, () => 'hold'));
  try {
    const r = await act1(w, action(w));
    assert.equal(r.outcome, 'succeeded');
    assert.deepEqual(w.events, ['acquire web on api', 'precheck', 'execute', 'release after 700']);
    assert.equal(w.host.getState('restart').busy, undefined);
  } finally { await w.done(); }
});

test('fleet_busy and shared_cause are recorded like any gate; the precheck is never asked', async () => {
  for (const reason of ['fleet_busy', 'shared_cause', 'lock_unavailable'] as const) {
    let w!: World;
    w = await world(gate(() => w, () => ({ ok: false, reason, detail: `because ${reason}` })));
    try {
      const r = await act1(w, action(w));
      assert.deepEqual(r.decision, { kind: 'blocked', reason, detail: `because ${reason}` });
      assert.deepEqual(w.events, ['acquire web on api']);
      assert.equal(w.decisions.get('restart')?.reason, reason);
      const blocked = (await w.metrics.remediation.blocked.get()).values.find((v) => v.labels.reason === reason);
      assert.equal(blocked?.value, 1);
      assert.equal(w.host.getState('restart').busy, undefined, 'the rule is free to decide again');
      assert.equal(w.host.getState('restart').lastPrecheck, undefined, 'not a standing refusal: the next probe result asks again');
    } finally { await w.done(); }
  }
});

test('a refused precheck gives the slot back at once; so does a slot no longer certainly held (lock_unavailable, nothing runs)', async () => {
  let w!: World;
  w = await world(gate(() => w, () => 'hold'));
  try {
    const r = await act1(w, action(w, { ok: false, reason: 'precheck_failed', detail: 'fleet guard: would leave 1 of 3' }));
    assert.equal(r.decision.kind === 'blocked' && r.decision.reason, 'precheck_failed');
    assert.deepEqual(w.events, ['acquire web on api', 'precheck', 'release after 0']);
  } finally { await w.done(); }
  w = await world(gate(() => w, () => 'hold', () => false));
  try {
    const r = await act1(w, action(w));
    assert.deepEqual(r.decision, { kind: 'blocked', reason: 'lock_unavailable', detail: 'lost slot 0 of fleet web before acting (its lease was not renewed in time)' });
    assert.deepEqual(w.events, ['acquire web on api', 'precheck', 'release after 0']);
  } finally { await w.done(); }
});

test('dry-run asks the fleet in dry-run mode; without a fleet service a rule refuses, or acts alone when it says act_alone', async () => {
  let w!: World;
  w = await world(gate(() => w, () => ({ ok: true, hold: undefined, detail: 'slot 0 free (dry run: not taken)' })), true);
  try {
    const r = await act1(w, action(w));
    assert.equal(r.decision.kind === 'blocked' && r.decision.reason, 'dry_run');
    assert.deepEqual(w.events, ['acquire web on api (dry run)', 'precheck']);
  } finally { await w.done(); }
  w = await world(undefined);
  try {
    const r = await act1(w, action(w));
    assert.equal(r.decision.kind === 'blocked' && r.decision.reason, 'lock_unavailable');
    assert.deepEqual(w.events, []);
    const alone = await act1(w, action(w), spec({ ...FLEET, unavailable: 'act_alone' }));
    assert.equal(alone.outcome, 'succeeded');
    assert.deepEqual(w.events, ['precheck', 'execute']);
  } finally { await w.done(); }
});
