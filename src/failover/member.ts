// One cluster membership of this agent. Every loop it measures the local
// server, reads the whole cluster from etcd in one snapshot, publishes its
// view under its lease, keeps the primary lease when the record names it
// (primary-guard.ts), and makes the local server agree with the record
// (fence a writable non-primary, repoint a replica of the wrong source,
// rejoin a fenced old primary, shorten a replica's link timeout, write the
// first record). It runs whether or not a rule fires: following and fencing
// are part of being a member. Repairs pass the remediation control plane
// (pause, dry-run, journal); fences do not wait for anyone.
import { LeasedKey } from '../coordination/leased-key.js';
import { blockActive, clusterKeys, publishPrimary, type ClusterKeys, type PrimaryRecord, type Versioned } from '../coordination/cluster-records.js';
import { readCluster, type ClusterSnapshot } from '../coordination/cluster-snapshot.js';
import { rejoinAsReplica, repointReplica, shortenLinkTimeout } from '../mysql/follower.js';
import { ioText, readServerState, sqlText } from '../mysql/server-state.js';
import type { MysqlLink } from '../mysql/connection.js';
import { converge, divergedReplica, type Convergence } from './converge.js';
import { IdentityCheck } from './identity.js';
import { PrimaryGuard } from './primary-guard.js';
import { runFenceHook } from './hooks.js';
import type { LocalServer, Measurement } from '../mysql/local-server.js';
import { memberViewSchema, type MemberView } from './view.js';
import { Roster } from './roster.js';
import { clusterRows } from './cluster-table.js';
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

/** What the last loop learnt from etcd: the snapshot, or why there is none. */
export type ClusterRead = { readonly at: number; readonly snapshot: ClusterSnapshot } | { readonly at: number; readonly error: string };

const CHANGE_TIMEOUT_MS = 10_000;
const FOLLOW_VERIFY_MS = 15_000;
/** Repairs the member loop makes; everything else it does is for safety. */
const REPAIRS = new Set(['follow', 'rejoin', 'tune', 'bootstrap']);

function errText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').slice(0, 200);
}

export class ClusterMember {
  readonly keys: ClusterKeys;
  readonly guard: PrimaryGuard;
  private readonly viewKey: LeasedKey;
  private readonly identity: IdentityCheck;
  private readonly startedAt: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private holds = 0;
  private view: MemberView | undefined;
  private lastRead: ClusterRead | undefined;
  private lastConvergence: Convergence | undefined;
  private fenced = false;
  private errant: { readonly text: string; readonly count: number } | undefined;
  private readonly events: MemberEvent[] = [];
  /** A repoint not yet seen replicating: checked every loop, reported once either way. */
  private following: { readonly host: string; readonly port: number; readonly since: number; readonly kind: string } | undefined;
  /** Members seen lately, so a view missing for a moment is waited for (see roster.ts). */
  readonly roster = new Roster();

  constructor(public settings: FailoverSettings, readonly deps: MemberDeps) {
    this.keys = clusterKeys(deps.prefix, settings.cluster);
    this.viewKey = new LeasedKey(deps.client, this.keys.member(deps.name), deps.leaseTtlSeconds);
    this.startedAt = deps.now();
    const cluster = settings.cluster;
    this.guard = new PrimaryGuard({
      client: deps.client, keys: this.keys, me: deps.name, settings, local: deps.local, now: deps.now,
      note: (kind, ok, detail, outcome) => this.note(kind, ok, detail, outcome),
      onFenced: (fenced) => this.setFenced(fenced),
      runOnFence: (why) => runFenceHook(settings, deps.env, why).then((r) => { if (r) this.note('on_fence', r.ok, r.detail); }),
      setHeld: (held) => deps.setPrimaryLeaseHeld(cluster, held),
      paused: () => deps.control.paused(),
    });
    this.identity = new IdentityCheck(deps.name, this.guard.instance, this.startedAt, settings.viewStaleAfterMs);
  }

  get name(): string { return this.deps.name; }
  get local(): LocalServer { return this.deps.local; }
  latestView(): MemberView | undefined { return this.view; }
  latestRead(): ClusterRead | undefined { return this.lastRead; }
  latestRecord(): Versioned<PrimaryRecord> | undefined { return this.lastRead && 'snapshot' in this.lastRead ? this.lastRead.snapshot.primary : undefined; }
  identityConflict(): string | undefined { return this.identity.conflict(); }

