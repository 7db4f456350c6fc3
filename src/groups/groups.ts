// Every active/standby group this agent takes part in: starts and stops the
// member loops as the config says (reload), answers the role endpoints, and
// carries the operator commands (pause, resume, switchover) to etcd with
// their gates applied.
import { isDeepStrictEqual } from 'node:util';
import { randomBytes } from 'node:crypto';
import { GroupMember, type GroupMemberDeps } from './member.js';
import { groupKeys } from './records.js';
import type { GroupSettings } from './settings.js';
import { readGroup } from './snapshot.js';

export type GroupsDeps = Omit<GroupMemberDeps, 'instance'>;

/** An operator command's answer: done, or refused with a stable code and what to do. */
export type CommandAnswer =
  | { readonly ok: true; readonly body: Record<string, unknown> }
  | { readonly ok: false; readonly status: number; readonly code: string; readonly message: string };

const refuse = (status: number, code: string, message: string): CommandAnswer => ({ ok: false, status, code, message });

/** A switchover request lives this long at most: a target that never takes over must not block the group for good. */
const SWITCHOVER_TTL_FLOOR_S = 30;

export class Groups {
  /** Random per agent process: tells this process's keys from an earlier run's. */
  readonly instance = randomBytes(6).toString('hex');
  private readonly members = new Map<string, GroupMember>();

  constructor(private readonly deps: GroupsDeps) {}

  /** Starts new groups, stops removed ones (stepping down first), updates the others in place. */
  async apply(settings: readonly GroupSettings[]): Promise<void> {
    const wanted = new Map(settings.map((s) => [s.name, s]));
    for (const [name, m] of this.members) {
      if (!wanted.has(name)) {
        this.members.delete(name);
        await m.stop('removed');
      }
    }
    for (const s of settings) {
      const cur = this.members.get(s.name);
      if (cur) {
        // Lease timing takes effect at the next term; hooks, health and priority at once.
        if (!isDeepStrictEqual(cur.settings, s)) { cur.settings = s; void cur.tick(); }
        continue;
      }
      const m = new GroupMember(s, { ...this.deps, instance: this.instance });
      this.members.set(s.name, m);
      m.start();
    }
  }

  member(group: string): GroupMember | undefined { return this.members.get(group); }

  /** This agent's member name in every group. */
  get memberName(): string { return this.deps.member; }

  names(): string[] { return [...this.members.keys()]; }

  /** A probe changed state: the groups that watch it decide now. */
  probeChanged(probe: string): void {
    for (const m of this.members.values()) m.probeChanged(probe);
  }

  status(): Record<string, unknown> {
    const groups: Record<string, unknown> = {};
    for (const [name, m] of this.members) groups[name] = m.status();
    return { member: this.deps.member, groups };
  }

  async pause(group: string, by: string, note: string | undefined): Promise<CommandAnswer> {
    if (!this.members.has(group)) return this.unknown(group);
    const at = new Date(this.deps.now()).toISOString();
    await this.deps.client.put(groupKeys(this.deps.prefix, group).paused).value(JSON.stringify({ by, at, note: note ?? null }));
    this.deps.logger.warn({ group, by, note }, `group ${group} paused: no elections, no step-downs for health or switchover (a lost lease, an agent's start and stop still run on_standby)`);
    return { ok: true, body: { group, paused: true, by, at } };
  }

  async resume(group: string, by: string): Promise<CommandAnswer> {
    if (!this.members.has(group)) return this.unknown(group);
    await this.deps.client.delete().key(groupKeys(this.deps.prefix, group).paused);
    this.deps.logger.warn({ group, by }, `group ${group} resumed`);
    void this.members.get(group)?.tick();
    return { ok: true, body: { group, paused: false } };
  }

  /**
   * Asks the active member to hand over, to `to` or to anyone eligible. The
   * gates run here on a fresh snapshot and again on the active member before
   * it steps down: the group is not paused, someone is active, the target is
   * a live, eligible member other than the active one, no request is pending.
   */
  async switchover(group: string, to: string | undefined, by: string): Promise<CommandAnswer> {
    const m = this.members.get(group);
    if (!m) return this.unknown(group);
    const keys = groupKeys(this.deps.prefix, group);
    const snap = await readGroup(this.deps.client, keys);
    if (snap.paused) return refuse(409, 'VIGIL_E_GROUP_PAUSED', `group ${group} is paused by ${snap.paused.by}: resume it first (POST /v1/groups/${group}/resume)`);
    const from = snap.active?.record?.member;
    if (!from) return refuse(409, 'VIGIL_E_GROUP_NO_ACTIVE', `group ${group} has no active member: nothing to switch over (the election picks one when a member is eligible)`);
    if (snap.switchover) {
      return refuse(409, 'VIGIL_E_GROUP_SWITCHOVER_PENDING', `a switchover of ${group} from ${snap.switchover.from} to ${snap.switchover.to ?? 'anyone'} asked by ${snap.switchover.by} is pending; wait for it`);
    }
    const others = snap.members.filter((x) => x.member !== from);
    if (to !== undefined) {
      if (to === from) return refuse(409, 'VIGIL_E_GROUP_TARGET', `${to} is already active in ${group}`);
      const t = others.find((x) => x.member === to);
      if (!t) return refuse(409, 'VIGIL_E_GROUP_TARGET', `${to} is not a live member of ${group} (members: ${snap.members.map((x) => x.member).join(', ')})`);
      if (!t.eligible || t.priority === 0) return refuse(409, 'VIGIL_E_GROUP_TARGET', `${to} is not eligible: ${t.why_not ?? 'priority 0'}`);
    } else if (!others.some((x) => x.eligible && x.priority > 0)) {
      return refuse(409, 'VIGIL_E_GROUP_TARGET', `no member of ${group} other than ${from} is eligible: ${others.map((x) => `${x.member} (${x.why_not ?? 'priority 0'})`).join(', ') || 'there are no others'}`);
    }
    const s = m.settings;
    const ttl = Math.max(SWITCHOVER_TTL_FLOOR_S, Math.ceil((s.lease.ttlMs + (s.onStandby?.timeoutMs ?? 0) + (s.onActive?.timeoutMs ?? 0)) / 1000));
    const lease = this.deps.client.lease(ttl, { autoKeepAlive: false });
    lease.on('lost', () => undefined);
    const at = new Date(this.deps.now()).toISOString();
    try {
      const id = await lease.grant();
      const res = await this.deps.client.if(keys.switchover, 'Create', '==', 0)
        .then(this.deps.client.put(keys.switchover).value(JSON.stringify({ from, to: to ?? null, by, at })).lease(id)).commit();
      if (!res.succeeded) return refuse(409, 'VIGIL_E_GROUP_SWITCHOVER_PENDING', `another switchover of ${group} was asked at the same moment; look at GET /v1/groups`);
    } finally {
      lease.release();
    }
    this.deps.logger.warn({ group, from, to: to ?? null, by }, `group ${group}: switchover from ${from} to ${to ?? 'any eligible member'} asked`);
    void m.tick();
    return { ok: true, body: { group, from, to: to ?? null, token: snap.active?.token ?? null, expires_in_seconds: ttl } };
  }

  async stop(): Promise<void> {
    await Promise.all([...this.members.values()].map((m) => m.stop('shutdown')));
    this.members.clear();
  }

  private unknown(group: string): CommandAnswer {
    return refuse(404, 'VIGIL_E_ADMIN_NO_GROUP', `this agent is not a member of a group named "${group}" (groups: ${this.names().join(', ') || 'none'})`);
  }
}
