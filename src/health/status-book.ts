// What /status shows per probe: its health, last result and a short history
// in which failures are kept longer than successes (as blackbox_exporter
// does), so the interesting runs are still there when someone looks.
//
// record() runs after every probe run, so the history is a ring of slots
// reused in place and times stay numbers until someone reads /status: a
// steady probe allocates nothing here that outlives its run.
import type { FailureReason, ProbeResult } from '../probes/types.js';
import { INITIAL_HEALTH, nextHealth, type Health, type Thresholds } from './tracker.js';
import { IsoTimes } from './iso-time.js';

export interface HistoryEntry {
  readonly time: string;
  readonly ok: boolean;
  readonly reason?: string;
  readonly message?: string;
  readonly duration_seconds: number;
}

/** One run as kept: what the runner reported, and when it finished (ms since the epoch). */
export interface RunRecord {
  readonly at: number;
  readonly ok: boolean;
  readonly reason: FailureReason | undefined;
  readonly message: string | undefined;
  readonly durationSeconds: number;
}

export interface ProbeStatus {
  readonly name: string;
  readonly type: string;
  readonly health: Health;
  readonly lastResult?: HistoryEntry;
  readonly lastChange?: string;
  readonly successes: readonly HistoryEntry[];
  readonly failures: readonly HistoryEntry[];
  /** Newest first, at most the limit asked of all(); only when a limit was asked. */
  readonly recent?: readonly HistoryEntry[];
}

export const HISTORY_SUCCESSES = 10;
export const HISTORY_FAILURES = 50;

export interface HealthChange { readonly name: string; readonly type: string; readonly from: Health; readonly to: Health; readonly result: ProbeResult }

type Slot = { -readonly [K in keyof RunRecord]: RunRecord[K] };

/** The newest `capacity` runs; slots are overwritten oldest first. */
class RunRing {
  private readonly slots: Slot[] = [];
  private next = 0;

  constructor(private readonly capacity: number) {}

  push(result: ProbeResult, at: number): Slot {
    let s = this.slots[this.next];
    if (!s) {
      s = { at, ok: result.ok, reason: result.reason, message: result.message, durationSeconds: result.durationSeconds };
      this.slots.push(s);
    } else {
      s.at = at; s.ok = result.ok; s.reason = result.reason; s.message = result.message; s.durationSeconds = result.durationSeconds;
    }
    this.next = (this.next + 1) % this.capacity;
    return s;
  }

  get size(): number {
    return this.slots.length;
  }

  /** The i-th newest run (0 = newest), unformatted. */
  newest(i: number): RunRecord {
    const n = this.slots.length;
    return this.slots[(((this.next - 1 - i) % n) + n) % n];
  }

  /** Oldest first. */
  entries(iso: IsoTimes): HistoryEntry[] {
    const full = this.slots.length === this.capacity;
    const ordered = full ? [...this.slots.slice(this.next), ...this.slots.slice(0, this.next)] : this.slots;
    return ordered.map((s) => toEntry(s, iso));
  }
}

function toEntry(s: RunRecord, iso: IsoTimes): HistoryEntry {
  return { time: iso.format(s.at), ok: s.ok, reason: s.reason, message: s.message, duration_seconds: Math.round(s.durationSeconds * 1e6) / 1e6 };
}

interface Book {
  readonly name: string;
  readonly type: string;
  thresholds: Thresholds;
  health: Health;
  last: RunRecord | undefined;
  lastChangeAt: number | undefined;
  readonly successes: RunRing;
  readonly failures: RunRing;
}

export class StatusBook {
  private readonly probes = new Map<string, Book>();
  private readonly iso = new IsoTimes();

  /** Registers a probe; keeps its health and history when it already exists (reload). */
  ensure(name: string, type: string, thresholds: Thresholds): void {
    const cur = this.probes.get(name);
    if (cur && cur.type === type) { cur.thresholds = thresholds; return; }
    this.probes.set(name, {
      name, type, thresholds, health: INITIAL_HEALTH, last: undefined, lastChangeAt: undefined,
      successes: new RunRing(HISTORY_SUCCESSES), failures: new RunRing(HISTORY_FAILURES),
    });
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
    p.health = to;
    p.last = (result.ok ? p.successes : p.failures).push(result, at);
    if (from.state !== to.state) p.lastChangeAt = at;
    return { name, type: p.type, from, to, result };
  }

  /** Current health and newest run, without building the /status view (for hot paths). */
  current(name: string): { readonly health: Health; readonly last: RunRecord | undefined } | undefined {
    return this.probes.get(name);
  }

  /** The /status view of one probe. */
  get(name: string): ProbeStatus | undefined {
    const p = this.probes.get(name);
    return p && view(p, this.iso);
  }

  /**
   * Every probe's view. With `recentLimit`, each view also carries its newest
   * runs (both kinds merged) and only those are formatted: the status page
   * shows 20 of 60 per probe, and formatting times is most of the cost.
   */
  all(recentLimit?: number): ProbeStatus[] {
    const out: ProbeStatus[] = [];
    for (const p of this.probes.values()) out.push(recentLimit === undefined ? view(p, this.iso) : { ...viewHead(p, this.iso), recent: newest(p, recentLimit, this.iso) });
    return out;
  }

  critical(): string[] {
    return [...this.probes.values()].filter((p) => p.health.state === 'critical').map((p) => p.name);
  }

  /** Critical probes that count for /ready, and those that do not (affects_ready: false). */
  readiness(): { readonly blocking: string[]; readonly ignored: string[] } {
    const blocking: string[] = [];
    const ignored: string[] = [];
    for (const p of this.probes.values()) {
      if (p.health.state !== 'critical') continue;
      (p.thresholds.affects_ready === false ? ignored : blocking).push(p.name);
    }
    return { blocking, ignored };
  }
}

function viewHead(p: Book, iso: IsoTimes): Omit<ProbeStatus, 'successes' | 'failures'> & { successes: []; failures: [] } {
  return {
    name: p.name, type: p.type, health: p.health,
    lastResult: p.last && toEntry(p.last, iso),
    lastChange: p.lastChangeAt === undefined ? undefined : iso.format(p.lastChangeAt),
    successes: [], failures: [],
  };
}

function view(p: Book, iso: IsoTimes): ProbeStatus {
  return { ...viewHead(p, iso), successes: p.successes.entries(iso), failures: p.failures.entries(iso) };
}

/** The newest `limit` runs of both rings, newest first: a merge from their newest ends (each ring is in time order). */
function newest(p: Book, limit: number, iso: IsoTimes): HistoryEntry[] {
  const out: HistoryEntry[] = [];
  let f = 0;
  let s = 0;
  while (out.length < limit && (f < p.failures.size || s < p.successes.size)) {
    const fr = f < p.failures.size ? p.failures.newest(f) : undefined;
    const sr = s < p.successes.size ? p.successes.newest(s) : undefined;
    if (sr === undefined || (fr !== undefined && fr.at >= sr.at)) { out.push(toEntry(fr!, iso)); f++; } else { out.push(toEntry(sr, iso)); s++; }
  }
  return out;
}