  start(): void {
    const loop = async () => {
      if (this.stopped) return;
      await this.tick();
      if (!this.stopped) this.timer = setTimeout(() => void loop(), this.settings.memberIntervalMs);
    };
    void loop();
  }

  /** One loop now (or joins the one running): measure, read the cluster, publish, hold or seek the lease, converge. */
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

  /** An event for /status and the log; a write (or a write withheld) is journalled too. */
  note(kind: string, ok: boolean, detail: string, outcome: 'done' | 'failed' | 'withheld' | 'none' = ok ? 'done' : 'failed'): void {
    this.events.push({ at: new Date(this.deps.now()).toISOString(), kind, ok, detail });
    if (this.events.length > 20) this.events.shift();
    this.deps.logger[ok ? 'info' : 'error']({ kind }, `cluster ${this.settings.cluster}: ${kind}: ${detail}`);
    if (outcome !== 'none') void this.deps.control.journal({ cluster: this.settings.cluster, kind, outcome, detail });
  }

  private setFenced(fenced: boolean): void {
    this.fenced = fenced;
    this.deps.setFenced(this.settings.cluster, fenced);
  }

  private async doTick(): Promise<void> {
    // A primary that slept past its renew deadline fences before anything else (held() triggers it).
    this.guard.holding();
    const m = await this.deps.local.measure();
    const at = this.deps.now();
    let snap: ClusterSnapshot;
    try {
      snap = await readCluster(this.deps.client, this.keys);
    } catch (err) {
      this.lastRead = { at, error: `etcd unreachable: ${errText(err)}` };
      this.view = this.buildView(m);
      // Without the record there is nothing to agree with; a held lease has its deadline, and a
      // server writable without one is fenced now (unless this agent is a twin that takes no part).
      if (!this.identity.conflict() && this.holds === 0) await this.guard.withoutEtcd(m, errText(err));
      return;
    }
    this.lastRead = { at, snapshot: snap };
    this.roster.observe(this.parseViews(snap), at);
    const mine = snap.members.find((x) => x.name === this.name);
    const identity = this.identity.check(mine, at);
    if (identity === 'conflict' && this.lastConvergence?.kind !== 'conflict' as string) {
      this.deps.logger.error({ cluster: this.settings.cluster }, `cluster ${this.settings.cluster}: ${this.identity.conflict()}`);
    }
    this.view = this.buildView(m);
    if (identity !== 'ok') return;
    const pub = await this.viewKey.publish(this.view);
    if (pub.ok) this.identity.markPublished();
    else this.lastRead = { at, error: `cannot publish the view: ${pub.detail}` };
    if (snap.primary) this.deps.setEpoch(this.settings.cluster, snap.primary.value.epoch);
    if (this.holds > 0 || this.stopped) return;
    // Our own interrupted promotion comes first: until it is resolved, a
    // half-promoted server must be neither fenced nor repointed blindly.
    if (snap.intents.has(this.name)) {
      await this.deps.resolveIntent(this);
      return;
    }
    await this.guard.step(snap, m);
    await this.align(m, snap);
  }

  /** Every member's view in a snapshot (unparsable ones left out). */
  parseViews(snap: ClusterSnapshot): MemberView[] {
    const out: MemberView[] = [];
    for (const { value } of snap.members) {
      const v = memberViewSchema.safeParse(value);
      if (v.success) out.push(v.data);
    }
    return out;
  }

