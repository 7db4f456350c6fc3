// What the agent tells its service manager over its life: READY=1 once the
// config is loaded and the listener is up, RELOADING=1 ... READY=1 around a
// reload, STOPPING=1 on shutdown, and WATCHDOG=1 pings while it makes
// progress. Outside systemd (no $NOTIFY_SOCKET) every step is a no-op.
import type { Logger } from 'pino';
import { createSdNotifier, type NotifyRunner, type SdNotifier } from './sd-notify.js';
import { Watchdog, watchdogIntervalMs } from './watchdog.js';

export interface SupervisorOptions {
  env: NodeJS.ProcessEnv;
  pid: number;
  logger: Logger;
  /** Empty while the agent is live: Agent.livenessProblems. */
  liveness: () => string[];
  run?: NotifyRunner;
}

/** The part the Agent sees: its reloads, wherever they come from (SIGHUP or POST /-/reload). */
export interface ReloadObserver {
  aroundReload<T extends { ok: boolean }>(reload: () => Promise<T>): Promise<T>;
}

export class Supervisor implements ReloadObserver {
  private readonly notifier: SdNotifier;
  private readonly watchdog: Watchdog | undefined;
  private readyStatus = 'running';

  constructor(private readonly opts: SupervisorOptions) {
    this.notifier = createSdNotifier(opts.env, opts.pid, opts.run);
    const intervalMs = this.notifier.enabled ? watchdogIntervalMs(opts.env, opts.pid) : undefined;
    this.watchdog = intervalMs === undefined ? undefined : new Watchdog({
      intervalMs, problems: opts.liveness, ping: () => this.notifier.watchdog(), logger: opts.logger,
    });
    if (this.notifier.enabled) {
      opts.logger.info({ watchdog_interval_ms: intervalMs ?? null }, 'started by systemd: notifying readiness' + (intervalMs ? ' and pinging its watchdog' : ''));
    }
  }

  /** Config loaded, listener up: the unit becomes active now, and the watchdog starts. */
  async ready(status: string): Promise<void> {
    this.readyStatus = status;
    await this.tell(() => this.notifier.ready(status));
    this.watchdog?.start();
  }

  async aroundReload<T extends { ok: boolean }>(reload: () => Promise<T>): Promise<T> {
    await this.tell(() => this.notifier.reloading('reloading the config'));
    try {
      return await reload();
    } finally {
      // READY=1 also after a failed reload: the previous config keeps running, so the agent is ready.
      await this.tell(() => this.notifier.ready(this.readyStatus));
    }
  }

  async stopping(): Promise<void> {
    this.watchdog?.stop();
    await this.tell(() => this.notifier.stopping('stopping: letting in-flight probes finish'));
  }

  /** A failed notification is logged, never fatal: the agent's work matters more than its report. */
  private async tell(send: () => Promise<void>): Promise<void> {
    try {
      await send();
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message }, 'could not notify systemd');
    }
  }
}
