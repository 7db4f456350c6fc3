// The host's verdict in one sentence, and every problem behind it, worst
// first: what the status page leads with and what `vigil status` exits on.
// Pure: the document builder hands in what /ready and /healthz see.
import type { HealthStateName, VerdictDoc, VerdictLevel } from './shape.js';

export interface VerdictInput {
  readonly probes: ReadonlyArray<{ readonly name: string; readonly state: HealthStateName }>;
  /** Critical probes that count for /ready, and those with affects_ready: false. */
  readonly readiness: { readonly blocking: readonly string[]; readonly ignored: readonly string[] };
  /** What /healthz says is wrong with the agent itself. */
  readonly liveness: readonly string[];
  readonly reloadFailed: { readonly problems: number } | undefined;
  /** Rules whose breaker is open. */
  readonly breakersOpen: readonly string[];
  /** What the last reload could not apply (most need a restart). */
  readonly restartNeeded?: readonly string[];
}

const MAX_NAMED = 5;

function names(list: readonly string[]): string {
  const shown = list.slice(0, MAX_NAMED).join(', ');
  return list.length > MAX_NAMED ? `${shown} and ${list.length - MAX_NAMED} more` : shown;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

export function verdictOf(input: VerdictInput): VerdictDoc {
  const by = (s: HealthStateName) => input.probes.filter((p) => p.state === s).map((p) => p.name).sort();
  const critical = [...input.readiness.blocking].sort();
  const notCounted = [...input.readiness.ignored].sort();
  const warning = by('warning');
  const unknown = by('unknown');
  const problems: string[] = [];
  for (const l of input.liveness) problems.push(`the agent itself is unhealthy: ${l}`);
  if (critical.length) problems.push(`${plural(critical.length, 'probe')} critical: ${names(critical)}`);
  if (notCounted.length) problems.push(`${plural(notCounted.length, 'probe')} critical that /ready does not count (affects_ready: false): ${names(notCounted)}`);
  if (input.breakersOpen.length) problems.push(`breaker open (remediation stopped acting): ${names(input.breakersOpen)}`);
  if (warning.length) problems.push(`${plural(warning.length, 'probe')} failing, not yet critical: ${names(warning)}`);
  if (input.reloadFailed) problems.push(`the last config reload failed (${plural(input.reloadFailed.problems, 'problem')}); the previous config keeps running`);
  for (const r of input.restartNeeded ?? []) problems.push(`not applied by the last reload: ${r}`);
  const ready = critical.length === 0;
  const level: VerdictLevel = !ready || input.liveness.length > 0 ? 'critical' : problems.length > 0 ? 'warning' : 'ok';
  const waiting = unknown.length ? `; ${plural(unknown.length, 'probe')} not run yet` : '';
  const summary = !ready ? `not ready: ${problems.find((p) => p.includes('critical:')) ?? problems[0]}`
    : level === 'ok' ? `ready: all ${plural(input.probes.length - unknown.length, 'probe')} passing${waiting}`
      : `ready, with ${plural(problems.length, 'problem')}: ${problems[0]}${waiting}`;
  return { ready, level, summary, problems, critical, critical_not_counted: notCounted, warning, unknown, liveness_problems: [...input.liveness] };
}