  private async align(m: Measurement, snap: ClusterSnapshot): Promise<void> {
    const c = converge({
      me: this.name, state: m.state, record: snap.primary?.value, bootstrap: this.settings.bootstrap,
      canRejoin: !!this.settings.replication, netTimeoutSeconds: this.settings.replicaNetTimeoutMs / 1000,
    });
    const changed = c.kind !== this.lastConvergence?.kind || c.detail !== this.lastConvergence?.detail;
    this.lastConvergence = c;
    if (c.kind === 'errant') {
      this.errant = { text: c.errant, count: c.count };
      this.deps.setErrant(this.settings.cluster, c.count);
      if (changed) this.note('errant', false, c.detail);
      return;
    }
    if (this.errant) { this.errant = undefined; this.deps.setErrant(this.settings.cluster, 0); }
    if (c.kind === 'none') {
      if (changed) this.deps.logger.debug({ cluster: this.settings.cluster }, c.detail);
      this.verifyFollowing(m);
      return;
    }
    const flavor = m.state!.flavor;
    if (c.kind === 'fence') {
      // Safety first: no pause, dry-run or journal write stands before it.
      const res = await this.deps.local.fence(CHANGE_TIMEOUT_MS);
      if (res.ok) this.setFenced(true);
      const advice = 'set read_only=ON in every database server\'s config so that a restarted server never takes writes before its agent has seen the record';
      this.note('fence', res.ok, res.ok ? `set the local server read_only (${res.statements.join('; ')}; killed ${res.killed} client sessions): ${c.detail}; ${advice}`
        : `could not set read_only (${res.error}): ${c.detail}`);
      return;
    }
    if (REPAIRS.has(c.kind) && !(await this.mayRepair(c, changed))) return;
    if (c.kind === 'bootstrap') {
      const rec: PrimaryRecord = {
        name: this.name, host: this.settings.advertise.host, port: this.settings.advertise.port, server_id: m.state!.serverId,
        epoch: 1, promoted_at: new Date(this.deps.now()).toISOString(), promoted_by: `${this.name}/bootstrap`, previous: null, fork_gtid: null,
      };
      const won = await publishPrimary(this.deps.client, this.keys, undefined, rec, undefined).catch(() => false);
      if (won) this.note('bootstrap', true, `wrote the first primary record: ${this.name} at epoch 1`);
      return;
    }
    const timeouts = this.settings.replicaNetTimeoutMs > 0 ? { netTimeoutSeconds: this.settings.replicaNetTimeoutMs / 1000 } : undefined;
    if (c.kind === 'tune') {
      const res = await this.deps.local.change(CHANGE_TIMEOUT_MS, (link) => shortenLinkTimeout(link, flavor, { netTimeoutSeconds: c.netTimeoutSeconds }));
      this.note('tune', res.ok, res.ok ? `${c.detail} (${res.value.join('; ')})` : `could not shorten the link timeout (${res.error}): ${c.detail}`);
      return;
    }
    const creds = this.settings.replication;
    const record = snap.primary?.value;
    // What the IO thread received between the reading above and STOP REPLICA counts too.
    const recheck = c.kind === 'follow' && record ? async (link: MysqlLink) => {
      const now = divergedReplica(await readServerState(link, this.deps.local.statusReader), record);
      if (now) throw new Error(`checked again with the replication threads stopped: ${now.detail}`);
    } : undefined;
    const res = c.kind === 'rejoin' && creds
      ? await this.deps.local.change(CHANGE_TIMEOUT_MS, (link) => rejoinAsReplica(link, flavor, c.source, creds, timeouts))
      : await this.deps.local.change(CHANGE_TIMEOUT_MS, (link) => repointReplica(link, flavor, c.source, creds, timeouts, recheck));
    this.note(c.kind, res.ok, res.ok ? `${c.detail}: repointed to ${c.source.host}:${c.source.port} (${res.value.join('; ')})` : `repointing failed (${res.error}): ${c.detail}`);
    if (res.ok) this.following = { ...c.source, since: this.deps.now(), kind: c.kind };
  }

  /** Pause and dry-run hold repairs back (said once per change); the journal must take the write before it is made. */
  private async mayRepair(c: Convergence, changed: boolean): Promise<boolean> {
    const control = this.deps.control;
    const withheld = control.paused() ? 'remediation is paused' : control.dryRun() ? 'dry_run is on' : undefined;
    if (withheld) {
      if (changed) {
        this.note(c.kind, true, `withheld (${withheld}): would ${c.kind}: ${c.detail}`, 'withheld');
      }
      return false;
    }
    if (!(await control.journal({ cluster: this.settings.cluster, kind: c.kind, outcome: 'started', detail: c.detail }))) {
      if (changed) this.note(c.kind, false, `cannot journal, not acting: would ${c.kind}: ${c.detail}`, 'none');
      return false;
    }
    return true;
  }

