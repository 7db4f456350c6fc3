// Intents the journal holds without an outcome mean the agent died
// mid-action. Each is checked against the world by its action's reconcile()
// (the unit's ActiveEnterTimestamp, the instance's health…), the answer is
// journalled as a reconciled_* outcome, and the action is never run again
// for it. The rule's cooldown counts from the intent.
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/catalogue.js';
import type { Action, PendingIntent, ReconcileResult } from '../actions/types.js';
import type { Journal } from './journal.js';
import { clearBusy, completeAction } from './rule-state.js';
import type { RuleState } from './types.js';

const RECONCILE_TIMEOUT_MS = 30_000;

export interface ReconcileHost {
  /** The configured action for this rule, if it still has the intent's type. */
  action(rule: string, type: string): Action | undefined;
  readonly journal: Journal;
  readonly logger: Logger;
  readonly metrics: Metrics;
  now(): number;
  readonly signal: AbortSignal;
  getState(rule: string): RuleState;
  setState(rule: string, s: RuleState): void;
}

async function ask(action: Action | undefined, intent: PendingIntent, host: ReconcileHost): Promise<ReconcileResult> {
  if (!action) return { outcome: 'reconciled_unknown', detail: `rule ${intent.rule} no longer has a ${intent.action} action; not checked, not repeated` };
  if (!action.reconcile) return { outcome: 'reconciled_unknown', detail: `${intent.action} cannot check its effect after the fact; not repeated` };
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      action.reconcile({
        rule: intent.rule, probe: '', reason: 'reconcile', intentId: intent.id, dryRun: false, forced: false,
        signal: host.signal, logger: host.logger.child({ rule: intent.rule, action: intent.action }),
      }, intent),
      new Promise<ReconcileResult>((resolve) => { t = setTimeout(() => resolve({ outcome: 'reconciled_unknown', detail: `reconcile did not answer within ${RECONCILE_TIMEOUT_MS / 1000}s` }), RECONCILE_TIMEOUT_MS); }),
    ]);
  } catch (err) {
    return { outcome: 'reconciled_unknown', detail: `reconcile failed: ${err instanceof Error ? err.message : String(err)}` };
  } finally {
    clearTimeout(t);
  }
}

export async function reconcilePending(pending: readonly PendingIntent[], host: ReconcileHost): Promise<void> {
  const left = new Map<string, number>();
  for (const i of pending) left.set(i.rule, (left.get(i.rule) ?? 0) + 1);
  for (const intent of pending) {
    const action = host.action(intent.rule, intent.action);
    const res = await ask(action, intent, host);
    await host.journal.append({ event: 'outcome', id: intent.id, rule: intent.rule, action: intent.action, outcome: res.outcome, detail: res.detail })
      .catch((err: Error) => host.logger.error({ rule: intent.rule, id: intent.id, err: err.message }, 'cannot journal the reconciled outcome; it will be checked again on the next start'));
    left.set(intent.rule, (left.get(intent.rule) ?? 1) - 1);
    const done = completeAction(host.getState(intent.rule), intent.id, res.outcome, intent.at, res.detail);
    host.setState(intent.rule, left.get(intent.rule) === 0 ? clearBusy(done) : done);
    // Names read back from the file become label values only when they are configured (a forged
    // or stale record must not create series).
    if (action) {
      host.metrics.remediation.reconciled.inc({ rule: intent.rule, action: intent.action, outcome: res.outcome });
      host.metrics.remediation.lastAction.set({ rule: intent.rule }, intent.at / 1000);
    }
    host.logger.warn({ rule: intent.rule, action: intent.action, target: intent.target, id: intent.id, intent_time: new Date(intent.at).toISOString(), outcome: res.outcome, detail: res.detail },
      `remediation ${intent.rule}: an earlier run stopped mid-action; ${res.outcome}: ${res.detail} (not repeated; cooldown counts from the intent)`);
  }
}
