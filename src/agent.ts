// Wires everything together. No module-level state: one Agent object owns
// the registry, scheduler, status and server, so tests can run several.
import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { loadConfigFile, type ConfigProblem, type LoadOptions } from './config/load.js';
import type { VigilConfig } from './config/schema.js';
import { createMetrics, type Metrics } from './metrics/catalogue.js';
import type { StatusBook } from './health/status-book.js';
import { PROBE_TYPES } from './probes/registry.js';
import type { ProbeResult } from './probes/types.js';
import { ProbeSet, type ResultListener } from './probe-set.js';
import { buildApp } from './server/app.js';
import type { AgentView, ReloadOutcome, RoleAnswer } from './server/view.js';
import { ACTION_TYPES, actionTypes } from './actions/registry.js';
import { RemediationRunner } from './remediation/runner.js';
import { buildAdminApp } from './server/admin.js';
import { createFailover } from './failover/wiring.js';
import { tokenFileWarning } from './server/admin-token.js';
import { clusterSettings } from './failover/config.js';
import type { FailoverClusters } from './failover/clusters.js';
import { mysqlRoleVerdict } from './failover/role-check.js';
import type { Etcd3 } from 'etcd3';
import { createEtcdClient, describeEtcd, memberName } from './coordination/etcd-client.js';
import { createGroups } from './groups/wiring.js';
import type { Groups } from './groups/groups.js';
import { restartNeeded } from './restart-needed.js';
import { Listener } from './server/listener.js';
import { listenerSettings, type ListenerSettings } from './config/listener.js';
import type { WebConfig } from './config/web-config.js';
import { createFleets } from './fleet/wiring.js';
import { fleetsOf } from './fleet/settings.js';
import type { Fleets } from './fleet/fleets.js';
import type { ReloadObserver } from './supervision/supervisor.js';

export interface AgentOptions {
  readonly configFile: string;
  readonly config: VigilConfig;
  readonly env: NodeJS.ProcessEnv;
  readonly logger: Logger;
  readonly version: string;
  /** Overrides agent.listen (tests use port 0). */
  readonly listenOverride?: { host: string; port: number };
  /** `--web.config.file`, already read: overrides agent.web_config_file. */
  readonly webConfigOverride?: WebConfig;
  /** Told about every reload, SIGHUP or POST /-/reload alike (systemd's RELOADING=1/READY=1). */
  readonly reloadObserver?: ReloadObserver;
}

export type { ResultListener } from './probe-set.js';

export class Agent implements AgentView {
  readonly registry = new Registry();
  readonly metrics: Metrics;
  private readonly probes: ProbeSet;
  private readonly app: FastifyInstance;
  private readonly mainListener: Listener;
  private adminListener: Listener | undefined;
  private config: VigilConfig;
  private readonly startedAt = Date.now();
  private lastReload: { ok: boolean; at: number; problems: readonly ConfigProblem[]; restartNeeded?: readonly string[] } = { ok: true, at: Date.now(), problems: [] };
  /** What the agent started with, for the reload's "needs a restart" (restart-needed.ts). */
  private readonly started: VigilConfig;
  /** host:port the admin API listens on as configured now (undefined: off). */
  private adminListen: string | undefined;
  private reloading: Promise<ReloadOutcome> | undefined;
  readonly remediation: RemediationRunner;
  private admin: FastifyInstance | undefined;
  /** Where the admin API listens (undefined when disabled). */
  adminAddress: string | undefined;
  /** Cluster memberships (mysql_promote), when `coordination:` is configured. */
  readonly failover: FailoverClusters | undefined;
  /** Active/standby groups, when `coordination:` is configured. */
  readonly groups: Groups | undefined;
  /** Fleet slots and shared cause for rules with `fleet:`, when `coordination:` is configured. */
  readonly fleets: Fleets | undefined;
  /** One etcd client for everything that coordinates (closed last). */
  private readonly etcd: Etcd3 | undefined;