  /** After a repoint: both threads running against the new source, or a report of why not after 15 s. */
  private verifyFollowing(m: Measurement): void {
    const f = this.following;
    const r = m.state?.replica;
    if (!f) return;
    if (r && r.sourceHost === f.host && r.sourcePort === f.port && r.io === 'running' && r.sql === 'running') {
      this.following = undefined;
      this.note('follow_verified', true, `replicating from ${f.host}:${f.port} (${Math.round((this.deps.now() - f.since) / 100) / 10}s after ${f.kind === 'rejoin' ? 'rejoining' : 'repointing'})`);
      if (f.kind === 'rejoin') this.setFenced(false);
    } else if (this.deps.now() - f.since > FOLLOW_VERIFY_MS || (r?.io === 'stopped' && r.lastIoErrno !== 0)) {
      this.following = undefined;
      const why = r ? `IO ${r.io} (${r.lastIoErrno} ${r.lastIoError.slice(0, 120)}), SQL ${r.sql} (${r.lastSqlErrno} ${r.lastSqlError.slice(0, 120)})` : 'no replica status';
      this.note('follow_verified', false, `not replicating from ${f.host}:${f.port} after ${f.kind === 'rejoin' ? 'rejoining' : 'repointing'}: ${why}`);
    }
  }

  private buildView(m: Measurement): MemberView {
    const s = m.state;
    const r = s?.replica;
    const lag = this.deps.local.lastLag();
    const record = this.latestRecord()?.value;
    // Fenced ends when the server takes writes again as the primary, or replicates again (rejoined).
    if (s && this.fenced && ((!s.readOnly && record?.name === this.name) || (r && r.io === 'running'))) this.setFenced(false);
    return {
      name: this.name, cluster: this.settings.cluster, host: this.settings.advertise.host, port: this.settings.advertise.port,
      priority: this.settings.priority, reachable: !!s, server_error: m.error ?? null, flavor: s?.flavor ?? null,
      server_id: s?.serverId ?? null, read_only: s ? s.readOnly : null,
      source: r ? { host: r.sourceHost, port: r.sourcePort ?? 0 } : null,
      io_running: ioText(r), sql_running: sqlText(r), last_io_errno: r?.lastIoErrno ?? 0, last_sql_errno: r?.lastSqlErrno ?? 0,
      gtid_received: s ? s.received : null, gtid_applied: s ? s.applied : null, gtid_binlog: s ? s.binlog : null,
      lag_seconds: lag?.seconds ?? null, lag_measured_at: lag?.at ?? null,
      epoch_seen: record?.epoch ?? 0, fenced: this.fenced, instance: this.guard.instance, started_at: this.startedAt, published_at: m.at,
    };
  }

  status(): Record<string, unknown> {
    const v = this.view;
    const read = this.lastRead;
    const snap = read && 'snapshot' in read ? read.snapshot : undefined;
    const block = snap?.recoveryBlock?.value;
    return {
      member: this.name,
      primary: snap?.primary?.value ?? null,
      primary_lease: snap?.primaryLease ? { ...snap.primaryLease.value, lease: snap.primaryLease.lease } : null,
      guard: this.guard.status(),
      local: v ? {
        reachable: v.reachable, error: v.server_error, read_only: v.read_only, fenced: v.fenced,
        source: v.source, io: v.io_running, sql: v.sql_running, last_io_errno: v.last_io_errno,
        gtid_received: v.gtid_received, gtid_applied: v.gtid_applied, gtid_binlog: v.gtid_binlog, lag_seconds: v.lag_seconds,
        lag_measured_at: v.lag_measured_at ? new Date(v.lag_measured_at).toISOString() : null,
      } : null,
      members: snap ? clusterRows(snap) : [],
      errant: this.errant ? { transactions: this.errant.text, count: this.errant.count } : null,
      identity_conflict: this.identity.conflict() ?? null,
      recovery_block: block ? { ...block, until: new Date(block.until).toISOString(), active: blockActive(block, this.deps.now()) } : null,
      lock_holder: snap?.lockHolder ?? null,
      alignment: this.lastConvergence ? { action: this.lastConvergence.kind, detail: this.lastConvergence.detail } : null,
      etcd_error: read && 'error' in read ? read.error : null,
      events: [...this.events].reverse(),
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    await this.guard.stop();
    await this.viewKey.close();
    await this.deps.local.close();
  }
}
