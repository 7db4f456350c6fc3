// This agent's membership in one active/standby group. Every check_interval
// (and at once when a healthy_when probe changes state) it reads the group
// in one snapshot, publishes its own record, and does what decide.ts says:
// stand (take the active key, run on_active), step down (run on_standby,
// then hand the key back), or wait and say why.
//
// Roles: starting → standby ⇄ activating → active → deactivating → standby.
// A member starts by running on_standby (a crashed active member may have
// left a VIP or a running unit behind) before it may stand. The active key
// is held by a LeaderLease whose own deadline, not etcd's expiry, ends the
// term: when it fires, a running on_active is stopped and on_standby runs,
// paused or not, before anyone else may see the key vanish (settings.ts).
import type { Etcd3 } from 'etcd3';
import type { Logger } from 'pino';
import { LeaderLease } from '../coordination/leader-lease.js';
import { LeasedKey } from '../coordination/leased-key.js';
import { decide, type GroupDecision, type StepDownCause } from './decide.js';
import { HookQueue, withOutputTail, type HookJournal, type HookName } from './hooks.js';
import { groupKeys, type GroupKeys, type MemberRecord } from './records.js';
import type { GroupSettings } from './settings.js';
import { readGroup, type GroupSnapshot } from './snapshot.js';

export const GROUP_ROLES = ['starting', 'standby', 'activating', 'active', 'deactivating'] as const;
export type GroupRole = (typeof GROUP_ROLES)[number];

export type ProbeState = 'unknown' | 'passing' | 'warning' | 'critical';

/** What a member needs from the agent, passed in. */
export interface GroupMemberDeps {
  readonly client: Etcd3;
  readonly prefix: string;
  readonly member: string;
  /** Random per agent process (written into the active key and the member record). */
  readonly instance: string;
  /** TTL of the member record's lease (coordination.lease_ttl). */
  readonly recordTtlSeconds: number;
  readonly logger: Logger;
  readonly env: NodeJS.ProcessEnv;
  readonly now: () => number;
  /** The health state of a probe, undefined when no such probe is configured. */
  readonly health: (probe: string) => ProbeState | undefined;
  /** Why this host withholds elections and hooks (remediation paused, dry_run), or undefined. */
  readonly hostHold: () => string | undefined;
  readonly journal: HookJournal;
  readonly metrics: GroupMetricSetters;
}

export interface GroupMetricSetters {
  role(group: string, role: GroupRole): void;
  transition(group: string, to: 'active' | 'standby', cause: string): void;
  token(group: string, token: number): void;
  renewalAge(group: string, seconds: number): void;
  eligible(group: string, eligible: boolean): void;
  paused(group: string, paused: boolean): void;
  hookRun(group: string, hook: HookName, ok: boolean): void;
  standbyFailed(group: string, failed: boolean): void;
  /** The group is no longer configured here: its gauges go (a stale 0 would read as "nobody active"). */
  forget(group: string): void;
}

export interface GroupEvent { readonly at: string; readonly kind: string; readonly ok: boolean; readonly detail: string }

function errText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').slice(0, 200);
}

export class GroupMember {
  readonly keys: GroupKeys;
  private readonly hooks: HookQueue;
  private readonly recordKey: LeasedKey;
  private role: GroupRole = 'starting';
  private roleSince: number;
  private lease: LeaderLease | undefined;
  /** This member's own term while activating/active. */
  private term: { token: string; since: number } | undefined;
  private activeAbort: AbortController | undefined;
  private transitioning: Promise<void> | undefined;
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private lastRead: { at: number; snapshot: GroupSnapshot } | { at: number; error: string } | undefined;
  /** The last term seen holding the key (this member's or another's), for takeover_delay and VIGIL_PREVIOUS_ACTIVE. */
  private lastSeen: { member: string; token: string } | undefined;
  private vacantSince: number | undefined;
  private backoffUntil = 0;
  private standbyFailed = false;
  private published: string | undefined;
  private lastDecision: GroupDecision | undefined;
  private readonly events: GroupEvent[] = [];

