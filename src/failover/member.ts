// One cluster membership of this agent: every loop it measures the local
// server, publishes the view under its lease, reads the primary record, and
// makes the local server agree with it (fence a writable non-primary, repoint
// a replica of the wrong source, write the first record). It runs whether or
// not a rule fires: following and fencing are part of being a member.
import { LeasedKey } from '../coordination/member-view.js';
import {
  blockActive, clusterKeys, publishPrimary, readIntent, readMemberValues, readPrimary, readRecoveryBlock,
  type ClusterKeys, type PrimaryRecord, type RecoveryBlock, type Versioned,
} from '../coordination/cluster-records.js';
import { lockHolder, type LockHolder } from '../coordination/lock.js';
import { fenceLocal } from '../mysql/fencing.js';
import { repointReplica } from '../mysql/follower.js';
import { ioText, sqlText } from '../mysql/server-state.js';
import { converge, type Convergence } from './converge.js';
import type { LocalServer, Measurement } from './local-server.js';
import { memberViewSchema, type MemberView } from './view.js';
import { Roster } from './roster.js';
import type { FailoverDeps } from './deps.js';
import type { FailoverSettings } from './settings.js';

export interface MemberDeps extends FailoverDeps {
  readonly prefix: string;
  readonly name: string;
  readonly local: LocalServer;
  /** Resolves this member's own interrupted promotion (see recovery.ts); wired by the cluster set. */
  readonly resolveIntent: (member: ClusterMember) => Promise<unknown>;
}

export interface MemberEvent { readonly at: string; readonly kind: string; readonly ok: boolean; readonly detail: string }

const CHANGE_TIMEOUT_MS = 10_000;
const FOLLOW_VERIFY_MS = 15_000;

export class ClusterMember {
  readonly keys: ClusterKeys;
  private readonly viewKey: LeasedKey;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private holds = 0;
  private view: MemberView | undefined;
  private record: Versioned<PrimaryRecord> | undefined;
  private etcdError: string | undefined;
  private lastConvergence: Convergence | undefined;
  private fenced = false;
  private ticks = 0;
  private block: RecoveryBlock | undefined;
  private lockedBy: LockHolder | undefined;
  private readonly events: MemberEvent[] = [];
  /** A repoint not yet seen replicating: checked every loop, reported once either way. */
  private following: { readonly host: string; readonly port: number; readonly since: number } | undefined;
  /** Members seen lately, so a view missing for a moment is waited for (see roster.ts). */
  readonly roster = new Roster();

  constructor(public settings: FailoverSettings, readonly deps: MemberDeps) {
    this.keys = clusterKeys(deps.prefix, settings.cluster);
    this.viewKey = new LeasedKey(deps.client, this.keys.member(deps.name), deps.leaseTtlSeconds);
  }

  get name(): string { return this.deps.name; }
  get local(): LocalServer { return this.deps.local; }
  latestView(): MemberView | undefined { return this.view; }
  latestRecord(): Versioned<PrimaryRecord> | undefined { return this.record; }

  start(): void {
    const loop = async () => {
      if (this.stopped) return;
      await this.tick();
      if (!this.stopped) this.timer = setTimeout(() => void loop(), this.settings.memberIntervalMs);
    };
    void loop();
  }

  /** One loop now (or joins the one running): measure, publish, read the record, converge. */
  tick(): Promise<void> {
    this.running ??= this.doTick().finally(() => { this.running = undefined; });
    return this.running;
  }

  /** While held (a promotion runs in this process), the loop measures and publishes but changes nothing. */
  hold(): () => void {
    this.holds++;
    let released = false;
    return () => { if (!released) { released = true; this.holds--; } };
  }

  note(kind: string, ok: boolean, detail: string): void {
    this.events.push({ at: new Date(this.deps.now()).toISOString(), kind, ok, detail });
    if (this.events.length > 20) this.events.shift();
    this.deps.logger[ok ? 'info' : 'error']({ kind }, `cluster ${this.settings.cluster}: ${kind}: ${detail}`);
  }

  private async doTick(): Promise<void> {
    const m = await this.deps.local.measure();
    this.view = this.buildView(m);
    const pub = await this.viewKey.publish(this.view);
    try {
      this.record = await readPrimary(this.deps.client, this.keys);
      this.roster.observe(await this.readViews(), this.deps.now());
      this.etcdError = pub.ok ? undefined : `cannot publish the view: ${pub.detail}`;
    } catch (err) {
      this.etcdError = (err as Error).message.slice(0, 200);
      return; // without the record there is nothing to agree with
    }
    if (this.record) this.deps.setEpoch(this.settings.cluster, this.record.value.epoch);
    // For /status only, so not every loop.
    if (this.ticks++ % 4 === 0) {
      this.block = (await readRecoveryBlock(this.deps.client, this.keys).catch(() => undefined))?.value;
      this.lockedBy = await lockHolder(this.deps.client, this.keys.lock).catch(() => undefined);
    }
    if (this.holds > 0 || this.stopped) return;
    try {
      // Our own interrupted promotion comes first: until it is resolved, a
      // half-promoted server must be neither fenced nor repointed blindly.
      if (await readIntent(this.deps.client, this.keys, this.name)) {
        await this.deps.resolveIntent(this);
        return;
      }
    } catch (err) {
      this.etcdError = (err as Error).message.slice(0, 200);
      return;
    }
    await this.align(m);
  }

  /** Every member's view as published in etcd (unparsable ones left out). */
  async readViews(): Promise<MemberView[]> {
    const out: MemberView[] = [];
    for (const { value } of await readMemberValues(this.deps.client, this.keys)) {
      const v = memberViewSchema.safeParse(value);
      if (v.success) out.push(v.data);
    }
    return out;
  }

