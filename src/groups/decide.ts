// What a group member does next, as a pure function of what it knows: its
// role, whether it still holds its lease, its own eligibility, and one
// snapshot of the group. No timers, no I/O: the member loop (member.ts)
// does what this says, and tests feed it one situation at a time.
//
// Order matters and is the point of this file:
//  1. a lost lease steps down, paused or not (the others may already stand);
//  2. a pause holds everything else the loop decides (no elections, no
//     step-down for health, switchover or preemption); the agent's own start
//     and stop still run on_standby (member.ts), as a lost lease does;
//  3. an active member steps down when it is unhealthy, asked to switch over,
//     or preempted; a standby stands only when nobody holds the key, nobody
//     it should defer to could take it, and any takeover delay has passed.
import type { GroupSnapshot } from './snapshot.js';

export type StableRole = 'standby' | 'active';

export type StepDownCause = 'lease_lost' | 'unhealthy' | 'switchover' | 'preempted' | 'holder_changed';

export type WaitReason = 'paused' | 'not_eligible' | 'held' | 'own_stale_key' | 'deferring' | 'switchover_elsewhere' | 'takeover_delay' | 'etcd_unavailable';

export type GroupDecision =
  | { readonly kind: 'stay'; readonly detail: string }
  | { readonly kind: 'wait'; readonly reason: WaitReason; readonly detail: string }
  | { readonly kind: 'stand'; readonly cause: 'elected' | 'switchover'; readonly detail: string }
  | { readonly kind: 'step_down'; readonly cause: StepDownCause; readonly detail: string }
  /** The switchover request cannot be honoured (its target is not eligible): drop it and say why. */
  | { readonly kind: 'refuse_switchover'; readonly detail: string };

export interface GroupSituation {
  readonly me: string;
  readonly instance: string;
  readonly role: StableRole;
  /** The lease is held and within its deadline (only meaningful when active). */
  readonly holds: boolean;
  readonly priority: number;
  readonly preempt: boolean;
  /** Why this member may not stand (unhealthy, priority 0, backing off), or undefined when it may. */
  readonly notEligible: string | undefined;
  /** Why this host withholds elections and hooks (remediation paused, dry_run), besides the group's own pause. */
  readonly hostHold: string | undefined;
  /** undefined: etcd could not be read this loop. */
  readonly snapshot: GroupSnapshot | undefined;
  /** When this member first saw the active key absent (since its last sighting), for takeover_delay. */
  readonly vacantSinceMs: number | undefined;
  /** The token of the last term this member saw holding the key, to tell a clean hand-over from an expiry. */
  readonly lastSeenToken: string | undefined;
  readonly takeoverDelayMs: number;
  readonly now: number;
}

function eligibleOthers(s: GroupSituation): GroupSnapshot['members'] {
  return s.snapshot?.members.filter((m) => m.member !== s.me && m.eligible && m.priority > 0) ?? [];
}

export function decide(s: GroupSituation): GroupDecision {
  return s.role === 'active' ? decideActive(s) : decideStandby(s);
}