  constructor(public settings: GroupSettings, private readonly deps: GroupMemberDeps) {
    this.keys = groupKeys(deps.prefix, settings.name);
    this.roleSince = deps.now();
    this.recordKey = new LeasedKey(deps.client, this.keys.member(deps.member), deps.recordTtlSeconds);
    this.hooks = new HookQueue({ env: deps.env, journal: deps.journal, counted: (hook, ok) => deps.metrics.hookRun(settings.name, hook, ok) });
    this.setRole('starting');
  }

  get name(): string { return this.settings.name; }

  /** Runs on_standby (cause startup), then the loop. */
  start(): void {
    this.transitioning = this.startup().finally(() => { this.transitioning = undefined; });
    const loop = async () => {
      if (this.stopped) return;
      await this.tick();
      if (!this.stopped) this.timer = setTimeout(() => void loop(), this.settings.checkIntervalMs);
    };
    void this.transitioning.then(loop);
  }

  /** True only while active and within the lease deadline (a stalled holder finds out here first). */
  isActive(): boolean {
    return this.role === 'active' && this.lease?.held() === true;
  }

  /** Standby and eligible: a warm standby a load balancer may count on. */
  isReadyStandby(): boolean {
    return this.role === 'standby' && this.notEligible() === undefined;
  }

  currentRole(): GroupRole { return this.role; }

  /** A healthy_when probe changed state: decide now rather than at the next check. */
  probeChanged(probe: string): void {
    if (this.settings.healthyWhen.includes(probe)) void this.tick();
  }

  tick(): Promise<void> {
    this.running ??= this.doTick().catch((err) => { this.deps.logger.error({ err, group: this.name }, 'group loop failed'); }).finally(() => { this.running = undefined; });
    return this.running;
  }

  private async doTick(): Promise<void> {
    // A holder that slept past its deadline loses the lease here (held() fires onLost) before anything else.
    if (this.role === 'active') this.lease?.held();
    const at = this.deps.now();
    let snap: GroupSnapshot | undefined;
    try {
      snap = await readGroup(this.deps.client, this.keys);
      this.lastRead = { at, snapshot: snap };
      this.observe(snap, at);
    } catch (err) {
      this.lastRead = { at, error: `etcd unreachable: ${errText(err)}` };
    }
    const why = this.notEligible();
    this.deps.metrics.eligible(this.name, why === undefined);
    const age = this.lease?.renewedAgoMs();
    this.deps.metrics.renewalAge(this.name, age === undefined ? NaN : age / 1000);
    if (snap) await this.publish(why, snap);
    if (this.stopped || this.transitioning || (this.role !== 'standby' && this.role !== 'active')) return;
    if (snap && this.role === 'standby' && await this.dropOwnLeftover(snap)) return;
    const d = decide({
      me: this.deps.member, instance: this.deps.instance, role: this.role, holds: this.role === 'active' && this.lease?.held() === true,
      priority: this.settings.priority, preempt: this.settings.preempt, notEligible: why, hostHold: this.deps.hostHold(),
      snapshot: snap, vacantSinceMs: this.vacantSince, lastSeenToken: this.lastSeen?.token,
      takeoverDelayMs: this.settings.lease.takeoverDelayMs ?? 0, now: this.deps.now(),
    });
    this.noteDecision(d);
    if (d.kind === 'stand') this.transition(() => this.becomeActive(d.cause, snap));
    else if (d.kind === 'step_down') this.transition(() => this.stepDown(d.cause, d.detail));
    else if (d.kind === 'refuse_switchover' && snap?.switchover) await this.dropSwitchover(snap.switchover.modRevision, d.detail);
  }

