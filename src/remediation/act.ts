// What happens after a decision says act, outside the pure engine:
// fleet slot (a rule with `fleet:`) → precheck → settle (precheck refusal,
// dry-run) → intent fsynced → execute → outcome fsynced → the slot is held
// through the rule's grace, then released. No intent on disk, no action. The
// rule is marked busy from the first step, so no second decision can start
// another action meanwhile.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/catalogue.js';
import type { Action, ActionContext, ExecuteResult, PrecheckResult } from '../actions/types.js';
import type { Journal } from './journal.js';
import type { DecisionLog } from './decision-log.js';
import { settle } from './engine.js';
import { beginAction, clearBusy, clearPrecheck, completeAction, markBusy, prune, recordPrecheck } from './rule-state.js';
import type { Decision, RuleSpec, RuleState } from './types.js';
import { noFleetService, type FleetAnswer, type FleetGate, type FleetHold } from './fleet-gate.js';

export interface ActHost {
  now(): number;
  readonly journal: Journal | undefined;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly decisions: DecisionLog;
  readonly dryRun: boolean;
  getState(rule: string): RuleState;
  setState(rule: string, s: RuleState): void;
  retentionMs(spec: RuleSpec): number;
  /** One cluster-scoped action at a time on this agent. */
  claimClusterSlot(): boolean;
  releaseClusterSlot(): void;
  /** Aborted when the agent stops; actions should finish or give up promptly. */
  readonly signal: AbortSignal;
  /** Fleet slots and shared-cause judgement (src/fleet); undefined without `coordination:`. */
  readonly fleet?: FleetGate;
}

export interface LiveRule { readonly spec: RuleSpec; readonly action: Action }
export interface TriggerInfo { readonly probe: string; readonly reason: string; readonly message?: string; readonly forced: boolean }
export interface ActResult { readonly decision: Decision; readonly id?: string; readonly outcome?: ExecuteResult['outcome']; readonly detail?: string }

const PRECHECK_TIMEOUT_MS = 60_000;

