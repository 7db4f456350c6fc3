// Writes probe results into the catalogue's metrics. The shared metrics
// (success, duration, counters, state) are set here, not by each probe, as
// blackbox_exporter does; per-type observations replace the probe's previous
// set, so a series that is no longer reported disappears with it.
import { FAILURE_REASONS, type ProbeResult } from '../probes/types.js';
import { HEALTH_STATES, type Metrics, type ObservationName } from './catalogue.js';
import type { Health } from '../health/tracker.js';

type SeriesKey = string;
type Series = Map<SeriesKey, { name: ObservationName; labels: Record<string, string> }>;

export class ProbeMetrics {
  private readonly observed = new Map<string, Series>();
  private readonly lastFailure = new Map<string, string>();
  /** The type each probe name is registered with now. */
  private readonly types = new Map<string, string>();

  constructor(private readonly m: Metrics) {}

  /** Creates the probe's series at zero so rates and state exist before the first run. */
  register(probe: string, type: string, health: Health): void {
    this.types.set(probe, type);
    this.m.probe.runs.inc({ probe, type, result: 'success' }, 0);
    this.m.probe.runs.inc({ probe, type, result: 'failure' }, 0);
    this.m.probe.skipped.inc({ probe }, 0);
    this.setHealth(probe, health);
  }

  record(probe: string, type: string, result: ProbeResult, health: Health, finishedAt: number): void {
    const p = this.m.probe;
    p.success.set({ probe, type }, result.ok ? 1 : 0);
    p.duration.observe({ probe, type }, result.durationSeconds);
    p.runs.inc({ probe, type, result: result.ok ? 'success' : 'failure' });
    p.lastRun.set({ probe }, finishedAt / 1000);
    const prevReason = this.lastFailure.get(probe);
    if (prevReason !== undefined && prevReason !== result.reason) p.lastFailureInfo.remove({ probe, type, reason: prevReason });
    if (!result.ok) {
      const reason = result.reason ?? 'internal';
      p.failures.inc({ probe, type, reason });
      p.lastFailureInfo.set({ probe, type, reason }, 1);
      this.lastFailure.set(probe, reason);
    } else this.lastFailure.delete(probe);
    this.setHealth(probe, health);
    this.replaceObservations(probe, result);
  }

  skipped(probe: string): void {
    this.m.probe.skipped.inc({ probe });
  }

  private setHealth(probe: string, health: Health): void {
    this.m.probe.consecutiveFailures.set({ probe }, health.consecutiveFailures);
    for (const state of HEALTH_STATES) this.m.probe.state.set({ probe, state }, state === health.state ? 1 : 0);
  }

  private replaceObservations(probe: string, result: ProbeResult): void {
    const prev: Series = this.observed.get(probe) ?? new Map();
    const next: Series = new Map();
    for (const o of result.observations) {
      const labels = { probe, ...(o.labels ?? {}) };
      this.m.observations[o.name].set(labels, o.value);
      next.set(`${o.name}\u0000${JSON.stringify(labels)}`, { name: o.name, labels });
    }
    // A failed run often cannot measure (no status code when the connection
    // was refused): keep those series rather than flicker; a success replaces all.
    if (result.ok) {
      for (const [key, s] of prev) if (!next.has(key)) this.m.observations[s.name].remove(s.labels);
      this.observed.set(probe, next);
    } else {
      this.observed.set(probe, new Map([...prev, ...next]));
    }
  }

  /**
   * Drops every series of a probe that left the config. When the same name
   * was already registered again with another type (a reload that changed
   * the type), only the old type's series go: the series labelled by name
   * alone now belong to the new probe.
   */
  remove(probe: string, type: string): void {
    const p = this.m.probe;
    p.success.remove({ probe, type });
    p.duration.remove({ probe, type });
    for (const result of ['success', 'failure']) p.runs.remove({ probe, type, result });
    for (const reason of FAILURE_REASONS) { p.failures.remove({ probe, type, reason }); p.lastFailureInfo.remove({ probe, type, reason }); }
    // Observations are the old type's measurements: they go either way.
    for (const s of this.observed.get(probe)?.values() ?? []) this.m.observations[s.name].remove(s.labels);
    this.observed.delete(probe);
    this.lastFailure.delete(probe);
    if (this.types.get(probe) !== type) return;
    this.types.delete(probe);
    p.consecutiveFailures.remove({ probe });
    for (const state of HEALTH_STATES) p.state.remove({ probe, state });
    p.lastRun.remove({ probe });
    p.skipped.remove({ probe });
  }
}