  private async align(m: Measurement): Promise<void> {
    const c = converge({ me: this.name, state: m.state, record: this.record?.value, bootstrap: this.settings.bootstrap });
    const changed = c.kind !== this.lastConvergence?.kind || c.detail !== this.lastConvergence?.detail;
    this.lastConvergence = c;
    if (c.kind === 'none') {
      if (changed) this.deps.logger.debug({ cluster: this.settings.cluster }, c.detail);
      this.verifyFollowing(m);
      return;
    }
    const flavor = m.state!.flavor;
    if (c.kind === 'bootstrap') {
      const rec: PrimaryRecord = {
        name: this.name, host: this.settings.advertise.host, port: this.settings.advertise.port, server_id: m.state!.serverId,
        epoch: 1, promoted_at: new Date(this.deps.now()).toISOString(), promoted_by: `${this.name}/bootstrap`, previous: null,
      };
      const won = await publishPrimary(this.deps.client, this.keys, undefined, rec, undefined).catch(() => false);
      if (won) this.note('bootstrap', true, `wrote the first primary record: ${this.name} at epoch 1`);
      return;
    }
    if (c.kind === 'fence') {
      const res = await this.deps.local.change(CHANGE_TIMEOUT_MS, (link) => fenceLocal(link, flavor));
      this.fenced = res.ok;
      this.deps.setFenced(this.settings.cluster, res.ok);
      this.note('fence', res.ok, res.ok ? `set the local server read_only: ${c.detail}` : `could not set read_only (${res.error}): ${c.detail}`);
      return;
    }
    const res = await this.deps.local.change(CHANGE_TIMEOUT_MS, (link) => repointReplica(link, flavor, c.source, this.settings.replication));
    this.note('follow', res.ok, res.ok ? `repointed to ${c.source.host}:${c.source.port} (${res.value.join('; ')})` : `repointing failed (${res.error}): ${c.detail}`);
    if (res.ok) this.following = { ...c.source, since: this.deps.now() };
  }

  /** After a repoint: both threads running against the new source, or a report of why not after 15 s. */
  private verifyFollowing(m: Measurement): void {
    const f = this.following;
    const r = m.state?.replica;
    if (!f) return;
    if (r && r.sourceHost === f.host && r.sourcePort === f.port && r.io === 'running' && r.sql === 'running') {
      this.following = undefined;
      this.note('follow_verified', true, `replicating from ${f.host}:${f.port} (${Math.round((this.deps.now() - f.since) / 100) / 10}s after repointing)`);
    } else if (this.deps.now() - f.since > FOLLOW_VERIFY_MS) {
      this.following = undefined;
      const why = r ? `IO ${r.io} (${r.lastIoErrno} ${r.lastIoError.slice(0, 120)}), SQL ${r.sql} (${r.lastSqlErrno} ${r.lastSqlError.slice(0, 120)})` : 'no replica status';
      this.note('follow_verified', false, `not replicating from ${f.host}:${f.port} ${FOLLOW_VERIFY_MS / 1000}s after repointing: ${why}`);
    }
  }

  private buildView(m: Measurement): MemberView {
    const s = m.state;
    const r = s?.replica;
    const lag = this.deps.local.lastLag();
    // Fenced ends when the server takes writes again (it became the primary) or replicates again (rejoined).
    if (s && (!s.readOnly || s.replica) && this.fenced) { this.fenced = false; this.deps.setFenced(this.settings.cluster, false); }
    return {
      name: this.name, cluster: this.settings.cluster, host: this.settings.advertise.host, port: this.settings.advertise.port,
      priority: this.settings.priority, reachable: !!s, server_error: m.error ?? null, flavor: s?.flavor ?? null,
      server_id: s?.serverId ?? null, read_only: s ? s.readOnly : null,
      source: r ? { host: r.sourceHost, port: r.sourcePort ?? 0 } : null,
      io_running: ioText(r), sql_running: sqlText(r), last_io_errno: r?.lastIoErrno ?? 0, last_sql_errno: r?.lastSqlErrno ?? 0,
      gtid_received: s ? s.received : null, gtid_applied: s ? s.applied : null,
      lag_seconds: lag?.seconds ?? null, lag_measured_at: lag?.at ?? null,
      epoch_seen: this.record?.value.epoch ?? 0, fenced: this.fenced, published_at: m.at,
    };
  }

  status(): Record<string, unknown> {
    const v = this.view;
    return {
      member: this.name,
      primary: this.record?.value ?? null,
      local: v ? {
        reachable: v.reachable, error: v.server_error, read_only: v.read_only, fenced: v.fenced,
        source: v.source, io: v.io_running, sql: v.sql_running, last_io_errno: v.last_io_errno,
        gtid_received: v.gtid_received, gtid_applied: v.gtid_applied, lag_seconds: v.lag_seconds,
        lag_measured_at: v.lag_measured_at ? new Date(v.lag_measured_at).toISOString() : null,
      } : null,
      recovery_block: this.block ? { ...this.block, until: new Date(this.block.until).toISOString(), active: blockActive(this.block, this.deps.now()) } : null,
      lock_holder: this.lockedBy ?? null,
      alignment: this.lastConvergence ? { action: this.lastConvergence.kind, detail: this.lastConvergence.detail } : null,
      etcd_error: this.etcdError ?? null,
      events: [...this.events].reverse(),
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    await this.viewKey.close();
    await this.deps.local.close();
  }
}