function decideActive(s: GroupSituation): GroupDecision {
  if (!s.holds) return { kind: 'step_down', cause: 'lease_lost', detail: 'the lease could not be renewed within renew_deadline' };
  const snap = s.snapshot;
  const holder = snap?.active;
  if (snap && (!holder || holder.record?.member !== s.me || holder.record.instance !== s.instance)) {
    const who = holder ? (holder.record?.member ?? 'an unreadable record') : 'nobody';
    return { kind: 'step_down', cause: 'holder_changed', detail: `etcd says the active key is held by ${who}, not by this member` };
  }
  const hold = snap?.paused ? `the group is paused by ${snap.paused.by}` : s.hostHold;
  if (hold) return { kind: 'stay', detail: `${hold}: keeps the role, no step-down for health, switchover or preemption` };
  if (s.notEligible) return { kind: 'step_down', cause: 'unhealthy', detail: s.notEligible };
  const sw = snap?.switchover;
  if (sw && sw.from === s.me) {
    const others = eligibleOthers(s);
    if (sw.to === null) {
      return others.length > 0 ? { kind: 'step_down', cause: 'switchover', detail: `switchover asked by ${sw.by}: hands over to any of ${others.map((m) => m.member).join(', ')}` }
        : { kind: 'refuse_switchover', detail: `switchover asked by ${sw.by} refused: no other member is eligible` };
    }
    const target = others.find((m) => m.member === sw.to);
    return target ? { kind: 'step_down', cause: 'switchover', detail: `switchover asked by ${sw.by}: hands over to ${sw.to}` }
      : { kind: 'refuse_switchover', detail: `switchover to ${sw.to} asked by ${sw.by} refused: ${sw.to} is not an eligible member now` };
  }
  if (s.preempt) {
    const better = eligibleOthers(s).filter((m) => m.priority > s.priority).sort((a, b) => b.priority - a.priority)[0];
    if (better) return { kind: 'step_down', cause: 'preempted', detail: `preempt: ${better.member} (priority ${better.priority}) is eligible and ranks above this member (${s.priority})` };
  }
  return { kind: 'stay', detail: 'active and healthy' };
}

function decideStandby(s: GroupSituation): GroupDecision {
  const snap = s.snapshot;
  if (!snap) return { kind: 'wait', reason: 'etcd_unavailable', detail: 'etcd could not be read: nobody stands without it' };
  const hold = snap.paused ? `the group is paused by ${snap.paused.by}` : s.hostHold;
  if (hold) return { kind: 'wait', reason: 'paused', detail: `${hold}: no elections` };
  if (s.notEligible) return { kind: 'wait', reason: 'not_eligible', detail: s.notEligible };
  const holder = snap.active;
  if (holder) {
    const who = holder.record?.member;
    if (who === s.me) {
      return { kind: 'wait', reason: 'own_stale_key', detail: 'the active key still names this member from an earlier run (instance '
        + `${holder.record?.instance}); its lease must expire before anyone stands, as whatever that run started is unknown` };
    }
    return { kind: 'wait', reason: 'held', detail: `${who ?? 'an unreadable record'} is active (token ${holder.token})` };
  }
  // A switchover whose target is no longer a live, eligible member (its on_active failed, it died) is void:
  // waiting for it would leave the group without an active member until the request's lease runs out.
  const asked = snap.switchover;
  const sw = asked && asked.to !== null && asked.to !== s.me && !eligibleOthers(s).some((m) => m.member === asked.to) ? undefined : asked;
  if (sw?.to === s.me) return { kind: 'stand', cause: 'switchover', detail: `switchover from ${sw.from} to this member asked by ${sw.by}` };
  if (sw && sw.to !== null) return { kind: 'wait', reason: 'switchover_elsewhere', detail: `a switchover hands the role to ${sw.to}` };
  if (sw && sw.from === s.me) return { kind: 'wait', reason: 'switchover_elsewhere', detail: 'this member was asked to hand the role over' };
  // The member handing over will not stand while its request is pending: nobody defers to it.
  const better = eligibleOthers(s).filter((m) => m.priority > s.priority && m.member !== sw?.from).sort((a, b) => b.priority - a.priority)[0];
  if (better) return { kind: 'wait', reason: 'deferring', detail: `${better.member} (priority ${better.priority}) is eligible and ranks above this member (${s.priority})` };
  const clean = s.lastSeenToken !== undefined && snap.released?.token === s.lastSeenToken;
  if (!clean && s.takeoverDelayMs > 0 && s.vacantSinceMs !== undefined && s.now - s.vacantSinceMs < s.takeoverDelayMs) {
    const left = Math.ceil((s.takeoverDelayMs - (s.now - s.vacantSinceMs)) / 100) / 10;
    return { kind: 'wait', reason: 'takeover_delay', detail: `the active key vanished without a clean hand-over: waits takeover_delay (${left}s left)` };
  }
  return { kind: 'stand', cause: 'elected', detail: 'no member is active and none eligible ranks above this one' };
}