  constructor(private readonly opts: AgentOptions) {
    this.config = opts.config;
    this.started = opts.config;
    this.metrics = createMetrics(this.registry, { version: opts.version });
    this.probes = new ProbeSet({ logger: opts.logger, metrics: this.metrics });
    this.mainListener = new Listener(this.mainSettings(opts.config), { name: 'main', logger: opts.logger, metrics: this.metrics.listener, basicAuth: true });
    this.app = buildApp(this, this.mainListener);
    // The member loops' repairs pass the remediation control plane (pause, dry-run, journal); built just below.
    const control = {
      paused: () => this.remediation.isPaused(),
      dryRun: () => this.remediation.isDryRun(),
      journal: (w: Parameters<RemediationRunner['journalClusterWrite']>[0]) => this.remediation.journalClusterWrite(w),
    };
    const coord = opts.config.coordination;
    if (coord) {
      this.etcd = createEtcdClient(coord.etcd);
      const member = memberName(coord);
      opts.logger.info({ member }, `coordination through ${describeEtcd(coord.etcd)} as member ${member}`);
      this.failover = createFailover(coord, this.etcd, { logger: opts.logger, metrics: this.metrics, env: opts.env, stateDir: opts.config.agent.state_dir, control });
      this.groups = createGroups({
        client: this.etcd, prefix: coord.etcd.prefix, member, recordTtlSeconds: coord.lease_ttl / 1000,
        logger: opts.logger, env: opts.env, metrics: this.metrics,
        health: (probe) => this.status.current(probe)?.health.state,
        hostHold: () => (this.remediation.isPaused() ? 'remediation is paused on this host' : this.remediation.isDryRun() ? 'dry_run is on for this host' : undefined),
        journal: (w) => this.remediation.journalGroupHook(w),
      });
      this.fleets = createFleets({
        client: this.etcd, prefix: coord.etcd.prefix, member, ttlSeconds: coord.lease_ttl / 1000, logger: opts.logger, metrics: this.metrics,
        critical: (probe) => this.status.current(probe)?.health.state === 'critical',
      });
    }
    this.remediation = new RemediationRunner({
      logger: opts.logger, metrics: this.metrics, env: opts.env, actionTypes: actionTypes({ failover: () => this.failover }),
      health: (probe) => {
        const s = this.status.current(probe);
        return s?.last ? { consecutiveFailures: s.health.consecutiveFailures, lastAt: s.last.at } : undefined;
      },
      lastRun: (probe) => this.status.current(probe)?.last,
      fleet: this.fleets,
    });
    this.onProbeResult((change, result) => this.remediation.onResult(change, result));
    // A healthy_when probe turning critical makes an active member step down now, not at its next check.
    this.onProbeResult((change) => { if (change.from.state !== change.to.state) this.groups?.probeChanged(change.name); });
    // A fleet member's record says which probes are critical here: rewritten on every state change.
    this.onProbeResult((change) => { if (change.from.state !== change.to.state) this.fleets?.probeChanged(change.name); });
  }

  static loadOptions(env: NodeJS.ProcessEnv): LoadOptions {
    return { probeTypes: PROBE_TYPES, actionTypes: ACTION_TYPES, schema: { env } };
  }

  /** Every probe's health and last runs (the status book the server and the rules read). */
  get status(): StatusBook { return this.probes.status; }

  onProbeResult(listener: ResultListener): void {
    this.probes.onProbeResult(listener);
  }

  /** Starts probing and serving; resolves with the address the server listens on. */
  async start(): Promise<string> {
    // Member loops first: reconciling an interrupted promotion asks them about the world.
    await this.failover?.apply(clusterSettings(this.config));
    // Joined before any rule can act: a rule with fleet: asks its fleet for a slot.
    await this.fleets?.apply(fleetsOf(this.config));
    // Before any probe runs: remediation state comes from the journal first.
    await this.remediation.start(this.config);
    this.probes.start();
    await this.probes.apply(this.config);
    // After the journal is open (hooks are journalled) and the probes run (eligibility needs them).
    await this.groups?.apply(this.config.groups);
    this.markReload(true, []);
    const listen = this.opts.listenOverride ?? this.config.agent.listen;
    const address = this.mainListener.url(await this.app.listen({ host: listen.host, port: listen.port }));
    await this.startAdmin();
    return address;
  }

