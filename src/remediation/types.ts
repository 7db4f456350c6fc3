// The data the pure decision step works on. Everything here is plain,
// serialisable data: rule specs compiled from the config, per-rule state
// rebuilt from the journal, and the decisions themselves.
import type { FleetSpec } from './fleet-rule.js';

/** Why an action did not run: a fixed set, used as a metric label. */
export const BLOCK_REASONS = [
  'paused', 'maintenance', 'startup_grace', 'breaker_open', 'cooldown', 'rate_limited',
  'not_corroborated', 'fleet_busy', 'shared_cause', 'lock_unavailable', 'precheck_failed', 'dry_run',
] as const;
export type BlockReason = (typeof BLOCK_REASONS)[number];

export type Decision =
  | { readonly kind: 'act'; readonly detail: string }
  | { readonly kind: 'blocked'; readonly reason: BlockReason; readonly detail: string }
  | { readonly kind: 'none'; readonly detail: string };

/** A rule as the engine sees it: names and numbers only (compiled from the config by rules.ts). */
export interface RuleSpec {
  readonly name: string;
  readonly actionType: string;
  /** Probes any one of which triggers the rule. */
  readonly trigger: readonly string[];
  /** Every probe the rule uses (trigger and all_of); all must agree for corroboration. */
  readonly probes: readonly string[];
  /** Counted consecutive failures at which each probe meets the rule's condition. */
  readonly needed: Readonly<Record<string, number>>;
  readonly after?: string;
  readonly cooldownMs: number;
  readonly graceMs: number;
  readonly maxActions: number;
  readonly windowMs: number;
  readonly precheckRetryMs: number;
  /** The fleet the rule belongs to; the engine ignores it, the acting path takes a slot (act.ts). */
  readonly fleet?: FleetSpec;
}

export type ActionOutcome =
  | 'succeeded' | 'failed' | 'dry_run'
  | 'reconciled_succeeded' | 'reconciled_failed' | 'reconciled_unknown';

/** One action (or dry-run "would have acted") of a rule. */
export interface ActionRecord {
  readonly id: string;
  /** Epoch ms of the intent. */
  readonly startedAt: number;
  /** Epoch ms it finished; for reconciled intents the intent time (the cooldown counts from there). */
  readonly completedAt?: number;
  readonly outcome?: ActionOutcome;
  /** The action's own one-line account of its outcome (a runbook's last output line, a systemd job result). */
  readonly detail?: string;
  readonly dryRun: boolean;
  readonly forced: boolean;
}

/** The rule's own view of one probe: failures inside an action's grace are not counted. */
export interface ProbeView {
  readonly counted: number;
  /** startedAt of the action whose grace this count follows (0 = none); a newer action restarts the count. */
  readonly epoch: number;
  /** First failure of the current failing run, ignoring grace (undefined while passing). */
  readonly failingSince?: number;
  readonly lastAt?: number;
  readonly lastOk?: boolean;
}

export interface RuleState {
  readonly probes: Readonly<Record<string, ProbeView>>;
  /** Oldest first; pruned to what the gates can still need. */
  readonly actions: readonly ActionRecord[];
  /** Actions that started before this do not count toward the breaker (admin reset). */
  readonly breakerResetAt?: number;
  /** Set synchronously when a decision says act, so no second decision can act meanwhile. */
  readonly busy?: { readonly since: number; readonly what: 'precheck' | 'executing' | 'reconciling' };
  /** The last refused precheck; it stands for precheckRetryMs before the action is asked again. */
  readonly lastPrecheck?: { readonly at: number; readonly reason: BlockReason; readonly detail: string };
}

export const EMPTY_RULE_STATE: RuleState = Object.freeze({ probes: Object.freeze({}), actions: Object.freeze([]) as readonly ActionRecord[] });

/** A probe result as the engine sees it. */
export interface ProbeEvent {
  readonly probe: string;
  readonly ok: boolean;
  readonly at: number;
}

/** Everything besides the rule's own state that a decision depends on. */
export interface DecisionContext {
  readonly now: number;
  readonly startedAt: number;
  readonly startupGraceMs: number;
  readonly paused: boolean;
  readonly maintenance: { readonly active: boolean; readonly detail: string };
  readonly dryRun: boolean;
  /** Host-wide budget: intents of every rule (epoch ms) against max per window. */
  readonly budget: { readonly maxActions: number; readonly windowMs: number; readonly recent: readonly number[] };
  /** The rule named in `after:` with its state, for escalation. */
  readonly after?: { readonly spec: RuleSpec; readonly state: RuleState };
}

/** What kind of evaluation this is: a probe result, or an operator's run (with or without force). */
export type Trigger = { readonly kind: 'probe' }
  /** `override`: the operator holds that force may lift too, named explicitly (an operator's pause, a maintenance window). */
  | { readonly kind: 'manual'; readonly force: boolean; readonly override?: readonly OperatorHold[] };

/** Gates that an operator set and that force alone does not lift. */
export const OPERATOR_HOLDS = ['paused', 'maintenance'] as const;
export type OperatorHold = (typeof OPERATOR_HOLDS)[number];