  private observe(snap: GroupSnapshot, at: number): void {
    const a = snap.active;
    this.deps.metrics.token(this.name, a ? Number(a.token) : 0);
    this.deps.metrics.paused(this.name, !!snap.paused);
    if (a) {
      this.vacantSince = undefined;
      if (a.record) this.lastSeen = { member: a.record.member, token: a.token };
    } else {
      this.vacantSince ??= at;
    }
  }

  /** Why this member may not stand, or undefined when it may. */
  notEligible(): string | undefined {
    if (this.settings.priority === 0) return 'priority is 0: never active here';
    for (const p of this.settings.healthyWhen) {
      const s = this.deps.health(p);
      if (s === undefined) return `probe ${p} is not configured`;
      if (s === 'unknown') return `probe ${p} has not run yet`;
      if (s === 'critical') return `probe ${p} is critical`;
    }
    const left = this.backoffUntil - this.deps.now();
    if (left > 0) return `on_active failed here: stands again in ${Math.ceil(left / 1000)}s (retry_after_failure)`;
    return undefined;
  }

  /**
   * Writes this member's record when it changed, or when the snapshot no
   * longer holds it: its lease was lost (etcd unreachable for longer than
   * the record's TTL) and etcd expired it, though nothing in it changed.
   */
  private async publish(why: string | undefined, snap: GroupSnapshot): Promise<void> {
    const rec: Omit<MemberRecord, 'published_at'> = {
      member: this.deps.member, instance: this.deps.instance, priority: this.settings.priority, eligible: why === undefined,
      why_not: why ?? null, role: this.role, advertise: this.settings.advertise ?? null,
    };
    const text = JSON.stringify(rec);
    const listed = snap.members.some((m) => m.member === this.deps.member && m.instance === this.deps.instance);
    if (text === this.published && listed) return;
    const res = await this.recordKey.publish({ ...rec, published_at: new Date(this.deps.now()).toISOString() });
    this.published = res.ok ? text : undefined;
  }

  /** Runs `step` unless a transition is already running (the loop decides again after it). */
  private transition(step: () => Promise<void>): void {
    if (this.transitioning) return;
    this.transitioning = step().catch((err) => { this.note('transition', false, `failed: ${errText(err)}`); })
      .finally(() => { this.transitioning = undefined; void this.tick(); });
  }

  private async startup(): Promise<void> {
    const out = await this.hooks.run('on_standby', this.settings.onStandby, this.context('startup', ''));
    this.standbyFailed = !out.ok;
    this.deps.metrics.standbyFailed(this.name, !out.ok);
    if (out.ran) this.note('on_standby', out.ok, `${out.ok ? out.detail : withOutputTail(out.detail, out.output)} (at startup, before standing: an earlier run may have left the active role's work behind)`);
    this.setRole('standby');
    this.deps.metrics.transition(this.name, 'standby', 'startup');
  }

  private async becomeActive(cause: 'elected' | 'switchover', snap: GroupSnapshot | undefined): Promise<void> {
    const lease = new LeaderLease({ client: this.deps.client, key: this.keys.active, timing: this.settings.lease, onLost: (why) => this.onLeaseLost(lease, why) });
    const value = JSON.stringify({
      member: this.deps.member, instance: this.deps.instance, priority: this.settings.priority,
      since: new Date(this.deps.now()).toISOString(), advertise: this.settings.advertise ?? null,
    });
    const previous = this.lastSeen?.member ?? '';
    const won = await lease.acquire(value, () => false);
    if (!won.ok) {
      this.note('stand', false, `did not win the active key: ${won.detail}`);
      return;
    }
    this.lease = lease;
    this.term = { token: won.revision, since: this.deps.now() };
    this.lastSeen = { member: this.deps.member, token: won.revision };
    this.setRole('activating');
    this.note('stand', true, `won the active key (fencing token ${won.revision}, cause ${cause}); running on_active`);
    const abort = new AbortController();
    this.activeAbort = abort;
    const out = await this.hooks.run('on_active', this.settings.onActive, this.context(cause, won.revision, previous), abort.signal);
    this.activeAbort = undefined;
    if (!lease.held()) {
      await this.stepDown('lease_lost', `${lease.lastLossReason() ?? 'the lease was lost'} while on_active ran (${out.detail})`);
      return;
    }
    if (!out.ok) {
      this.backoffUntil = this.deps.now() + this.settings.retryAfterFailureMs;
      this.note('on_active', false, withOutputTail(out.detail, out.output));
      await this.stepDown('on_active_failed', out.detail);
      // A switchover that named this member is spent: the others must not wait for it.
      const sw = this.latestSnapshot()?.switchover;
      if (sw?.to === this.deps.member) await this.dropSwitchover(sw.modRevision, undefined);
      return;
    }
    this.setRole('active');
    this.deps.metrics.transition(this.name, 'active', cause);
    this.note('on_active', true, `active with fencing token ${won.revision}: ${out.detail}`);
    // A switchover is done once someone took over; a request that named this member (or anyone) is spent.
    if (snap?.switchover) await this.dropSwitchover(snap.switchover.modRevision, undefined);
  }

