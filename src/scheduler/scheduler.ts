// Owns one ProbeRunner per configured probe. On reload it keeps the runners
// whose config did not change (their schedule and health carry on) and
// replaces the others.
import { isDeepStrictEqual } from 'node:util';
import type { Probe, ProbeResult } from '../probes/types.js';
import type { CommonProbeConfig } from '../probes/definition.js';
import { ProbeRunner } from './probe-runner.js';

export interface SchedulerEvents {
  onResult(cfg: CommonProbeConfig, result: ProbeResult, finishedAt: number): void;
  onSkip(cfg: CommonProbeConfig, stuck: boolean): void;
  onLateness(ms: number): void;
}

interface Entry { cfg: CommonProbeConfig; fingerprint: unknown; runner: ProbeRunner }

export class Scheduler {
  private readonly entries = new Map<string, Entry>();
  private heartbeat: NodeJS.Timeout | undefined;
  /** Last time the scheduler's own 1 s heartbeat ran: proof the event loop turns. */
  lastBeat = Date.now();

  constructor(private readonly events: SchedulerEvents, private readonly now: () => number = Date.now) {}

  start(): void {
    this.heartbeat = setInterval(() => { this.lastBeat = this.now(); }, 1000);
    this.heartbeat.unref();
  }

  /**
   * Makes the running set match `wanted`. `fingerprint` is whatever identifies
   * a probe's config (unchanged fingerprint = keep the runner).
   * Returns the names added (new), changed (same name and type, new
   * settings: a new runner, the same health), kept and removed (gone, or
   * replaced by a probe of another type, which starts afresh and is added).
   */
  async apply(
    wanted: ReadonlyArray<{ cfg: CommonProbeConfig; fingerprint: unknown }>,
    create: (cfg: CommonProbeConfig) => Probe,
    stopWaitMs: number,
  ): Promise<{ added: string[]; changed: string[]; kept: string[]; removed: Array<{ name: string; type: string }> }> {
    const added: string[] = [];
    const changed = new Set<string>();
    const kept: string[] = [];
    const removed: Array<{ name: string; type: string }> = [];
    const wantedNames = new Set(wanted.map((w) => w.cfg.name));
    const stops: Promise<void>[] = [];
    for (const [name, e] of this.entries) {
      const w = wanted.find((x) => x.cfg.name === name);
      if (!w || !isDeepStrictEqual(w.fingerprint, e.fingerprint)) {
        stops.push(e.runner.stop(stopWaitMs));
        this.entries.delete(name);
        if (!wantedNames.has(name) || w?.cfg.type !== e.cfg.type) removed.push({ name, type: e.cfg.type });
        else changed.add(name);
      }
    }
    await Promise.all(stops);
    for (const w of wanted) {
      if (this.entries.has(w.cfg.name)) { kept.push(w.cfg.name); continue; }
      const runner = new ProbeRunner(create(w.cfg), w.cfg, {
        onResult: (result, at) => this.events.onResult(w.cfg, result, at),
        onSkip: (stuck) => this.events.onSkip(w.cfg, stuck),
        onLateness: (ms) => this.events.onLateness(ms),
      }, this.now);
      this.entries.set(w.cfg.name, { cfg: w.cfg, fingerprint: w.fingerprint, runner });
      runner.start();
      if (!changed.has(w.cfg.name)) added.push(w.cfg.name);
    }
    return { added, changed: [...changed], kept, removed };
  }

  /** Probes whose next run is overdue by more than `slackMs`: a stuck scheduler. */
  overdue(slackMs: number): string[] {
    const now = this.now();
    return [...this.entries.values()]
      .filter((e) => e.runner.nextDueAt !== undefined && now - e.runner.nextDueAt > slackMs + e.cfg.timeoutMs)
      .map((e) => e.cfg.name);
  }

  async stop(waitMs: number): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    await Promise.all([...this.entries.values()].map((e) => e.runner.stop(waitMs)));
    this.entries.clear();
  }
}
