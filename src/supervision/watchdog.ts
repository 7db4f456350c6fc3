// The systemd watchdog: pings WATCHDOG=1 only while the agent makes progress.
// A ping proves more than "the process exists": it is withheld when the
// agent's own liveness check fails (the scheduler's 1 s heartbeat is stale, so
// the event loop is stalled, or probes are overdue, so the scheduler is
// wedged), and a frozen process sends nothing at all. Either way systemd
// kills and restarts the agent after WatchdogSec.
import type { Logger } from 'pino';

/**
 * The ping interval in ms, or undefined when systemd did not ask for pings.
 * Half of WATCHDOG_USEC, as sd_watchdog_enabled(3) recommends, so one late
 * ping is not fatal. WATCHDOG_PID, when set, must be this process: the
 * variables are inherited by children, which must not ping for us.
 */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv, pid: number): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!env.WATCHDOG_USEC || !Number.isFinite(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return undefined;
  return Math.max(1, Math.floor(usec / 1000 / 2));
}

export interface WatchdogOptions {
  intervalMs: number;
  /** Empty while the agent is live (Agent.livenessProblems). */
  problems: () => string[];
  ping: () => Promise<void>;
  logger: Logger;
}

export class Watchdog {
  private timer: NodeJS.Timeout | undefined;
  /** The problems last logged, so a withheld ping is logged once per new reason, not every tick. */
  private lastWithheld = '';

  constructor(private readonly opts: WatchdogOptions) {}

  start(): void {
    if (this.timer) return;
    this.tick();
    this.timer = setInterval(() => this.tick(), this.opts.intervalMs);
    this.timer.unref(); // the pings never keep an otherwise finished process alive
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One tick: ping when live; returns whether it pinged (tests call it directly). */
  tick(): boolean {
    const problems = this.opts.problems();
    if (problems.length > 0) {
      const why = problems.join('; ');
      if (why !== this.lastWithheld) this.opts.logger.error({ problems }, 'systemd watchdog ping withheld: the agent is not making progress');
      this.lastWithheld = why;
      return false;
    }
    this.lastWithheld = '';
    this.opts.ping().catch((err: Error) => this.opts.logger.warn({ err: err.message }, 'systemd watchdog ping failed'));
    return true;
  }
}
