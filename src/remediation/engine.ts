// The decision: a pure function of the rule's state, the context (clock,
// pause, maintenance, budget, the rule escalated from) and what asked
// (a probe result or an operator). Gates run in a fixed order; the first that
// blocks names the reason. Impure steps (the action's precheck, dry-run) are
// folded in afterwards by settle(), also pure.
import type { PrecheckResult } from '../actions/types.js';
import {
  breakerGate, budgetGate, conditionOf, cooldownGate, corroborationGate, escalationWait, maintenanceGate,
  pausedGate, precheckStandGate, startupGate, type Gate,
} from './gates.js';
import { observe } from './rule-state.js';
import { OPERATOR_HOLDS, type Decision, type DecisionContext, type OperatorHold, type ProbeEvent, type RuleSpec, type RuleState, type Trigger } from './types.js';

/**
 * The order is the contract operators read in /status: their own switches
 * first (paused, maintenance), then the agent's (startup), the rule's history
 * (breaker, cooldown), the host's budget, the evidence (corroboration), the
 * action's own refusal; dry_run is last so a dry run passes every real gate.
 */
export const GATE_ORDER: ReadonlyArray<readonly [string, Gate]> = [
  ['paused', pausedGate],
  ['maintenance', maintenanceGate],
  ['startup_grace', startupGate],
  ['breaker_open', breakerGate],
  ['cooldown', cooldownGate],
  ['rate_limited', budgetGate],
  ['not_corroborated', corroborationGate],
  ['precheck', precheckStandGate],
];

/** Gates an operator's run skips: a manual run is its own evidence. */
const MANUAL_SKIPS = new Set(['not_corroborated']);

export function decide(state: RuleState, spec: RuleSpec, ctx: DecisionContext, trigger: Trigger = { kind: 'probe' }): Decision {
  if (state.busy) return { kind: 'none', detail: `${state.busy.what === 'reconciling' ? 'reconciling an interrupted action' : 'action in progress'} since ${new Date(state.busy.since).toISOString()}` };
  let because: string;
  if (trigger.kind === 'probe') {
    const cond = conditionOf(state, spec, ctx, spec.trigger);
    if (cond.met.length === 0) return { kind: 'none', detail: cond.text };
    const wait = escalationWait(state, spec, ctx, cond.met);
    if (wait !== undefined) return { kind: 'none', detail: wait };
    because = conditionOf(state, spec, ctx, cond.met).text;
  } else {
    if (trigger.force) {
      // Force lifts the rule's own gates; a pause or a maintenance window is another person's decision.
      for (const [name, gate] of GATE_ORDER) {
        if (!(OPERATOR_HOLDS as readonly string[]).includes(name) || trigger.override?.includes(name as OperatorHold)) continue;
        const blocked = gate(state, spec, ctx);
        if (blocked) return { kind: 'blocked', reason: blocked.reason, detail: `${blocked.detail}; force does not override it; add override=${name} to the request to act anyway` };
      }
      return { kind: 'act', detail: `forced by an operator (rule gates skipped${trigger.override?.length ? `, ${trigger.override.join(' and ')} overridden` : ''})` };
    }
    because = 'run by an operator';
  }
  for (const [name, gate] of GATE_ORDER) {
    if (trigger.kind === 'manual' && MANUAL_SKIPS.has(name)) continue;
    const blocked = gate(state, spec, ctx);
    if (blocked) return { kind: 'blocked', reason: blocked.reason, detail: blocked.detail };
  }
  return { kind: 'act', detail: because };
}

/** One probe result: fold it into the rule's view, then decide. */
export function step(state: RuleState, spec: RuleSpec, ev: ProbeEvent, ctx: DecisionContext): { state: RuleState; decision: Decision } {
  const next = observe(state, spec, ev, ctx.dryRun, ctx.after);
  return { state: next, decision: decide(next, spec, ctx) };
}

/** After `act`: the action's precheck may refuse, and dry-run stops here having passed every other gate. */
export function settle(decision: Decision, precheck: PrecheckResult, dryRun: boolean, target: string): Decision {
  if (decision.kind !== 'act') return decision;
  if (!precheck.ok) return { kind: 'blocked', reason: precheck.reason, detail: precheck.detail };
  if (dryRun) return { kind: 'blocked', reason: 'dry_run', detail: `dry run: would have acted on ${target} (${decision.detail})` };
  return decision;
}