  /** From the lease's deadline timer (or held()): stop acting now, whatever the loop is doing. */
  private onLeaseLost(lease: LeaderLease, why: string): void {
    if (lease !== this.lease) return;
    this.deps.logger.error({ group: this.name }, `group ${this.name}: ${why}; stepping down`);
    if (this.role === 'activating') this.activeAbort?.abort();
    else if (this.role === 'active') {
      // Not through transition(): a step-down for another cause may be starting; this one must not wait for the loop.
      this.transitioning = (this.transitioning ?? Promise.resolve()).then(() => (this.role === 'active' ? this.stepDown('lease_lost', why) : undefined))
        .catch((err) => { this.note('transition', false, `failed: ${errText(err)}`); })
        .finally(() => { this.transitioning = undefined; });
    }
  }

  private async stepDown(cause: StepDownCause | 'on_active_failed' | 'shutdown' | 'removed', detail: string): Promise<void> {
    const lease = this.lease;
    const token = this.term?.token ?? '';
    this.setRole('deactivating');
    this.note('step_down', true, `${cause}: ${detail}; running on_standby`);
    const out = await this.hooks.run('on_standby', this.settings.onStandby, this.context(cause, token, this.deps.member));
    this.standbyFailed = !out.ok;
    this.deps.metrics.standbyFailed(this.name, !out.ok);
    if (out.ran) this.note('on_standby', out.ok, out.ok ? out.detail : withOutputTail(out.detail, out.output));
    // Hand the key back only once on_standby is done; a clean hand-over spares the others takeover_delay.
    if (lease?.held()) {
      await this.deps.client.put(this.keys.released).value(JSON.stringify({ member: this.deps.member, token, at: new Date(this.deps.now()).toISOString(), cause }))
        .catch(() => undefined);
    }
    await lease?.release();
    this.lease = undefined;
    this.term = undefined;
    this.setRole('standby');
    this.deps.metrics.transition(this.name, 'standby', cause);
    this.deps.metrics.renewalAge(this.name, NaN);
  }

  /**
   * This process's own active key, still in etcd although this member stood
   * down (its on_standby has run): the revoke failed while etcd was away.
   * Deleting it now, rather than waiting out its lease, gives the group an
   * active member a TTL sooner once etcd is back.
   */
  private async dropOwnLeftover(snap: GroupSnapshot): Promise<boolean> {
    const a = snap.active;
    if (!a?.record || a.record.member !== this.deps.member || a.record.instance !== this.deps.instance) return false;
    try {
      const res = await this.deps.client.if(this.keys.active, 'Mod', '==', a.modRevision).then(this.deps.client.delete().key(this.keys.active)).commit();
      if (res.succeeded) this.note('leftover_key', true, `removed this member's own active key (token ${a.token}) left behind when etcd could not be told at step-down`);
    } catch {
      // etcd away again: the lease still ends it.
    }
    return true;
  }

