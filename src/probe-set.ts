// The agent's probes as one running set: built from the config's `probes:`,
// scheduled, their results turned into health (the status book) and metrics,
// and handed on to whoever listens (remediation, groups, fleets). A reload
// applies a new list: unchanged probes keep running, changed ones are
// rebuilt, removed ones stop and their series go.
import type { Logger } from 'pino';
import type { ProbeConfig, VigilConfig } from './config/schema.js';
import type { Metrics } from './metrics/catalogue.js';
import { ProbeMetrics } from './metrics/probe-metrics.js';
import { StatusBook, type HealthChange } from './health/status-book.js';
import { Scheduler } from './scheduler/scheduler.js';
import { ProbeRunner } from './scheduler/probe-runner.js';
import { SecureContexts } from './probes/secure-contexts.js';
import { SingleFlight } from './probes/single-flight.js';
import type { CommonProbeConfig } from './probes/definition.js';
import type { Probe, ProbeResult } from './probes/types.js';

export type ResultListener = (change: HealthChange, result: ProbeResult) => void;

export interface ProbeSetDeps {
  readonly logger: Logger;
  readonly metrics: Metrics;
}

export interface ProbeChanges { readonly added: string[]; readonly changed: string[]; readonly removed: string[] }

export class ProbeSet {
  readonly status = new StatusBook();
  private readonly probeMetrics: ProbeMetrics;
  private readonly scheduler: Scheduler;
  private readonly singleFlight = new SingleFlight();
  private readonly listeners: ResultListener[] = [];

  constructor(private readonly deps: ProbeSetDeps) {
    this.probeMetrics = new ProbeMetrics(deps.metrics);
    this.scheduler = new Scheduler({
      onResult: (cfg, result, at) => this.onResult(cfg, result, at),
      onSkip: (cfg, stuck) => {
        this.probeMetrics.skipped(cfg.name);
        if (stuck) deps.logger.warn({ probe: cfg.name }, 'probe run skipped: previous run still has not returned');
      },
      onLateness: (ms) => deps.metrics.scheduler.lateness.observe(ms / 1000),
    });
  }

  /** Called for every recorded result, in the order added; a listener that throws is logged, not fatal. */
  onProbeResult(listener: ResultListener): void {
    this.listeners.push(listener);
  }

  start(): void {
    this.scheduler.start();
  }

  /** Stops scheduling and waits (up to `timeoutMs`) for the runs in flight. */
  stop(timeoutMs: number): Promise<void> {
    return this.scheduler.stop(timeoutMs);
  }

  /** Makes the running probes those of `config`; returns which were added, changed and removed. */
  async apply(config: VigilConfig): Promise<ProbeChanges> {
    const wanted = config.probes.map((p) => ({ cfg: p as CommonProbeConfig, fingerprint: fingerprint(p) }));
    for (const p of config.probes) {
      this.status.ensure(p.name, p.type, p);
      this.probeMetrics.register(p.name, p.type, this.status.current(p.name)!.health);
    }
    // The probes built in this pass share TLS contexts; kept probes keep theirs.
    const secureContexts = new SecureContexts();
    const res = await this.scheduler.apply(wanted, (cfg) => this.createProbe(cfg as ProbeConfig, secureContexts), config.agent.shutdown_timeout);
    for (const r of res.removed) {
      if (!config.probes.some((p) => p.name === r.name && p.type === r.type)) this.probeMetrics.remove(r.name, r.type);
      if (!config.probes.some((p) => p.name === r.name)) this.status.remove(r.name);
    }
    return { added: res.added, changed: res.changed, removed: res.removed.map((r) => r.name) };
  }

  /** Runs one probe once, outside the schedule: its result is returned, not recorded. */
  async runOnce(cfg: ProbeConfig): Promise<ProbeResult> {
    const runner = new ProbeRunner(this.createProbe(cfg, new SecureContexts()), cfg, { onResult: () => undefined, onSkip: () => undefined, onLateness: () => undefined });
    try { return await runner.runOnce(); } finally { await runner.stop(0); }
  }

  /** Why the probe loop is not alive: a stalled event loop or probes long overdue (empty when fine). */
  livenessProblems(): string[] {
    const problems: string[] = [];
    const beatAge = Date.now() - this.scheduler.lastBeat;
    if (beatAge > 5000) problems.push(`event loop stalled: scheduler heartbeat ${Math.round(beatAge / 1000)}s old`);
    const overdue = this.scheduler.overdue(5000);
    if (overdue.length > 0) problems.push(`probes overdue: ${overdue.slice(0, 10).join(', ')}`);
    return problems;
  }

  private createProbe(cfg: ProbeConfig, secureContexts: SecureContexts): Probe {
    return cfg.definition.create(cfg, { logger: this.deps.logger.child({ probe: cfg.name }), singleFlight: this.singleFlight, secureContexts });
  }

  private onResult(cfg: CommonProbeConfig, result: ProbeResult, at: number): void {
    const change = this.status.record(cfg.name, result, at);
    if (!change) return;
    this.probeMetrics.record(cfg.name, cfg.type, result, change.to, at);
    if (change.from.state !== change.to.state) {
      const level = change.to.state === 'critical' ? 'error' : change.to.state === 'warning' ? 'warn' : 'info';
      this.deps.logger[level]({
        probe: cfg.name, type: cfg.type, from: change.from.state, to: change.to.state,
        consecutive_failures: change.to.consecutiveFailures, reason: result.reason, message: result.message,
      }, `probe ${cfg.name} is now ${change.to.state}`);
    }
    for (const l of this.listeners) {
      try { l(change, result); } catch (err) { this.deps.logger.error({ err }, 'result listener failed'); }
    }
  }
}

/** What identifies a probe's config for reload: everything but the definition object. */
function fingerprint(p: ProbeConfig): unknown {
  const { definition: _definition, ...rest } = p;
  return rest;
}
