// What /status shows per probe: its health, last result and a short history
// in which failures are kept longer than successes (as blackbox_exporter
// does), so the interesting runs are still there when someone looks.
import type { ProbeResult } from '../probes/types.js';
import { INITIAL_HEALTH, nextHealth, type Health, type Thresholds } from './tracker.js';

export interface HistoryEntry {
  readonly time: string;
  readonly ok: boolean;
  readonly reason?: string;
  readonly message?: string;
  readonly duration_seconds: number;
}

export interface ProbeStatus {
  readonly name: string;
  readonly type: string;
  health: Health;
  lastResult?: HistoryEntry;
  lastChange?: string;
  readonly successes: HistoryEntry[];
  readonly failures: HistoryEntry[];
}

export const HISTORY_SUCCESSES = 10;
export const HISTORY_FAILURES = 50;

export interface HealthChange { readonly name: string; readonly type: string; readonly from: Health; readonly to: Health; readonly result: ProbeResult }

export class StatusBook {
  private readonly probes = new Map<string, ProbeStatus & { thresholds: Thresholds }>();

  /** Registers a probe; keeps its health and history when it already exists (reload). */
  ensure(name: string, type: string, thresholds: Thresholds): void {
    const cur = this.probes.get(name);
    if (cur && cur.type === type) { cur.thresholds = thresholds; return; }
    this.probes.set(name, { name, type, thresholds, health: INITIAL_HEALTH, successes: [], failures: [] });
  }

  remove(name: string): void {
    this.probes.delete(name);
  }

  /** Folds one result in; returns the health before and after. */
  record(name: string, result: ProbeResult, at: number): HealthChange | undefined {
    const p = this.probes.get(name);
    if (!p) return undefined;
    const from = p.health;
    const to = nextHealth(from, result.ok, p.thresholds);
    const entry: HistoryEntry = {
      time: new Date(at).toISOString(), ok: result.ok, reason: result.reason, message: result.message,
      duration_seconds: Number(result.durationSeconds.toFixed(6)),
    };
    p.health = to;
    p.lastResult = entry;
    if (from.state !== to.state) p.lastChange = entry.time;
    const list = result.ok ? p.successes : p.failures;
    list.push(entry);
    if (list.length > (result.ok ? HISTORY_SUCCESSES : HISTORY_FAILURES)) list.shift();
    return { name, type: p.type, from, to, result };
  }

  get(name: string): Readonly<ProbeStatus> | undefined {
    return this.probes.get(name);
  }

  all(): ReadonlyArray<Readonly<ProbeStatus>> {
    return [...this.probes.values()];
  }

  critical(): string[] {
    return this.all().filter((p) => p.health.state === 'critical').map((p) => p.name);
  }
}
