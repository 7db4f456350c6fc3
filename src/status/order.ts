// Problems first: the order in which the status page and `vigil status`
// list probes and rules, and the sentence each rule's state is told in.
// Pure functions over the /status document.
import type { HealthStateName, ProbeDoc, RuleDoc } from './shape.js';

const STATE_RANK: Readonly<Record<HealthStateName, number>> = { critical: 0, warning: 1, unknown: 2, passing: 3 };

/** Critical, then warning, then not run yet, then passing; longest-failing first within a state, then by name. */
export function probesProblemsFirst(probes: readonly ProbeDoc[]): ProbeDoc[] {
  return [...probes].sort((a, b) => (STATE_RANK[a.state] ?? 9) - (STATE_RANK[b.state] ?? 9)
    || (a.state === 'passing' ? 0 : b.consecutive_failures - a.consecutive_failures)
    || a.name.localeCompare(b.name));
}

/** How much a rule wants looking at: 0 breaker open, 1 acting now, 2 last action failed, 3 blocked, 4 quiet. */
export function ruleRank(r: RuleDoc): number {
  if (r.breaker.open) return 0;
  if (r.in_progress) return 1;
  if (r.last_action?.outcome && /failed/.test(r.last_action.outcome)) return 2;
  if (r.last_decision?.kind === 'blocked') return 3;
  return 4;
}

export function rulesProblemsFirst(rules: Readonly<Record<string, RuleDoc>>): Array<[string, RuleDoc]> {
  return Object.entries(rules).sort(([an, a], [bn, b]) => ruleRank(a) - ruleRank(b) || an.localeCompare(bn));
}

/** The rule's last decision in a sentence: "blocked by cooldown: …", "acted: …", "nothing to do: …". */
export function decisionSentence(r: RuleDoc): string {
  const d = r.last_decision;
  if (r.in_progress) return `acting now (${r.in_progress.what})`;
  if (!d) return 'no decision yet (its probes have not failed)';
  if (d.kind === 'blocked') return `blocked by ${d.reason ?? 'a gate'}: ${d.detail}`;
  if (d.kind === 'act') return `acted: ${d.detail}`;
  return `nothing to do: ${d.detail}`;
}

/** The breaker in a few words. */
export function breakerText(r: RuleDoc): string {
  const b = r.breaker;
  return b.open ? `OPEN (${b.actions_in_window}/${b.max_actions} in ${b.window})` : `closed (${b.actions_in_window}/${b.max_actions} in ${b.window})`;
}
