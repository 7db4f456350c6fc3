// Writes probe results into the catalogue's metrics. The shared metrics
// (success, duration, counters, state) are set here, not by each probe, as
// blackbox_exporter does; per-type observations replace the probe's previous
// set, so a series that is no longer reported disappears with it.
//
// This runs after every probe run (1000 times a second on a big host), so
// each probe keeps handles on its own series, taken once at register():
// recording a result is field writes, with no label lookup and nothing
// allocated that outlives the call.
import { FAILURE_REASONS, type ProbeResult } from '../probes/types.js';
import { CHANGE_TARGETS, HEALTH_STATES, type Metrics, type ObservationName } from './catalogue.js';
import type { HistogramSeries, ValueSeries } from './fast-family.js';
import type { Health } from '../health/tracker.js';

interface Observed { readonly name: ObservationName; readonly labels: Record<string, string>; readonly series: ValueSeries; seenInRun: number }

/** A probe's series. The first group is labelled by type too, so it belongs to one (name, type). */
interface ProbeSeries {
  readonly type: string;
  /** These three appear with the first run: a success of 0 or a last run at 1970 before it would set off alerts. */
  success: ValueSeries | undefined;
  duration: HistogramSeries | undefined;
  lastRun: ValueSeries | undefined;
  readonly runsOk: ValueSeries;
  readonly runsFailed: ValueSeries;
  readonly consecutiveFailures: ValueSeries;
  readonly skipped: ValueSeries;
  /** One per HEALTH_STATES entry, in that order. */
  readonly states: readonly ValueSeries[];
  /** State changes, one per CHANGE_TARGETS entry, in that order (at 0 from the start, so the first change is an increase). */
  readonly changes: readonly ValueSeries[];
  /** Observation series by name and extra labels. */
  readonly observed: Map<string, Observed>;
  run: number;
  lastFailureReason: string | undefined;
}

export class ProbeMetrics {
  private readonly probes = new Map<string, ProbeSeries>();

  constructor(private readonly m: Metrics) {}

  /** Creates the probe's series at zero so rates and state exist before the first run. */
  register(probe: string, type: string, health: Health): void {
    const cur = this.probes.get(probe);
    if (cur?.type === type) { this.setHealth(cur, health); return; }
    const p = this.m.probe;
    const s: ProbeSeries = {
      type,
      success: undefined,
      duration: undefined,
      lastRun: undefined,
      runsOk: p.runs.series({ probe, type, result: 'success' }),
      runsFailed: p.runs.series({ probe, type, result: 'failure' }),
      consecutiveFailures: p.consecutiveFailures.series({ probe }),
      skipped: p.skipped.series({ probe }),
      states: HEALTH_STATES.map((state) => p.state.series({ probe, state })),
      changes: CHANGE_TARGETS.map((to) => p.stateChanges.series({ probe, to })),
      // A type change (reload) keeps the name-labelled series; its old observations go in remove().
      observed: cur?.observed ?? new Map(),
      run: 0,
      lastFailureReason: undefined,
    };
    this.probes.set(probe, s);
    this.setHealth(s, health);
  }

  record(probe: string, type: string, result: ProbeResult, health: Health, finishedAt: number): void {
    let s = this.probes.get(probe);
    if (!s || s.type !== type) {
      this.register(probe, type, health);
      s = this.probes.get(probe)!;
    }
    const p = this.m.probe;
    (s.success ??= p.success.series({ probe, type })).value = result.ok ? 1 : 0;
    p.duration.observeSeries(s.duration ??= p.duration.series({ probe, type }), result.durationSeconds);
    (result.ok ? s.runsOk : s.runsFailed).value++;
    (s.lastRun ??= p.lastRun.series({ probe })).value = finishedAt / 1000;
    const reason = result.ok ? undefined : result.reason ?? 'internal';
    if (s.lastFailureReason !== undefined && s.lastFailureReason !== reason) p.lastFailureInfo.remove({ probe, type, reason: s.lastFailureReason });
    if (reason !== undefined) {
      p.failures.inc({ probe, type, reason });
      p.lastFailureInfo.set({ probe, type, reason }, 1);
    }
    s.lastFailureReason = reason;
    this.countChange(s, health);
    this.setHealth(s, health);
    this.replaceObservations(probe, s, result);
  }

  skipped(probe: string): void {
    const s = this.probes.get(probe);
    if (s) s.skipped.value++;
    else this.m.probe.skipped.inc({ probe });
  }

  /** Compares with the state series as they stand (before setHealth), so no extra field has to follow the state. */
  private countChange(s: ProbeSeries, health: Health): void {
    for (let i = 0; i < HEALTH_STATES.length; i++) {
      if (s.states[i].value !== 1) continue;
      if (HEALTH_STATES[i] === health.state) return;
      break;
    }
    const to = CHANGE_TARGETS.indexOf(health.state as (typeof CHANGE_TARGETS)[number]);
    if (to >= 0) s.changes[to].value++;
  }

  private setHealth(s: ProbeSeries, health: Health): void {
    s.consecutiveFailures.value = health.consecutiveFailures;
    for (let i = 0; i < HEALTH_STATES.length; i++) s.states[i].value = HEALTH_STATES[i] === health.state ? 1 : 0;
  }

  private replaceObservations(probe: string, s: ProbeSeries, result: ProbeResult): void {
    const run = ++s.run;
    for (const o of result.observations) {
      const key = o.labels ? `${o.name}\u0000${JSON.stringify(o.labels)}` : o.name;
      let e = s.observed.get(key);
      if (!e) {
        const labels = { probe, ...(o.labels ?? {}) };
        e = { name: o.name, labels, series: this.m.observations[o.name].series(labels), seenInRun: run };
        s.observed.set(key, e);
      }
      e.series.value = o.value;
      e.seenInRun = run;
    }
    // A failed run often cannot measure (no status code when the connection
    // was refused): keep those series rather than flicker; a success, or a
    // run that says it reported all its series, replaces all.
    if (!result.ok && result.observationsComplete !== true) return;
    for (const [key, e] of s.observed) {
      if (e.seenInRun === run) continue;
      this.m.observations[e.name].remove(e.labels);
      s.observed.delete(key);
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
    const s = this.probes.get(probe);
    // Observations are the old type's measurements: they go either way.
    for (const e of s?.observed.values() ?? []) this.m.observations[e.name].remove(e.labels);
    s?.observed.clear();
    if (s && s.type !== type) return;
    this.probes.delete(probe);
    p.consecutiveFailures.remove({ probe });
    for (const state of HEALTH_STATES) p.state.remove({ probe, state });
    for (const to of CHANGE_TARGETS) p.stateChanges.remove({ probe, to });
    p.lastRun.remove({ probe });
    p.skipped.remove({ probe });
  }
}