  private async startAdmin(): Promise<void> {
    const cfg = this.config.admin;
    if (!cfg?.token) {
      if (cfg) this.opts.logger.warn('admin API disabled: admin.token_file is not set');
      return;
    }
    const exposed = cfg.token_file ? tokenFileWarning(cfg.token_file) : undefined;
    if (exposed) this.opts.logger.warn(exposed);
    const listener = new Listener(cfg.listener, { name: 'admin', logger: this.opts.logger, metrics: this.metrics.listener, basicAuth: false });
    const admin = buildAdminApp(this.remediation, () => this.config.admin?.token, this.opts.logger, this.failover, listener, this.groups);
    try {
      this.adminAddress = listener.url(await admin.listen({ host: cfg.listen.host, port: cfg.listen.port }));
    } catch (err) {
      await admin.close();
      throw err;
    }
    this.adminListener = listener;
    this.admin = admin;
    this.adminListen = `${cfg.listen.host}:${cfg.listen.port}`;
    this.remediation.adminAddress = this.adminAddress;
    this.opts.logger.info({ address: this.adminAddress }, 'admin API listening');
  }

  /**
   * A reload's admin: applied at once. The token is read through the config
   * on every request, so a new token_file needs nothing here; a listener
   * added, moved or removed is started, moved or stopped. Returns why not, when it could not.
   */
  private async applyAdmin(): Promise<string | undefined> {
    const cfg = this.config.admin;
    const want = cfg?.token ? `${cfg.listen.host}:${cfg.listen.port}` : undefined;
    if (want === this.adminListen) return undefined;
    if (this.admin) {
      await this.admin.close();
      this.opts.logger.warn({ address: this.adminAddress }, want ? 'admin API moving to a new admin.listen' : 'admin API stopped: admin.token_file is no longer set');
      this.admin = undefined;
      this.adminListener = undefined;
      this.adminListen = undefined;
      this.adminAddress = undefined;
      this.remediation.adminAddress = undefined;
    }
    if (!want) return undefined;
    try {
      await this.startAdmin();
      return undefined;
    } catch (err) {
      const why = `admin.listen ${want}: cannot listen (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); the admin API is off until that is fixed and the config reloaded`;
      this.opts.logger.error(why);
      return why;
    }
  }

  async stop(): Promise<void> {
    await this.probes.stop(this.config.agent.shutdown_timeout);
    // An active member hands over (on_standby, key released) while the journal is still open.
    await this.groups?.stop();
    await this.remediation.stop(this.config.agent.shutdown_timeout);
    // After the actions: slots still held through a grace are released now, not a lease TTL later.
    await this.fleets?.stop();
    await this.failover?.stop();
    this.etcd?.close();
    await this.admin?.close();
    await this.app.close();
  }

  /** Parses and validates first; swaps only on success. Concurrent calls share one reload. */
  reload(): Promise<ReloadOutcome> {
    const observer = this.opts.reloadObserver;
    this.reloading ??= (observer ? observer.aroundReload(() => this.doReload()) : this.doReload())
      .finally(() => { this.reloading = undefined; });
    return this.reloading;
  }

  private async doReload(): Promise<ReloadOutcome> {
    try {
      return await this.reloadOnce();
    } catch (err) {
      // Whatever went wrong, a reload that did not complete is a failed reload (and says so).
      const problems = [{ path: '', message: `reload failed: ${err instanceof Error ? err.message : String(err)}`.slice(0, 500) }];
      this.markReload(false, problems);
      this.opts.logger.error({ file: this.opts.configFile, problems }, 'config reload failed; the previous config keeps running');
      return { ok: false, problems };
    }
  }

