// The `remediation` section of /status (and GET /v1/remediation): per rule
// its last decision with reason and detail, cooldown, breaker, escalation
// step and last action; plus pause, maintenance, budget and the journal. No
// config values beyond names and targets, so nothing secret can leak.
import { formatDuration } from '../config/durations.js';
import type { Journal } from './journal.js';
import { journalEntryView } from './journal-view.js';
import type { MaintenanceStatus } from './maintenance.js';
import type { PauseState } from './replay.js';
import type { RecordedDecision } from './decision-log.js';
import type { LiveRule } from './act.js';
import { conditionOf, escalationWait } from './gates.js';
import { breaker, lastAction, relevant } from './rule-state.js';
import type { DecisionContext, RuleSpec, RuleState } from './types.js';

export interface StatusInput {
  readonly now: number;
  readonly startedAt: number;
  readonly settings: { readonly dryRun: boolean; readonly startupGraceMs: number; readonly budget: { readonly maxActions: number; readonly windowMs: number } };
  readonly pause: PauseState;
  readonly journal: Journal | undefined;
  readonly maintenance: MaintenanceStatus;
  readonly rules: readonly LiveRule[];
  readonly adminAddress: string | undefined;
  state(rule: string): RuleState;
  decision(rule: string): RecordedDecision | undefined;
  context(spec: RuleSpec): DecisionContext;
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

/** idle (probes passing) → waiting (for the earlier rule, or its grace) → counting (failures past its grace) → ready. */
function escalation(spec: RuleSpec, state: RuleState, ctx: DecisionContext): Record<string, unknown> | null {
  if (spec.after === undefined) return null;
  const failing = spec.trigger.filter((p) => state.probes[p]?.lastOk === false);
  if (failing.length === 0) return { after: spec.after, step: 'idle', detail: 'the rule\'s probes are not failing' };
  const wait = escalationWait(state, spec, ctx, failing);
  if (wait !== undefined) return { after: spec.after, step: 'waiting', detail: wait };
  const cond = conditionOf(state, spec, ctx, spec.trigger);
  return cond.met.length ? { after: spec.after, step: 'ready', detail: `${spec.after} acted and its grace passed; ${cond.text}` }
    : { after: spec.after, step: 'counting', detail: `${spec.after} acted and its grace passed; ${cond.text}` };
}

function ruleStatus(rule: LiveRule, input: StatusInput): Record<string, unknown> {
  const { spec, action } = rule;
  const state = input.state(spec.name);
  const ctx = input.context(spec);
  const dry = input.settings.dryRun;
  const b = breaker(state, spec, input.now, dry);
  const done = relevant(state.actions, dry).filter((a) => a.completedAt !== undefined);
  const lastDone = done[done.length - 1];
  const cooldownUntil = lastDone ? lastDone.completedAt! + spec.cooldownMs : undefined;
  const last = lastAction(state, dry);
  return {
    action: { type: action.type, target: action.target, scope: action.scope },
    when: { trigger: spec.trigger, probes: spec.probes, failures_needed: spec.needed, condition: conditionOf(state, spec, ctx, spec.probes).text },
    last_decision: input.decision(spec.name) ?? null,
    in_progress: state.busy ? { what: state.busy.what, since: iso(state.busy.since) } : null,
    cooldown: { duration: formatDuration(spec.cooldownMs), until: cooldownUntil !== undefined && cooldownUntil > input.now ? iso(cooldownUntil) : null },
    grace: formatDuration(spec.graceMs),
    breaker: {
      open: b.open, actions_in_window: b.inWindow, max_actions: spec.maxActions, window: formatDuration(spec.windowMs),
      opened_at: iso(b.openedAt), closes_at: iso(b.closesAt), reset_at: iso(state.breakerResetAt),
    },
    escalation: escalation(spec, state, ctx),
    last_action: last ? { id: last.id, started_at: iso(last.startedAt), completed_at: iso(last.completedAt), outcome: last.outcome ?? null, detail: last.detail ?? null, forced: last.forced } : null,
    last_precheck_refusal: state.lastPrecheck ? { at: iso(state.lastPrecheck.at), reason: state.lastPrecheck.reason, detail: state.lastPrecheck.detail } : null,
    // Only for rules that name one; the fleet's members, slots and shares are in the `fleets` section.
    ...(spec.fleet ? { fleet: {
      name: spec.fleet.name, max_concurrent: spec.fleet.maxConcurrent, stand_down_share: spec.fleet.standDownShare ?? null,
      min_members: spec.fleet.minMembers, settle: formatDuration(spec.fleet.settleMs) || '0s', fleet_unavailable: spec.fleet.unavailable,
    } } : {}),
  };
}

export function buildStatus(input: StatusInput): Record<string, unknown> {
  const rules: Record<string, unknown> = {};
  for (const r of input.rules) rules[r.spec.name] = ruleStatus(r, input);
  const recent = input.rules.flatMap((r) => relevant(input.state(r.spec.name).actions, input.settings.dryRun).map((a) => a.startedAt));
  const graceUntil = input.startedAt + input.settings.startupGraceMs;
  return {
    dry_run: input.settings.dryRun,
    paused: { paused: input.pause.paused, since: iso(input.pause.since), note: input.pause.note ?? null },
    maintenance: input.maintenance,
    startup_grace_until: graceUntil > input.now ? iso(graceUntil) : null,
    budget: {
      max_actions: input.settings.budget.maxActions, window: formatDuration(input.settings.budget.windowMs),
      used: recent.filter((t) => t > input.now - input.settings.budget.windowMs).length,
    },
    journal: input.journal
      ? {
        path: input.journal.path, size_bytes: input.journal.sizeBytes, compactions: input.journal.rotations, problems: input.journal.problems,
        recent: input.journal.recent().map(journalEntryView),
      }
      : null,
    admin: input.adminAddress ? { listening: input.adminAddress } : { listening: null },
    rules,
  };
}
