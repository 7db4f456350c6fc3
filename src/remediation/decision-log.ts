// Makes every decision visible: the last one per rule for /status, a counter
// per blocked decision, and one log line when a rule's decision changes
// (kind or reason) — not one per probe run. "Nothing to do" in between does
// not count as a change for the log (only at debug level), so a flapping
// probe does not repeat "blocked by breaker_open" on every other run.
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/catalogue.js';
import type { Decision } from './types.js';

export interface RecordedDecision {
  readonly kind: Decision['kind'];
  readonly reason?: string;
  readonly detail: string;
  readonly time: string;
  /** When this kind+reason began (the decision may have been repeated since). */
  readonly since: string;
}

const RELOG_AFTER_MS = 10 * 60_000;

export class DecisionLog {
  private readonly last = new Map<string, RecordedDecision>();
  /** Last logged non-none decision per rule, and when that same decision was last seen. */
  private readonly logged = new Map<string, { key: string; seen: number }>();

  constructor(private readonly logger: Logger, private readonly metrics: Metrics) {}

  record(rule: string, action: string, d: Decision, at: number): void {
    const time = new Date(at).toISOString();
    const reason = d.kind === 'blocked' ? d.reason : undefined;
    const prev = this.last.get(rule);
    const changed = !prev || prev.kind !== d.kind || prev.reason !== reason;
    this.last.set(rule, { kind: d.kind, reason, detail: d.detail, time, since: changed ? time : prev.since });
    if (d.kind === 'blocked') this.metrics.remediation.blocked.inc({ rule, action, reason: d.reason });
    const fields = { rule, action, decision: d.kind, reason, detail: d.detail };
    if (d.kind === 'none') {
      if (changed) this.logger.debug(fields, `remediation ${rule}: nothing to do (${d.detail})`);
      return;
    }
    const key = `${d.kind}:${reason ?? ''}`;
    // Every act is logged; a blocked reason once until something else was logged,
    // or again after it has not come up for a while (next week's maintenance window).
    const last = this.logged.get(rule);
    this.logged.set(rule, { key, seen: at });
    if (d.kind === 'blocked' && last?.key === key && at - last.seen < RELOG_AFTER_MS) return;
    if (d.kind === 'act') this.logger.warn(fields, `remediation ${rule}: acting (${action})`);
    else {
      const loud = d.reason === 'breaker_open' || d.reason === 'precheck_failed' || d.reason === 'lock_unavailable' || d.reason === 'shared_cause';
      this.logger[loud ? 'warn' : 'info'](fields, `remediation ${rule}: blocked by ${d.reason}: ${d.detail}`);
    }
  }

  get(rule: string): RecordedDecision | undefined {
    return this.last.get(rule);
  }
}
