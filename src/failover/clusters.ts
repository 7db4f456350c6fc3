// The agent's cluster memberships: one member loop per cluster named by a
// mysql_promote action, the gate log of each cluster's last decision, and
// the resolutions of interrupted promotions. Built by agent.ts, handed to
// the mysql_promote action through its deps, shown in /status.
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { acknowledgeRecoveryBlock, clusterKeys } from '../coordination/cluster-records.js';
import { LocalServer } from '../mysql/local-server.js';
import { ClusterMember } from './member.js';
import { GateLog } from './promotion-gates.js';
import { resolveOwnIntent, type Resolution } from './recovery.js';
import type { FailoverDeps } from './deps.js';
import type { FailoverSettings } from './settings.js';

export interface ClustersDeps extends FailoverDeps {
  readonly prefix: string;
  readonly name: string;
  /** etcd endpoints and prefix for /status (no credentials). */
  readonly describe?: string;
  /** agent.state_dir: the last measured lag per cluster survives restarts there. */
  readonly stateDir?: string;
}

interface Entry {
  readonly member: ClusterMember;
  readonly log: GateLog;
  resolving?: Promise<Resolution | undefined>;
  readonly resolutions: Resolution[];
}

export class FailoverClusters {
  private readonly entries = new Map<string, Entry>();

  constructor(readonly deps: ClustersDeps) {}

  get memberName(): string { return this.deps.name; }

  /** Starts, restarts (settings changed) or stops member loops to match the config. */
  async apply(all: readonly FailoverSettings[]): Promise<void> {
    const wanted = new Map(all.map((s) => [s.cluster, s]));
    for (const [cluster, e] of this.entries) {
      const next = wanted.get(cluster);
      if (next && isDeepStrictEqual(next, e.member.settings)) { wanted.delete(cluster); continue; }
      this.entries.delete(cluster);
      await e.member.stop();
    }
    for (const s of wanted.values()) {
      const local = new LocalServer({
        target: s.local, heartbeat: s.heartbeat, timeoutMs: Math.max(1000, Math.min(5000, s.memberIntervalMs * 4)), now: this.deps.now,
        lagFile: this.deps.stateDir ? join(this.deps.stateDir, `failover-${s.cluster}-lag.json`) : undefined,
      });
      const member = new ClusterMember(s, {
        ...this.deps, local, logger: this.deps.logger.child({ cluster: s.cluster }),
        resolveIntent: (m) => this.resolve(m.settings.cluster),
      });
      this.entries.set(s.cluster, { member, log: new GateLog(this.deps.now), resolutions: [] });
      member.start();
    }
  }

  member(cluster: string): ClusterMember | undefined { return this.entries.get(cluster)?.member; }
  gateLog(cluster: string): GateLog | undefined { return this.entries.get(cluster)?.log; }

  /** Resolves the member's interrupted promotion once, however many callers ask at the same time. */
  resolve(cluster: string): Promise<Resolution | undefined> {
    const e = this.entries.get(cluster);
    if (!e) return Promise.resolve(undefined);
    e.resolving ??= resolveOwnIntent(e.member, this.deps).then((r) => {
      if (r && r.outcome !== 'reconciled_unknown') {
        e.resolutions.push(r);
        if (e.resolutions.length > 10) e.resolutions.shift();
      }
      return r;
    }).finally(() => { e.resolving = undefined; });
    return e.resolving;
  }

  /** A resolution the member loop reached before the engine asked about the same intent. */
  takeResolution(cluster: string, intentId: string): Resolution | undefined {
    const e = this.entries.get(cluster);
    const i = e?.resolutions.findIndex((r) => r.intentId === intentId) ?? -1;
    return i >= 0 ? e!.resolutions.splice(i, 1)[0] : undefined;
  }

  async acknowledge(cluster: string, by: string, comment: string | undefined): Promise<{ known: boolean; acknowledged: boolean; block?: unknown }> {
    const keys = clusterKeys(this.deps.prefix, cluster);
    const r = await acknowledgeRecoveryBlock(this.deps.client, keys, by, comment, this.deps.now());
    if (r.acknowledged) this.deps.logger.warn({ cluster, by, comment }, `cluster ${cluster}: recovery block acknowledged by ${by}`);
    return { known: this.entries.has(cluster) || r.block !== undefined, acknowledged: r.acknowledged, block: r.block };
  }

  /** /status: per cluster, the member loop's view, the block, the lock holder and the last gate decision. */
  status(): Record<string, unknown> {
    const clusters: Record<string, unknown> = {};
    for (const [cluster, e] of this.entries) clusters[cluster] = { ...e.member.status(), last_decision: e.log.snapshot() };
    return { member: this.deps.name, etcd: this.deps.describe ?? null, clusters };
  }

  /** Stops every member loop (their views disappear at once); the etcd client is the agent's to close. */
  async stop(): Promise<void> {
    for (const e of this.entries.values()) await e.member.stop();
    this.entries.clear();
  }
}
