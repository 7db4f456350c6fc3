// Pure transitions of a rule's state: folding in a probe result (with grace),
// beginning and completing actions, and the derived numbers the gates read
// (counted failures, last action, breaker). No clocks, no I/O.
import type { ActionOutcome, ActionRecord, ProbeEvent, ProbeView, RuleSpec, RuleState } from './types.js';

/** Actions that count in this mode: dry-run "would have acted" records only count while in dry-run. */
export function relevant(actions: readonly ActionRecord[], dryRun: boolean): ActionRecord[] {
  return actions.filter((a) => !a.dryRun || dryRun);
}

export function lastAction(state: RuleState, dryRun: boolean): ActionRecord | undefined {
  const acts = relevant(state.actions, dryRun);
  return acts[acts.length - 1];
}

/** The newest action (own, or of the rule escalated from) whose grace governs counting, and where that grace ends. */
export function governingAction(state: RuleState, spec: RuleSpec, dryRun: boolean, after?: { spec: RuleSpec; state: RuleState }):
  { startedAt: number; graceEnd: number } | undefined {
  const candidates: Array<{ startedAt: number; graceEnd: number }> = [];
  const own = lastAction(state, dryRun);
  if (own) candidates.push({ startedAt: own.startedAt, graceEnd: own.completedAt === undefined ? Infinity : own.completedAt + spec.graceMs });
  const prev = after ? lastAction(after.state, dryRun) : undefined;
  if (prev && after) candidates.push({ startedAt: prev.startedAt, graceEnd: prev.completedAt === undefined ? Infinity : prev.completedAt + after.spec.graceMs });
  candidates.sort((a, b) => a.startedAt - b.startedAt);
  return candidates[candidates.length - 1];
}

/** Failures the rule counts for a probe now (a newer action than the count's epoch restarts it at 0). */
export function countedFailures(view: ProbeView | undefined, epoch: number): number {
  return view && view.epoch === epoch ? view.counted : 0;
}

/**
 * Folds one probe result into the rule's view. Failures inside the grace of
 * the governing action are not counted: the service is restarting, and its
 * failures then are the action's effect, not new evidence.
 */
export function observe(state: RuleState, spec: RuleSpec, ev: ProbeEvent, dryRun: boolean, after?: { spec: RuleSpec; state: RuleState }): RuleState {
  if (!spec.probes.includes(ev.probe)) return state;
  const gov = governingAction(state, spec, dryRun, after);
  const epoch = gov?.startedAt ?? 0;
  const prev = state.probes[ev.probe];
  let counted = countedFailures(prev, epoch);
  let failingSince = prev?.failingSince;
  if (ev.ok) {
    counted = 0;
    failingSince = undefined;
  } else {
    failingSince ??= ev.at;
    const inGrace = gov !== undefined && ev.at <= gov.graceEnd;
    if (!inGrace) counted += 1;
  }
  const view: ProbeView = { counted, epoch, failingSince, lastAt: ev.at, lastOk: ev.ok };
  return { ...state, probes: { ...state.probes, [ev.probe]: view } };
}

/**
 * Starts a rule's view of a probe from the probe's current health (a rule
 * added by a reload must not wait for a whole new failing run).
 */
export function seed(state: RuleState, probe: string, consecutiveFailures: number, lastAt: number | undefined, epoch: number): RuleState {
  if (state.probes[probe] !== undefined) return state;
  const view: ProbeView = {
    counted: consecutiveFailures, epoch,
    failingSince: consecutiveFailures > 0 ? lastAt : undefined, lastAt, lastOk: lastAt === undefined ? undefined : consecutiveFailures === 0,
  };
  return { ...state, probes: { ...state.probes, [probe]: view } };
}

export function markBusy(state: RuleState, since: number, what: NonNullable<RuleState['busy']>['what']): RuleState {
  return { ...state, busy: { since, what } };
}

export function clearBusy(state: RuleState): RuleState {
  const { busy: _busy, ...rest } = state;
  return rest;
}

export function recordPrecheck(state: RuleState, at: number, reason: NonNullable<RuleState['lastPrecheck']>['reason'], detail: string): RuleState {
  return { ...state, lastPrecheck: { at, reason, detail } };
}

export function clearPrecheck(state: RuleState): RuleState {
  const { lastPrecheck: _p, ...rest } = state;
  return rest;
}

/** Adds an action that has begun (intent written), or a finished dry-run record. */
export function beginAction(state: RuleState, rec: ActionRecord): RuleState {
  const actions = [...state.actions.filter((a) => a.id !== rec.id), rec].sort((a, b) => a.startedAt - b.startedAt);
  return { ...state, actions };
}

export function completeAction(state: RuleState, id: string, outcome: ActionOutcome, completedAt: number, detail?: string): RuleState {
  return { ...state, actions: state.actions.map((a) => (a.id === id ? { ...a, outcome, completedAt, ...(detail === undefined ? {} : { detail }) } : a)) };
}

export function resetBreaker(state: RuleState, at: number): RuleState {
  return { ...state, breakerResetAt: at };
}

/** Drops actions nothing can need any more; always keeps the newest one (escalation, last action). */
export function prune(state: RuleState, now: number, keepMs: number): RuleState {
  const n = state.actions.length;
  const actions = state.actions.filter((a, i) => i === n - 1 || a.completedAt === undefined || a.startedAt > now - keepMs);
  return actions.length === n ? state : { ...state, actions };
}

export interface BreakerView {
  readonly open: boolean;
  /** Actions counted toward the breaker within the last window. */
  readonly inWindow: number;
  readonly openedAt?: number;
  readonly closesAt?: number;
}

/**
 * The breaker trips at an action that brings the count within `window` to
 * `max_actions`, and stays open for a full window from that trip (or until
 * an operator resets it). Derived from the action history alone, so a
 * restarted agent rebuilds it from the journal.
 */
export function breaker(state: RuleState, spec: RuleSpec, now: number, dryRun: boolean): BreakerView {
  const reset = state.breakerResetAt ?? -Infinity;
  const acts = relevant(state.actions, dryRun).filter((a) => a.startedAt > reset).map((a) => a.startedAt).sort((a, b) => a - b);
  let openedAt: number | undefined;
  for (let i = 0; i < acts.length; i++) {
    const t = acts[i];
    const count = acts.filter((x) => x > t - spec.windowMs && x <= t).length;
    if (count >= spec.maxActions && t + spec.windowMs > now) { openedAt = t; break; }
  }
  const inWindow = acts.filter((x) => x > now - spec.windowMs && x <= now).length;
  if (openedAt === undefined) return { open: false, inWindow };
  // A later trip inside the open period extends it (only forced runs can act while open).
  const trips = acts.filter((t) => t >= openedAt! && acts.filter((x) => x > t - spec.windowMs && x <= t).length >= spec.maxActions);
  const closesAt = Math.max(...trips.map((t) => t + spec.windowMs));
  return { open: true, inWindow, openedAt, closesAt };
}
