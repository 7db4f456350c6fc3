// Compiles a rule from vigil.yaml into the engine's RuleSpec: which probes
// trigger, which corroborate, and how many counted failures each needs
// (`state: critical` = the probe's own failures_before_critical).
import type { VigilConfig } from '../config/schema.js';
import type { RemediationRuleConfig } from './schema.js';
import type { RuleSpec } from './types.js';
import { compileFleet } from './fleet-rule.js';

export interface ProbeThresholds {
  readonly failures_before_warning: number;
  readonly failures_before_critical: number;
  /** How often it runs (a fleet's default settle follows the interval). */
  readonly schedule?: { readonly kind: string; readonly everyMs?: number };
}

export function compileRule(rule: RemediationRuleConfig, probes: ReadonlyMap<string, ProbeThresholds>): RuleSpec {
  const trigger = rule.when.probe !== undefined ? [rule.when.probe] : [...(rule.when.all_of ?? [])];
  const all = [...new Set([...trigger, ...(rule.when.all_of ?? [])])];
  const fleet = compileFleet(rule, trigger, probes);
  const needed: Record<string, number> = {};
  for (const p of all) {
    const t = probes.get(p);
    if (rule.when.failures !== undefined) needed[p] = rule.when.failures;
    else if (rule.when.state === 'warning') needed[p] = t?.failures_before_warning ?? 1;
    else needed[p] = t?.failures_before_critical ?? 3;
  }
  return {
    name: rule.name,
    actionType: rule.action.type,
    trigger,
    probes: all,
    needed,
    after: rule.after,
    cooldownMs: rule.cooldown,
    graceMs: rule.grace,
    maxActions: rule.max_actions,
    windowMs: rule.window,
    precheckRetryMs: rule.precheck_retry,
    ...(fleet ? { fleet } : {}),
  };
}

/** How long an action record can still matter to any gate of this rule or the host budget. */
export function retentionMs(spec: RuleSpec, budgetWindowMs: number): number {
  return Math.max(spec.windowMs * 2, spec.cooldownMs + spec.graceMs, budgetWindowMs);
}

/** The agent-wide remediation settings. */
export interface Settings {
  readonly dryRun: boolean;
  readonly startupGraceMs: number;
  readonly stateDir: string;
  readonly budget: { readonly maxActions: number; readonly windowMs: number };
}

export function settingsOf(config: VigilConfig): Settings {
  return {
    dryRun: config.agent.dry_run, startupGraceMs: config.agent.startup_grace, stateDir: config.agent.state_dir,
    budget: { maxActions: config.agent.action_budget.max_actions, windowMs: config.agent.action_budget.window },
  };
}