  private async dropSwitchover(modRevision: string, why: string | undefined): Promise<void> {
    try {
      await this.deps.client.if(this.keys.switchover, 'Mod', '==', modRevision).then(this.deps.client.delete().key(this.keys.switchover)).commit();
      if (why) this.note('switchover', false, why);
    } catch (err) {
      if (why) this.note('switchover', false, `${why} (and the request could not be removed: ${errText(err)})`);
    }
  }

  private context(cause: string, token: string, previousActive?: string) {
    return { group: this.name, member: this.deps.member, cause, token, previousActive: previousActive ?? this.lastSeen?.member ?? '' };
  }

  private setRole(role: GroupRole): void {
    if (role !== this.role || role === 'starting') this.roleSince = this.deps.now();
    this.role = role;
    this.deps.metrics.role(this.name, role);
  }

  private noteDecision(d: GroupDecision): void {
    const prev = this.lastDecision;
    this.lastDecision = d;
    if (prev && prev.kind === d.kind && ('reason' in prev ? prev.reason : '') === ('reason' in d ? d.reason : '')) return;
    if (d.kind === 'wait' || d.kind === 'stay') this.deps.logger.info({ group: this.name, decision: d.kind }, `group ${this.name}: ${d.detail}`);
  }

  note(kind: string, ok: boolean, detail: string): void {
    this.events.push({ at: new Date(this.deps.now()).toISOString(), kind, ok, detail });
    if (this.events.length > 20) this.events.shift();
    this.deps.logger[ok ? 'info' : 'error']({ group: this.name, kind }, `group ${this.name}: ${kind}: ${detail}`);
  }

  latestSnapshot(): GroupSnapshot | undefined {
    return this.lastRead && 'snapshot' in this.lastRead ? this.lastRead.snapshot : undefined;
  }

  status(): Record<string, unknown> {
    const read = this.lastRead;
    const snap = this.latestSnapshot();
    const a = snap?.active;
    const age = this.lease?.renewedAgoMs();
    const d = this.lastDecision;
    return {
      member: this.deps.member,
      role: this.role,
      since: new Date(this.roleSince).toISOString(),
      fencing_token: this.term?.token ?? null,
      eligible: this.notEligible() === undefined,
      why_not_eligible: this.notEligible() ?? null,
      priority: this.settings.priority,
      preempt: this.settings.preempt,
      on_standby_failed: this.standbyFailed,
      lease_renewed_seconds_ago: age === undefined ? null : Math.round(age) / 1000,
      active: a ? { member: a.record?.member ?? null, token: a.token, since: a.record?.since ?? null, advertise: a.record?.advertise ?? null } : null,
      paused: snap?.paused ?? null,
      switchover: snap?.switchover ? { from: snap.switchover.from, to: snap.switchover.to, by: snap.switchover.by, at: snap.switchover.at } : null,
      members: snap?.members.map((m) => ({ member: m.member, role: m.role, priority: m.priority, eligible: m.eligible, why_not: m.why_not, advertise: m.advertise })) ?? [],
      last_decision: d ? { kind: d.kind, ...('reason' in d ? { reason: d.reason } : {}), ...('cause' in d ? { cause: d.cause } : {}), detail: d.detail } : null,
      etcd_error: read && 'error' in read ? read.error : null,
      events: [...this.events].reverse(),
    };
  }

  /** Stops the loop; an active member steps down first (runs on_standby, hands the key back) so nobody waits a TTL. */
  async stop(cause: 'shutdown' | 'removed' = 'shutdown'): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    this.activeAbort?.abort();
    while (this.transitioning) await this.transitioning;
    if (this.role === 'active' || this.role === 'activating') await this.stepDown(cause, `the agent is ${cause === 'shutdown' ? 'stopping' : 'no longer configured for this group'}`);
    await this.recordKey.close();
    if (cause === 'removed') this.deps.metrics.forget(this.name);
  }
}