  private async reloadOnce(): Promise<ReloadOutcome> {
    const loaded = await loadConfigFile(this.opts.configFile, Agent.loadOptions(this.opts.env));
    if (!loaded.ok) {
      this.markReload(false, loaded.problems);
      this.opts.logger.error({ file: this.opts.configFile, problems: loaded.problems }, 'config reload failed; the previous config keeps running');
      return { ok: false, problems: loaded.problems };
    }
    const next = loaded.config;
    const pending = restartNeeded({
      listen: this.opts.listenOverride ? undefined : this.started.agent.listen, coordination: this.started.coordination,
      coordinates: this.etcd !== undefined, journalDir: this.remediation.journalDir(),
    }, next);
    const { added, changed, removed } = await this.probes.apply(next);
    await this.failover?.apply(clusterSettings(next));
    if (this.groups) await this.groups.apply(next.groups);
    if (this.fleets) await this.fleets.apply(fleetsOf(next));
    // Only when the file changed it: a caller's own logger level stays otherwise.
    if (next.agent.log_level !== this.config.agent.log_level) this.opts.logger.level = next.agent.log_level;
    this.config = next;
    this.remediation.apply(next);
    const adminProblem = await this.applyAdmin();
    this.applyListeners(next);
    const restart_needed = adminProblem ? [...pending, adminProblem] : pending;
    this.markReload(true, [], restart_needed);
    for (const r of pending) this.opts.logger.warn({ restart_needed: r }, `config reloaded, but not all of it: ${r}`);
    this.opts.logger.info({ added, changed, removed, restart_needed }, 'config reloaded');
    return { ok: true, added, changed, removed, restart_needed };
  }

  /** The main listener's settings: agent.*, with `--web.config.file` in place of agent.web_config_file. */
  private mainSettings(config: VigilConfig): ListenerSettings {
    const s = listenerSettings(config.agent);
    return this.opts.webConfigOverride ? { ...s, webConfig: this.opts.webConfigOverride } : s;
  }

  private applyListeners(next: VigilConfig): void {
    const changes: Array<[string, string[]]> = [['agent', this.mainListener.apply(this.mainSettings(next))]];
    if (this.adminListener && next.admin) changes.push(['admin', this.adminListener.apply(next.admin.listener)]);
    for (const [key, later] of changes) {
      for (const what of later) this.opts.logger.warn({ listener: key }, `${key}: ${what}: takes effect after a restart`);
    }
  }

  private markReload(ok: boolean, problems: readonly ConfigProblem[], restartNeeded: readonly string[] = []): void {
    const at = Date.now();
    this.lastReload = ok ? { ok, at, problems, restartNeeded } : { ...this.lastReload, ok, problems };
    this.metrics.agent.reloadOk.set(ok ? 1 : 0);
    if (ok) this.metrics.agent.reloadOkTime.set(at / 1000);
  }

  /** Runs one configured probe once, outside the schedule. */
  async runOnce(name: string): Promise<ProbeResult | undefined> {
    const cfg = this.config.probes.find((p) => p.name === name);
    return cfg ? this.probes.runOnce(cfg) : undefined;
  }

  // ---- AgentView -------------------------------------------------------------
  info() {
    return { version: this.opts.version, startedAt: this.startedAt, configFile: this.opts.configFile, lastReload: this.lastReload };
  }

  livenessProblems(): string[] {
    return this.probes.livenessProblems();
  }

  statusSections(): Record<string, unknown> {
    return {
      remediation: this.remediation.status(),
      ...(this.failover ? { failover: this.failover.status() } : {}),
      ...(this.groups && this.groups.names().length > 0 ? { groups: this.groups.status() } : {}),
      ...(this.fleets && this.fleets.names().length > 0 ? { fleets: this.fleets.status() } : {}),
    };
  }

  groupRole(group: string, want: 'active' | 'standby'): RoleAnswer | undefined {
    const m = this.groups?.member(group);
    if (!m) return undefined;
    const ok = want === 'active' ? m.isActive() : m.isReadyStandby();
    const active = m.latestSnapshot()?.active;
    return {
      ok,
      body: {
        group, member: this.groups?.memberName, role: m.currentRole(), asked: want,
        active_member: active?.record?.member ?? null, fencing_token: active?.token ?? null,
        ...(ok ? {} : { why: m.notEligible() ?? (want === 'active' ? 'not the active member' : `role is ${m.currentRole()}`) }),
      },
    };
  }

  mysqlRole(cluster: string, want: 'primary' | 'replica', maxLagMs: number | undefined): RoleAnswer | undefined {
    const m = this.failover?.member(cluster);
    if (!m) return undefined;
    const v = mysqlRoleVerdict(m, want, maxLagMs ?? m.settings.maxLagMs, Date.now());
    return { ok: v.ok, body: { ...v.detail, asked: want, reason: v.reason } };
  }
}

