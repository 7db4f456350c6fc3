// The health tracker step by step: feed one result at a time, check the
// counters and the state after each (Consul semantics, initial state unknown).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { INITIAL_HEALTH, nextHealth, type Health, type Thresholds } from '../../src/health/tracker.js';

type Step = [ok: boolean, state: Health['state'], failures: number, successes: number];

function walk(t: Thresholds, steps: Step[], from: Health = INITIAL_HEALTH): Health {
  let h = from;
  steps.forEach(([ok, state, failures, successes], i) => {
    h = nextHealth(h, ok, t);
    assert.deepEqual(
      { state: h.state, failures: h.consecutiveFailures, successes: h.consecutiveSuccesses },
      { state, failures, successes },
      `after step ${i + 1} (${ok ? 'success' : 'failure'})`,
    );
  });
  return h;
}

test('the initial state is unknown with zero counters', () => {
  assert.deepEqual(INITIAL_HEALTH, { state: 'unknown', consecutiveFailures: 0, consecutiveSuccesses: 0 });
  assert.ok(Object.isFrozen(INITIAL_HEALTH));
});

test('defaults (warning 1, critical 3, passing 1): unknown → passing → warning → critical → passing', () => {
  walk({ failures_before_warning: 1, failures_before_critical: 3, successes_before_passing: 1 }, [
    [true, 'passing', 0, 1],
    [true, 'passing', 0, 2],
    [false, 'warning', 1, 0],
    [false, 'warning', 2, 0],
    [false, 'critical', 3, 0],
    [false, 'critical', 4, 0],
    [true, 'passing', 0, 1],
  ]);
});

test('below the warning threshold the previous state holds', () => {
  walk({ failures_before_warning: 2, failures_before_critical: 4, successes_before_passing: 1 }, [
    [false, 'unknown', 1, 0],
    [false, 'warning', 2, 0],
    [true, 'passing', 0, 1],
    [false, 'passing', 1, 0],
    [false, 'warning', 2, 0],
    [false, 'warning', 3, 0],
    [false, 'critical', 4, 0],
  ]);
});

test('successes_before_passing: one good run does not clear critical, and a failure restarts the count', () => {
  walk({ failures_before_warning: 1, failures_before_critical: 2, successes_before_passing: 3 }, [
    [false, 'warning', 1, 0],
    [false, 'critical', 2, 0],
    [true, 'critical', 0, 1],
    [true, 'critical', 0, 2],
    [false, 'critical', 1, 0], // still critical: a lone failure does not downgrade it to warning
    [true, 'critical', 0, 1],
    [true, 'critical', 0, 2],
    [true, 'passing', 0, 3],
  ]);
});

test('from unknown, successes below the passing threshold keep unknown', () => {
  walk({ failures_before_warning: 1, failures_before_critical: 3, successes_before_passing: 2 }, [
    [true, 'unknown', 0, 1],
    [true, 'passing', 0, 2],
  ]);
});

test('warning equal to critical goes straight to critical (Consul: warning defaults to critical)', () => {
  walk({ failures_before_warning: 3, failures_before_critical: 3, successes_before_passing: 1 }, [
    [false, 'unknown', 1, 0],
    [false, 'unknown', 2, 0],
    [false, 'critical', 3, 0],
  ]);
});

test('critical after 1 failure', () => {
  walk({ failures_before_warning: 1, failures_before_critical: 1, successes_before_passing: 1 }, [
    [false, 'critical', 1, 0],
    [true, 'passing', 0, 1],
  ]);
});

test('nextHealth is pure: it never changes its input', () => {
  const before = { state: 'warning', consecutiveFailures: 1, consecutiveSuccesses: 0 } as const;
  const copy = { ...before };
  nextHealth(before, false, { failures_before_warning: 1, failures_before_critical: 2, successes_before_passing: 1 });
  assert.deepEqual(before, copy);
});