async function safely<T>(what: string, p: () => Promise<T>, fallback: (msg: string) => T, timeoutMs: number): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p(), new Promise<T>((resolve) => { t = setTimeout(() => resolve(fallback(`${what} did not return within ${timeoutMs / 1000}s`)), timeoutMs); })]);
  } catch (err) {
    return fallback(`${what} threw: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    clearTimeout(t);
  }
}

export async function act(host: ActHost, rule: LiveRule, decision: Decision, trig: TriggerInfo): Promise<ActResult> {
  const { spec, action } = rule;
  const name = spec.name;
  const update = (f: (s: RuleState) => RuleState) => host.setState(name, f(host.getState(name)));
  update((s) => markBusy(s, host.now(), 'precheck'));
  const cluster = action.scope === 'cluster';
  if (cluster && !host.claimClusterSlot()) {
    update(clearBusy);
    const blocked: Decision = { kind: 'blocked', reason: 'lock_unavailable', detail: 'another cluster-scoped action is running on this agent' };
    host.decisions.record(name, action.type, blocked, host.now());
    return { decision: blocked };
  }
  // The fleet step comes BEFORE the precheck on purpose: asg_set_unhealthy's
  // fleet guard counts the group in its precheck, and only under the slot is
  // that count exact (two hosts can no longer both pass it in the same second).
  let hold: FleetHold | undefined;
  if (spec.fleet) {
    const f = await fleetStep(host, rule, trig);
    if (!f.ok) {
      if (cluster) host.releaseClusterSlot();
      update(clearBusy);
      const blocked: Decision = { kind: 'blocked', reason: f.reason, detail: f.detail };
      host.decisions.record(name, action.type, blocked, host.now());
      return { decision: blocked };
    }
    hold = f.hold;
    if (!hold && !host.dryRun) host.logger.warn({ rule: name, fleet: spec.fleet.name }, `remediation ${name}: ${f.detail}`);
  }
  const ctx: ActionContext = {
    rule: name, probe: trig.probe, reason: trig.reason, message: trig.message, dryRun: host.dryRun, forced: trig.forced,
    signal: host.signal, logger: host.logger.child({ rule: name, action: action.type }),
  };
  let release: (() => Promise<void>) | undefined;
  let executed = false;
  try {
    const pre: PrecheckResult = await safely('precheck', () => action.precheck(ctx),
      (msg) => ({ ok: false, reason: 'precheck_failed', detail: msg }), PRECHECK_TIMEOUT_MS);
    if (pre.ok) release = pre.release;
    let final = settle(decision, pre, host.dryRun, action.target);
    if (final.kind === 'act' && hold && !hold.valid()) {
      // Never act on a slot that may already be someone else's (etcd unreachable past the lease).
      final = { kind: 'blocked', reason: 'lock_unavailable', detail: `lost ${hold.detail} before acting (its lease was not renewed in time)` };
    }
    if (final.kind === 'blocked' && final.reason === 'dry_run') return await dryRun(host, rule, final, trig);
    if (final.kind === 'blocked') {
      update((s) => recordPrecheck(clearBusy(s), host.now(), final.reason, final.detail));
      host.decisions.record(name, action.type, final, host.now());
      return { decision: final };
    }
    const done = await execute(host, rule, final, trig, ctx);
    executed = done.outcome !== undefined;
    return done;
  } finally {
    if (host.getState(name).busy) update(clearBusy);
    if (release) await release().catch((err: Error) => host.logger.error({ rule: name, err: err.message }, 'releasing the action\'s lock failed'));
    if (cluster) host.releaseClusterSlot();
    // Held through the grace: the effect of a restart shows only after it, and the next host waits until then.
    hold?.release(executed ? spec.graceMs : 0);
  }
}

async function fleetStep(host: ActHost, rule: LiveRule, trig: TriggerInfo): Promise<FleetAnswer> {
  const fleet = rule.spec.fleet!;
  if (!host.fleet) return noFleetService({ fleet });
  try {
    return await host.fleet.acquire({ rule: rule.spec.name, action: rule.action.type, fleet, probe: trig.probe, dryRun: host.dryRun, signal: host.signal });
  } catch (err) {
    // acquire() answers etcd trouble itself; a throw is a bug, and a bug must not act without the slot.
    return { ok: false, reason: 'lock_unavailable', detail: `fleet ${fleet.name}: ${err instanceof Error ? err.message : String(err)}` };
  }
}

async function dryRun(host: ActHost, rule: LiveRule, final: Decision, trig: TriggerInfo): Promise<ActResult> {
  const { spec, action } = rule;
  const id = randomUUID();
  const at = host.now();
  // A dry run still counts for cooldown and breaker (in dry-run mode), so it shows what the real one would do over time.
  host.setState(spec.name, prune(clearPrecheck(clearBusy(beginAction(host.getState(spec.name), {
    id, startedAt: at, completedAt: at, outcome: 'dry_run', detail: final.detail, dryRun: true, forced: trig.forced,
  }))), at, host.retentionMs(spec)));
  host.decisions.record(spec.name, action.type, final, at);
  host.metrics.remediation.actions.inc({ rule: spec.name, action: action.type, outcome: 'dry_run' });
  await host.journal?.append({
    event: 'dry_run', id, rule: spec.name, action: action.type, target: action.target, probe: trig.probe, reason: trig.reason, detail: final.detail,
  }).catch(() => undefined); // reported by the journal itself; a dry run changes nothing either way
  return { decision: final, id, detail: final.detail };
}

async function execute(host: ActHost, rule: LiveRule, decision: Decision, trig: TriggerInfo, ctx: ActionContext): Promise<ActResult> {
  const { spec, action } = rule;
  const name = spec.name;
  const id = randomUUID();
  const journal = host.journal;
  let intentTs: number;
  try {
    if (!journal) throw new Error('no journal is open');
    const rec = await journal.append({
      event: 'intent', id, rule: name, action: action.type, target: action.target, scope: action.scope,
      probe: trig.probe, reason: trig.reason, forced: trig.forced,
    });
    intentTs = rec.ts;
  } catch (err) {
    const blocked: Decision = { kind: 'blocked', reason: 'precheck_failed', detail: `cannot journal the intent (${(err as Error).message}); not acting without it` };
    host.setState(name, clearBusy(host.getState(name)));
    host.decisions.record(name, action.type, blocked, host.now());
    return { decision: blocked };
  }
  host.setState(name, markBusy(clearPrecheck(beginAction(host.getState(name), { id, startedAt: intentTs, dryRun: false, forced: trig.forced })), intentTs, 'executing'));
  host.decisions.record(name, action.type, decision, intentTs);
  const t0 = host.now();
  const res: ExecuteResult = await safely('execute', () => action.execute({ ...ctx, intentId: id }),
    (msg) => ({ outcome: 'failed', detail: msg }), 24 * 3600_000);
  const done = host.now();
  await journal.append({
    event: 'outcome', id, rule: name, action: action.type, outcome: res.outcome, detail: res.detail,
    output: res.output, duration_seconds: Number(((done - t0) / 1000).toFixed(3)),
  }).catch((err: Error) => host.logger.error({ rule: name, id, err: err.message }, 'cannot journal the outcome; the next start will reconcile this intent'));
  host.setState(name, prune(clearBusy(completeAction(host.getState(name), id, res.outcome, done, res.detail)), done, host.retentionMs(spec)));
  host.metrics.remediation.actions.inc({ rule: name, action: action.type, outcome: res.outcome });
  host.metrics.remediation.lastAction.set({ rule: name }, done / 1000);
  const fields = { rule: name, action: action.type, target: action.target, id, outcome: res.outcome, detail: res.detail, duration_seconds: (done - t0) / 1000 };
  if (res.outcome === 'succeeded') host.logger.info(fields, `remediation ${name}: ${action.type} succeeded: ${res.detail}`);
  else host.logger.error(fields, `remediation ${name}: ${action.type} failed: ${res.detail}`);
  return { decision, id, outcome: res.outcome, detail: res.detail };
}
