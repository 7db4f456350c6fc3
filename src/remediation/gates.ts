// The gates, each a pure function of the rule's state and the context. A gate
// returns undefined when it lets the decision through, or the reason and a
// human detail when it blocks. engine.ts runs them in GATE_ORDER.
import { formatDuration } from '../config/durations.js';
import { breaker, countedFailures, governingAction, lastAction, relevant } from './rule-state.js';
import type { BlockReason, DecisionContext, RuleSpec, RuleState } from './types.js';

export interface Blocked { readonly reason: BlockReason; readonly detail: string }
export type Gate = (state: RuleState, spec: RuleSpec, ctx: DecisionContext) => Blocked | undefined;

const iso = (ms: number) => new Date(ms).toISOString();

/** The epoch counting currently follows (see rule-state.observe). */
export function currentEpoch(state: RuleState, spec: RuleSpec, ctx: DecisionContext): number {
  return governingAction(state, spec, ctx.dryRun, ctx.after)?.startedAt ?? 0;
}

/** Probes of `names` that meet the rule's condition, and a text for those that do not. */
export function conditionOf(state: RuleState, spec: RuleSpec, ctx: DecisionContext, names: readonly string[]):
  { met: string[]; unmet: string[]; text: string } {
  const epoch = currentEpoch(state, spec, ctx);
  const met: string[] = [];
  const unmet: string[] = [];
  const parts: string[] = [];
  for (const p of names) {
    const view = state.probes[p];
    const n = countedFailures(view, epoch);
    (n >= spec.needed[p] ? met : unmet).push(p);
    const seen = view?.lastAt === undefined ? 'no result yet' : view.lastOk ? 'passing' : 'failing';
    parts.push(`${p}: ${n}/${spec.needed[p]} failures counted (${seen})`);
  }
  const gov = governingAction(state, spec, ctx.dryRun, ctx.after);
  if (gov && ctx.now <= gov.graceEnd) {
    parts.push(gov.graceEnd === Infinity ? 'failures not counted while the action runs' : `failures not counted until ${iso(gov.graceEnd)} (grace after the last action)`);
  }
  return { met, unmet, text: parts.join('; ') };
}

/**
 * Escalation (`after:`): the earlier rule must have acted during this failing
 * run and its grace must have passed — or it must have given up (breaker open).
 * Returns why the rule is still waiting, or undefined when it may go on.
 */
export function escalationWait(state: RuleState, spec: RuleSpec, ctx: DecisionContext, triggered: readonly string[]): string | undefined {
  if (spec.after === undefined) return undefined;
  const prev = ctx.after;
  if (!prev) return `waiting for ${spec.after} (not configured)`;
  const last = lastAction(prev.state, ctx.dryRun);
  if (prev.state.busy) return `waiting for ${spec.after}: its action is in progress`;
  if (breaker(prev.state, prev.spec, ctx.now, ctx.dryRun).open) return undefined;
  const since = Math.min(...triggered.map((p) => state.probes[p]?.failingSince ?? ctx.now));
  if (!last || last.startedAt < since) return `waiting for ${spec.after} to act first (escalation step 1 of 2)`;
  if (last.completedAt === undefined) return `waiting for ${spec.after}: its action has not completed`;
  const graceEnd = last.completedAt + prev.spec.graceMs;
  if (ctx.now < graceEnd) return `${spec.after} acted at ${iso(last.startedAt)}; waiting for its grace to end at ${iso(graceEnd)}`;
  return undefined;
}

export const pausedGate: Gate = (_s, _spec, ctx) =>
  ctx.paused ? { reason: 'paused', detail: 'an operator paused all remediation (POST /v1/remediation/resume to resume)' } : undefined;

export const maintenanceGate: Gate = (_s, _spec, ctx) =>
  ctx.maintenance.active ? { reason: 'maintenance', detail: ctx.maintenance.detail } : undefined;

export const startupGate: Gate = (state, spec, ctx) => {
  const until = ctx.startedAt + ctx.startupGraceMs;
  if (ctx.now < until) return { reason: 'startup_grace', detail: `agent started at ${iso(ctx.startedAt)}; no action before ${iso(until)}` };
  const stale = spec.probes.filter((p) => (state.probes[p]?.lastAt ?? -Infinity) < ctx.startedAt);
  if (stale.length) return { reason: 'startup_grace', detail: `waiting for a first result since start from ${stale.join(', ')}` };
  return undefined;
};

export const breakerGate: Gate = (state, spec, ctx) => {
  const b = breaker(state, spec, ctx.now, ctx.dryRun);
  if (!b.open) return undefined;
  return { reason: 'breaker_open', detail: `${spec.maxActions} actions within ${formatDuration(spec.windowMs)} (first trip ${iso(b.openedAt!)}); closes at ${iso(b.closesAt!)} or on an operator reset` };
};

export const cooldownGate: Gate = (state, spec, ctx) => {
  const acts = relevant(state.actions, ctx.dryRun).filter((a) => a.completedAt !== undefined);
  const last = acts[acts.length - 1];
  if (!last) return undefined;
  const until = last.completedAt! + spec.cooldownMs;
  return ctx.now < until ? { reason: 'cooldown', detail: `last action finished at ${iso(last.completedAt!)}; cooldown until ${iso(until)}` } : undefined;
};

export const budgetGate: Gate = (_s, _spec, ctx) => {
  const used = ctx.budget.recent.filter((t) => t > ctx.now - ctx.budget.windowMs).length;
  if (used < ctx.budget.maxActions) return undefined;
  return { reason: 'rate_limited', detail: `host-wide budget used: ${used} actions by all rules within ${formatDuration(ctx.budget.windowMs)} (agent.action_budget.max_actions ${ctx.budget.maxActions})` };
};

export const corroborationGate: Gate = (state, spec, ctx) => {
  if (spec.probes.length < 2) return undefined;
  const c = conditionOf(state, spec, ctx, spec.probes);
  return c.unmet.length ? { reason: 'not_corroborated', detail: `not every probe agrees: ${c.text}` } : undefined;
};

/** A refused precheck stands for a while, so a failing probe does not hammer an API on every run. */
export const precheckStandGate: Gate = (state, spec, ctx) => {
  const p = state.lastPrecheck;
  if (!p || ctx.now >= p.at + spec.precheckRetryMs) return undefined;
  return { reason: p.reason, detail: `${p.detail} (checked at ${iso(p.at)}; asked again after ${iso(p.at + spec.precheckRetryMs)})` };
};
