// The remediation runner: subscribes to probe results, keeps each rule's
// state, asks the pure engine for a decision, and hands "act" to act.ts.
// It owns the journal (state is rebuilt from it on start, interrupted intents
// are reconciled, never repeated), the maintenance calendar, the pause
// switch, the admin operations, and the remediation gauges.
import { dirname } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/catalogue.js';
import type { HealthChange, RunRecord } from '../health/status-book.js';
import type { ProbeResult } from '../probes/types.js';
import type { VigilConfig } from '../config/schema.js';
import type { Action, PendingIntent } from '../actions/types.js';
import type { AnyActionDefinition } from '../actions/registry.js';
import { decide, step } from './engine.js';
import { act, type ActHost, type ActResult, type LiveRule, type TriggerInfo } from './act.js';
import { DecisionLog } from './decision-log.js';
import { Journal } from './journal.js';
import { MaintenanceCalendar } from './maintenance.js';
import { keepForReplay, replay, type PauseState } from './replay.js';
import { reconcilePending } from './reconcile.js';
import { breaker, governingAction, markBusy, relevant, resetBreaker, seed } from './rule-state.js';
import { compileRule, retentionMs, settingsOf, type ProbeThresholds, type Settings } from './rules.js';
import { buildStatus } from './status.js';
import type { FleetGate } from './fleet-gate.js';
import { BLOCK_REASONS, EMPTY_RULE_STATE, type OperatorHold, type Decision, type DecisionContext, type RuleSpec, type RuleState } from './types.js';

export const JOURNAL_MAX_BYTES = 1024 * 1024;
/** The outcomes vigil_remediation_actions_total counts (reconciled ones have their own counter). */
const COUNTED_OUTCOMES = ['succeeded', 'failed', 'dry_run'] as const;

export interface RunnerDeps {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly env: NodeJS.ProcessEnv;
  /** Current health of a probe, to seed rules added by a reload. */
  readonly health: (probe: string) => { consecutiveFailures: number; lastAt?: number } | undefined;
  /** A probe's newest run (its reason and message go into the action's context). */
  readonly lastRun: (probe: string) => Pick<RunRecord, 'ok' | 'reason' | 'message'> | undefined;
  readonly now?: () => number;
  readonly journalMaxBytes?: number;
  /** Extra dependencies handed to every action's factory (e.g. cluster memberships for cluster-scoped actions). */
  /** The agent's composed action types (with their services): they create the actions; the parsed config only names them. */
  readonly actionTypes?: readonly AnyActionDefinition[];
  /** Fleet slots and shared cause for rules with `fleet:` (the agent's src/fleet service); none without `coordination:`. */
  readonly fleet?: FleetGate;
}

interface Rule extends LiveRule { readonly fingerprint: unknown; readonly order: number }


