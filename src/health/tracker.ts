// Health per probe with Consul's semantics, as a pure step function:
// consecutive successes/failures compared with the probe's thresholds.
import type { HealthState } from '../metrics/catalogue.js';

export interface Thresholds {
  readonly failures_before_warning: number;
  readonly failures_before_critical: number;
  readonly successes_before_passing: number;
  /** Absent or true: a critical state counts against /ready. */
  readonly affects_ready?: boolean;
}

export interface Health {
  readonly state: HealthState;
  readonly consecutiveFailures: number;
  readonly consecutiveSuccesses: number;
}

export const INITIAL_HEALTH: Health = Object.freeze({ state: 'unknown', consecutiveFailures: 0, consecutiveSuccesses: 0 });

/**
 * The next health after one result. A state only changes when its threshold
 * is reached; until then the previous state holds (so one good run does not
 * clear a critical probe when successes_before_passing is 3).
 */
export function nextHealth(prev: Health, ok: boolean, t: Thresholds): Health {
  if (ok) {
    const successes = prev.consecutiveSuccesses + 1;
    return {
      state: successes >= t.successes_before_passing ? 'passing' : prev.state,
      consecutiveFailures: 0,
      consecutiveSuccesses: successes,
    };
  }
  const failures = prev.consecutiveFailures + 1;
  let state = prev.state;
  if (failures >= t.failures_before_critical) state = 'critical';
  else if (failures >= t.failures_before_warning && state !== 'critical') state = 'warning';
  return { state, consecutiveFailures: failures, consecutiveSuccesses: 0 };
}
