// Runs one probe on its schedule: staggered first run, timeout through an
// AbortSignal, never two runs at once (a tick that finds the last run still
// going is skipped and counted), faster interval while failing if configured.
import { getEventListeners } from 'node:events';
import cron, { type ScheduledTask } from 'node-cron';
import type { CommonProbeConfig } from '../probes/definition.js';
import type { Probe, ProbeResult } from '../probes/types.js';
import { formatDuration } from '../config/durations.js';
import { capText, MESSAGE_MAX_CHARS } from '../probes/peer-limits.js';

/** How long past its timeout a probe may take to honour the abort before we stop waiting. */
export const ABORT_GRACE_MS = 1000;

export interface RunnerHooks {
  onResult(result: ProbeResult, finishedAt: number): void;
  onSkip(stuck: boolean): void;
  /** Milliseconds between the planned and the actual start of a run. */
  onLateness(ms: number): void;
}

export class ProbeRunner {
  private timer: NodeJS.Timeout | undefined;
  private cronTask: ScheduledTask | undefined;
  private inFlight: Promise<void> | undefined;
  private inFlightSince = 0;
  private lastOk = true;
  private stopped = false;
  /** Handed to the next run again while it was never aborted and no listener was left on it (see signalFor). */
  private controller: AbortController | undefined;
  /** When the next run is due (interval schedules); read by the liveness check. */
  nextDueAt: number | undefined;

  constructor(
    readonly probe: Probe,
    private readonly cfg: CommonProbeConfig,
    private readonly hooks: RunnerHooks,
    private readonly now: () => number = Date.now,
  ) {}

  start(random: () => number = Math.random): void {
    if (this.cfg.schedule.kind === 'cron') {
      this.cronTask = cron.schedule(this.cfg.schedule.expr, (ctx) => this.tick(ctx.date.getTime()), { name: `vigil:${this.cfg.name}` });
      return;
    }
    // Consul-style stagger: spread first runs over the interval so a fleet of
    // probes (or hosts) does not fire in lockstep.
    this.planAt(this.now() + Math.floor(random() * this.cfg.schedule.everyMs));
  }

  /** Stops scheduling; resolves once the in-flight run returned or `waitMs` passed. */
  async stop(waitMs: number): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.nextDueAt = undefined;
    if (this.cronTask) await this.cronTask.destroy();
    if (this.inFlight) {
      let t: NodeJS.Timeout | undefined;
      await Promise.race([this.inFlight, new Promise<void>((r) => { t = setTimeout(r, waitMs); })]);
      clearTimeout(t);
    }
    await this.probe.close?.().catch(() => undefined);
  }

  /** Runs once now, outside the schedule (the CLI's one-shot `probe` command). */
  runOnce(): Promise<ProbeResult> {
    return this.execute().result;
  }

  private planAt(at: number): void {
    if (this.stopped) return;
    this.nextDueAt = at;
    this.timer = setTimeout(() => this.tick(at), Math.max(0, at - this.now()));
  }

  /**
   * The next run was planned when this run started, before its result was
   * known. When the probe has just started failing, bring that run forward to
   * interval_when_failing; otherwise the first retry waited a full interval.
   */
  private planSooner(plannedAt: number): void {
    if (this.stopped || this.cfg.schedule.kind !== 'interval' || this.nextDueAt === undefined) return;
    const sooner = plannedAt + this.periodMs();
    if (sooner >= this.nextDueAt) return;
    clearTimeout(this.timer);
    this.planAt(Math.max(sooner, this.now()));
  }

  private periodMs(): number {
    if (this.cfg.schedule.kind !== 'interval') return 0;
    return !this.lastOk && this.cfg.intervalWhenFailingMs ? this.cfg.intervalWhenFailingMs : this.cfg.schedule.everyMs;
  }

  private tick(plannedAt: number): void {
    if (this.stopped) return;
    const startedAt = this.now();
    this.hooks.onLateness(Math.max(0, startedAt - plannedAt));
    if (this.inFlight) {
      // Still running: a run that is already past its deadline is stuck, and
      // that is itself a failure the operator must see.
      const stuck = startedAt - this.inFlightSince > this.cfg.timeoutMs + ABORT_GRACE_MS;
      this.hooks.onSkip(stuck);
      if (stuck) {
        this.lastOk = false;
        this.hooks.onResult({ ok: false, reason: 'timeout', durationSeconds: (startedAt - this.inFlightSince) / 1000, observations: [],
          message: `previous run has not returned after ${formatDuration(startedAt - this.inFlightSince)}; run skipped` }, startedAt);
      }
    } else {
      this.inFlightSince = startedAt;
      const { result, settled } = this.execute();
      this.inFlight = settled;
      void settled.then(() => { if (this.inFlight === settled) this.inFlight = undefined; });
      void result.then((r) => {
        const wasOk = this.lastOk;
        this.lastOk = r.ok;
        if (!this.stopped) this.hooks.onResult(r, this.now());
        if (wasOk && !r.ok) this.planSooner(plannedAt);
      });
    }
    if (this.cfg.schedule.kind === 'interval') {
      const period = this.periodMs();
      let next = plannedAt + period;
      // Fell behind (event loop blocked, machine suspended): skip missed slots
      // instead of firing a burst.
      if (next <= startedAt) next = startedAt + period - ((startedAt - plannedAt) % period);
      this.planAt(next);
    }
  }

  /**
   * One run. `result` resolves by the timeout (plus a grace for the abort to
   * land); `settled` only when probe.run really returns, which is what keeps
   * the next run from overlapping a stuck one.
   */
  private execute(): { result: Promise<ProbeResult>; settled: Promise<void> } {
    const controller = this.signalFor();
    let giveUp!: (r: ProbeResult) => void;
    const hardDeadline = new Promise<ProbeResult>((resolve) => { giveUp = resolve; });
    // One timer per run: at the timeout it aborts, then waits out the grace.
    let timer = setTimeout(() => {
      controller.abort(new Error('probe timeout'));
      timer = setTimeout(() => giveUp({
        ok: false, reason: 'timeout', durationSeconds: (this.cfg.timeoutMs + ABORT_GRACE_MS) / 1000, observations: [],
        message: `did not return within timeout ${formatDuration(this.cfg.timeoutMs)} and ignored the abort`,
      }), ABORT_GRACE_MS);
    }, this.cfg.timeoutMs);
    const run = this.runProbe(controller.signal);
    const settled = run.then(() => { clearTimeout(timer); });
    return { result: Promise.race([run, hardDeadline]), settled };
  }

  private async runProbe(signal: AbortSignal): Promise<ProbeResult> {
    let r: ProbeResult;
    try {
      r = await this.probe.run(signal);
    } catch (err) {
      r = { ok: false, reason: 'internal', durationSeconds: 0, observations: [], message: `probe threw: ${err instanceof Error ? err.message : String(err)}` };
    }
    // The one place every result passes before the status book, the logger,
    // remediation and the CLI see it: a message quoting a peer is cut here.
    return r.message !== undefined && r.message.length > MESSAGE_MAX_CHARS ? { ...r, message: capText(r.message) } : r;
  }

  /**
   * The run's abort controller. Building an AbortSignal costs more CPU than
   * the rest of the scheduler's work for a run, so the last one is reused
   * while that is provably safe: it never fired, and the previous run (which
   * has returned: runs never overlap) left no listener on it.
   */
  private signalFor(): AbortController {
    const c = this.controller;
    if (c && !c.signal.aborted && getEventListeners(c.signal, 'abort').length === 0) return c;
    this.controller = new AbortController();
    return this.controller;
  }
}