export class RemediationRunner {
  private rules = new Map<string, Rule>();
  private readonly states = new Map<string, RuleState>();
  private readonly retired: Action[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly stopping = new AbortController();
  readonly decisions: DecisionLog;
  private pause: PauseState = { paused: false };
  private journal: Journal | undefined;
  private calendar = new MaintenanceCalendar([]);
  private settings!: Settings;
  private readonly startedAt: number;
  private ticker: NodeJS.Timeout | undefined;
  private clusterBusy = false;
  private maintenanceWas = false;
  readonly now: () => number;

  constructor(private readonly deps: RunnerDeps) {
    this.now = deps.now ?? Date.now;
    this.startedAt = this.now();
    this.decisions = new DecisionLog(deps.logger, deps.metrics);
  }

  /** Opens the journal, rebuilds state from it, builds the rules, and reconciles interrupted intents. */
  async start(config: VigilConfig): Promise<void> {
    this.settings = settingsOf(config);
    const pending = needsJournal(config) ? await this.openJournal() : [];
    this.apply(config);
    this.reconcile(pending);
    this.ticker = setInterval(() => this.refreshGauges(), 1000);
    this.ticker.unref();
    this.refreshGauges();
  }

  /** Opens and replays the journal; returns the intents that never got an outcome. */
  private async openJournal(): Promise<PendingIntent[]> {
    const journal = new Journal({
      dir: this.settings.stateDir,
      maxBytes: this.deps.journalMaxBytes ?? JOURNAL_MAX_BYTES,
      now: this.now,
      keep: (records, now) => keepForReplay(records, now, (rule) => this.retentionOf(rule)),
      onProblem: (p) => {
        this.deps.metrics.remediation.journalProblems.inc({ kind: p.kind });
        this.deps.logger[p.kind === 'write_failed' ? 'error' : 'warn']({ journal: journal.path, problem: p.kind, line: p.line }, `remediation journal: ${p.detail}`);
      },
    });
    let records;
    try {
      records = await journal.open();
    } catch (err) {
      throw Object.assign(new Error(`VIGIL_E_STATE_DIR: cannot open the remediation journal in ${this.settings.stateDir} (${(err as Error).message}); `
        + 'create the directory writable by the agent or set agent.state_dir'), { code: 'VIGIL_E_STATE_DIR' });
    }
    this.journal = journal;
    const r = replay(records);
    for (const [name, s] of r.states) this.states.set(name, s);
    this.pause = r.pause;
    if (r.orphans.length > 0) {
      this.deps.metrics.remediation.journalProblems.inc({ kind: 'orphan_outcome' }, r.orphans.length);
      this.deps.logger.warn({ journal: journal.path, outcomes: r.orphans.slice(0, 10) },
        `remediation journal: ${r.orphans.length} outcome record(s) without their intent; ignored (was the journal edited or pieced together?)`);
    }
    // Busy at once, so no decision can act before the world has been asked.
    for (const p of r.pending) this.states.set(p.rule, markBusy(this.getState(p.rule), this.now(), 'reconciling'));
    this.deps.logger.info({ journal: journal.path, records: records.length, pending: r.pending.length, paused: this.pause.paused },
      'remediation journal opened');
    return r.pending;
  }

  /** Asks each interrupted intent's action what the world says, and journals that; never re-executes. */
  private reconcile(pending: readonly PendingIntent[]): void {
    if (!pending.length || !this.journal) return;
    this.track(reconcilePending(pending, {
      action: (rule, type) => { const x = this.rules.get(rule); return x && x.action.type === type ? x.action : undefined; },
      journal: this.journal, logger: this.deps.logger, metrics: this.deps.metrics, now: this.now, signal: this.stopping.signal,
      getState: (rule) => this.getState(rule), setState: (rule, s) => this.states.set(rule, s),
    }));
  }

  /** Swaps rules, calendar and settings for a validated config (start and reload). */
  apply(config: VigilConfig): void {
    const prev = this.settings;
    this.settings = settingsOf(config);
    if (prev && prev.stateDir !== this.settings.stateDir && this.journal) {
      this.deps.logger.warn({ state_dir: this.settings.stateDir }, 'agent.state_dir changed: takes effect after a restart');
      this.settings = { ...this.settings, stateDir: prev.stateDir };
    }
    if (!this.journal && prev && needsJournal(config)) {
      this.track(this.openJournal().then((p) => this.reconcile(p), (err: Error) => this.deps.logger.error({ err: err.message }, 'remediation cannot act: no journal')));
    }
    const thresholds = new Map<string, ProbeThresholds>(config.probes.map((p) => [p.name, p]));
    const next = new Map<string, Rule>();
    config.remediations.forEach((cfg, order) => {
      const spec = compileRule(cfg, thresholds);
      const { definition: parsedAs, ...fields } = cfg.action;
      const definition = this.deps.actionTypes?.find((d) => d.type === parsedAs.type) ?? parsedAs;
      const settings = config.actions[definition.type] ?? {};
      const fingerprint = { fields, settings };
      const old = this.rules.get(cfg.name);
      const action: Action = old && isDeepStrictEqual(old.fingerprint, fingerprint)
        ? old.action : definition.create(fields, { logger: this.deps.logger.child({ rule: cfg.name }), env: this.deps.env }, settings);
      if (old && old.action !== action) this.retired.push(old.action);
      if (old && old.action.type !== action.type) this.forgetCounters(cfg.name, old.action.type);
      next.set(cfg.name, { spec, action, fingerprint, order });
      this.seedRule(spec);
      this.initCounters(cfg.name, action.type);
    });
    for (const [name, old] of this.rules) {
      if (next.has(name)) continue;
      this.retired.push(old.action);
      this.deps.metrics.remediation.breakerOpen.remove({ rule: name });
      this.forgetCounters(name, old.action.type);
    }
    this.rules = next;
    this.calendar.close();
    this.calendar = new MaintenanceCalendar(config.maintenance);
    this.refreshGauges();
  }

  /**
   * A rule's action and blocked counters exist at 0 from the moment it is
   * loaded: Prometheus's increase() cannot see a series that is born at 1,
   * so the first failure (or the first block) after an agent start, or on a
   * new Prometheus, would otherwise never raise VigilRemediationFailed (or
   * show on the dashboards' blocked panels).
   */
  private initCounters(rule: string, action: string): void {
    const m = this.deps.metrics.remediation;
    for (const outcome of COUNTED_OUTCOMES) m.actions.inc({ rule, action, outcome }, 0);
    for (const reason of BLOCK_REASONS) m.blocked.inc({ rule, action, reason }, 0);
  }

  /** A removed rule's (or replaced action's) counters go: left at a stale value they would read as the rule's. */
  private forgetCounters(rule: string, action: string): void {
    const m = this.deps.metrics.remediation;
    for (const outcome of COUNTED_OUTCOMES) m.actions.remove({ rule, action, outcome });
    for (const reason of BLOCK_REASONS) m.blocked.remove({ rule, action, reason });
  }

  private seedRule(spec: RuleSpec): void {
    let s = this.getState(spec.name);
    const gov = governingAction(s, spec, this.settings.dryRun, this.afterOf(spec));
    for (const p of spec.probes) {
      const h = this.deps.health(p);
      if (!h || h.lastAt === undefined) continue;
      const inGrace = gov !== undefined && h.lastAt <= gov.graceEnd;
      s = seed(s, p, inGrace ? 0 : h.consecutiveFailures, h.lastAt, gov?.startedAt ?? 0);
    }
    this.states.set(spec.name, s);
  }

  /** The agent's result listener: folds the result into every rule using the probe, in config order. */
  onResult(change: HealthChange, result: ProbeResult): void {
    const at = this.now();
    for (const rule of this.rules.values()) {
      if (!rule.spec.probes.includes(change.name)) continue;
      const before = this.getState(rule.spec.name);
      const { state, decision } = step(before, rule.spec, { probe: change.name, ok: result.ok, at }, this.context(rule.spec));
      this.states.set(rule.spec.name, state);
      if (state.busy) continue; // an action is under way: nothing new to say
      if (decision.kind !== 'act') { this.decisions.record(rule.spec.name, rule.action.type, decision, at); continue; }
      const probe = rule.spec.trigger.find((p) => !this.deps.lastRun(p)?.ok) ?? change.name;
      const last = this.deps.lastRun(probe);
      this.actAndRefresh(rule, decision, { probe, reason: last?.reason ?? 'unknown', message: last?.message, forced: false });
    }
  }

  context(spec: RuleSpec): DecisionContext {
    const now = this.now();
    const m = this.calendar.status(now);
    const recent: number[] = [];
    for (const s of this.states.values()) for (const a of relevant(s.actions, this.settings.dryRun)) recent.push(a.startedAt);
    return {
      now, startedAt: this.startedAt, startupGraceMs: this.settings.startupGraceMs, paused: this.pause.paused,
      maintenance: { active: m.active, detail: m.detail }, dryRun: this.settings.dryRun,
      budget: { ...this.settings.budget, recent }, after: this.afterOf(spec),
    };
  }

  private afterOf(spec: RuleSpec): DecisionContext['after'] {
    const prev = spec.after !== undefined ? this.rules.get(spec.after) : undefined;
    return prev ? { spec: prev.spec, state: this.getState(prev.spec.name) } : undefined;
  }

  getState(rule: string): RuleState {
    return this.states.get(rule) ?? EMPTY_RULE_STATE;
  }

  private retentionOf(rule: string): number {
    const r = this.rules.get(rule);
    return r ? retentionMs(r.spec, this.settings.budget.windowMs) : 24 * 3600_000;
  }

  private host(): ActHost {
    return {
      now: this.now, journal: this.journal, logger: this.deps.logger, metrics: this.deps.metrics, decisions: this.decisions,
      dryRun: this.settings.dryRun, signal: this.stopping.signal,
      getState: (r) => this.getState(r), setState: (r, s) => this.states.set(r, s),
      retentionMs: (spec) => retentionMs(spec, this.settings.budget.windowMs),
      claimClusterSlot: () => (this.clusterBusy ? false : (this.clusterBusy = true)),
      releaseClusterSlot: () => { this.clusterBusy = false; },
      fleet: this.deps.fleet,
    };
  }

  private track<T>(p: Promise<T>): Promise<T> {
    const q = p.finally(() => this.inFlight.delete(q));
    this.inFlight.add(q);
    return q;
  }

  // ---- the failover member loops' control plane ----------------------------

  isPaused(): boolean { return this.pause.paused; }
  /** Where the open journal is; undefined while none is open (a reload may still choose its directory). */
  journalDir(): string | undefined { return this.journal ? dirname(this.journal.path) : undefined; }
  isDryRun(): boolean { return this.settings?.dryRun ?? false; }

  /** Journals a member loop's write; false when the journal is not open or the write failed. */
  async journalClusterWrite(w: { cluster: string; kind: string; outcome: 'started' | 'done' | 'failed' | 'withheld'; detail: string }): Promise<boolean> {
    if (!this.journal) return false;
    try {
      await this.journal.append({ event: 'cluster_write', ...w });
      return true;
    } catch {
      return false;
    }
  }

  /** Journals an active/standby group's hook; false when the journal is not open or the write failed. */
  async journalGroupHook(w: { group: string; hook: string; cause: string; token: string; outcome: 'started' | 'done' | 'failed' | 'withheld'; detail: string }): Promise<boolean> {
    if (!this.journal) return false;
    try {
      await this.journal.append({ event: 'group_hook', ...w });
      return true;
    } catch {
      return false;
    }
  }

  // ---- operator commands (admin API) ----------------------------------------

  ruleNames(): string[] {
    return [...this.rules.keys()];
  }

  async setPaused(paused: boolean, note?: string): Promise<PauseState> {
    if (this.pause.paused === paused) return this.pause;
    await this.journal?.append(paused ? { event: 'pause', note } : { event: 'resume' });
    this.pause = paused ? { paused: true, since: this.now(), note } : { paused: false };
    this.deps.logger.warn({ paused, note }, paused ? 'remediation paused by an operator' : 'remediation resumed by an operator');
    this.refreshGauges();
    return this.pause;
  }

  async resetBreaker(rule: string): Promise<boolean> {
    if (!this.rules.has(rule)) return false;
    const rec = await this.journal?.append({ event: 'breaker_reset', rule });
    this.states.set(rule, resetBreaker(this.getState(rule), rec?.ts ?? this.now()));
    this.deps.logger.warn({ rule }, `remediation ${rule}: breaker reset by an operator`);
    this.refreshGauges();
    return true;
  }

  /** Runs a rule now. Every gate applies unless `force`; the action's own precheck and dry-run always apply. */
  async runNow(rule: string, force: boolean, override: readonly OperatorHold[] = []): Promise<ActResult | undefined> {
    const r = this.rules.get(rule);
    if (!r) return undefined;
    const decision = decide(this.getState(rule), r.spec, this.context(r.spec), { kind: 'manual', force, override });
    if (decision.kind !== 'act') {
      if (decision.kind === 'blocked') this.decisions.record(rule, r.action.type, decision, this.now());
      return { decision };
    }
    const probe = r.spec.trigger[0];
    return this.actAndRefresh(r, decision, { probe, reason: 'manual', message: this.deps.lastRun(probe)?.message, forced: force });
  }

  /** Runs the act pipeline, then updates the gauges at once (the breaker may have tripped). */
  private actAndRefresh(rule: Rule, decision: Decision, trig: TriggerInfo): Promise<ActResult> {
    return this.track(act(this.host(), rule, decision, trig).finally(() => this.refreshGauges()));
  }

  // ---- views ---------------------------------------------------------------

  private refreshGauges(): void {
    const now = this.now();
    const g = this.deps.metrics.remediation;
    for (const r of this.rules.values()) g.breakerOpen.set({ rule: r.spec.name }, breaker(this.getState(r.spec.name), r.spec, now, this.settings.dryRun).open ? 1 : 0);
    g.paused.set(this.pause.paused ? 1 : 0);
    const m = this.calendar.status(now);
    g.maintenance.set(m.active ? 1 : 0);
    if (m.active !== this.maintenanceWas) {
      this.maintenanceWas = m.active;
      this.deps.logger.info({ maintenance: m.active }, m.active ? `maintenance started: ${m.detail}` : 'maintenance ended');
    }
  }

  /** Set by the agent once the admin API listens; shown in /status. */
  adminAddress: string | undefined;

  status(): Record<string, unknown> {
    return buildStatus({
      now: this.now(), startedAt: this.startedAt, settings: this.settings, pause: this.pause, journal: this.journal,
      maintenance: this.calendar.status(this.now()), rules: [...this.rules.values()], adminAddress: this.adminAddress,
      state: (r) => this.getState(r), decision: (r) => this.decisions.get(r), context: (spec) => this.context(spec),
    });
  }

  /** Waits for in-flight actions up to `waitMs` (an unfinished one is reconciled on the next start), then closes. */
  async stop(waitMs: number): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    let t: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.inFlight]), new Promise((r) => { t = setTimeout(r, waitMs); })]);
    clearTimeout(t);
    this.stopping.abort();
    this.calendar.close();
    await this.journal?.close();
    for (const a of [...this.retired, ...[...this.rules.values()].map((r) => r.action)]) await a.close?.().catch(() => undefined);
  }
}

/** Remediation rules and active/standby groups' hooks are journalled; a config with neither needs no state_dir. */
function needsJournal(config: VigilConfig): boolean {
  return config.remediations.length > 0 || config.groups.length > 0;
}
