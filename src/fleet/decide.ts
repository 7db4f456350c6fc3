// The fleet's judgement over one snapshot, pure: how many live members have
// a probe critical (a shared cause stands the fleet down), and which slots
// are free. This agent's own view always wins over its record in etcd: its
// latest health change may not have been published yet, and the probe that
// triggered a rule is critical here by definition.
import type { FleetSnapshot, SlotView } from './snapshot.js';

export interface SelfView {
  readonly member: string;
  /** Probes critical on this host now (the triggering probe included, when judging an action). */
  readonly critical: readonly string[];
}

/** The fleet-wide limits every rule of the fleet agrees on (checked at load). */
export interface FleetLimits {
  readonly name: string;
  readonly maxConcurrent: number;
  readonly standDownShare?: number;
  readonly minMembers: number;
}

export interface ShareCount {
  readonly probe: string;
  /** Members with the probe critical, sorted. */
  readonly criticalMembers: readonly string[];
  readonly live: number;
  /** 0–1. */
  readonly share: number;
  /** stand_down_share is set and there are at least min_members live members. */
  readonly applies: boolean;
  /** The fleet stands down on this probe. */
  readonly standDown: boolean;
}

/** Every live member's critical probes: the snapshot's records, with this agent's own view instead of its record. */
export function liveMembers(snap: FleetSnapshot, self: SelfView): ReadonlyArray<{ readonly member: string; readonly critical: readonly string[] }> {
  return [...snap.members.filter((m) => m.member !== self.member), self];
}

/**
 * A shared cause needs at least two members with the probe critical — one
 * host failing alone is that host's problem, whatever the share says in a
 * small fleet — and at least stand_down_share of at least min_members live
 * members.
 */
export function countShare(snap: FleetSnapshot, self: SelfView, probe: string, limits: FleetLimits): ShareCount {
  const live = liveMembers(snap, self);
  const criticalMembers = live.filter((m) => m.critical.includes(probe)).map((m) => m.member).sort();
  const share = live.length ? criticalMembers.length / live.length : 0;
  const applies = limits.standDownShare !== undefined && live.length >= limits.minMembers;
  // The epsilon: 0.3 × 10 members is 3 critical, not 3.0000000000000004.
  const standDown = applies && criticalMembers.length >= 2 && criticalMembers.length >= limits.standDownShare! * live.length - 1e-9;
  return { probe, criticalMembers, live: live.length, share, applies, standDown };
}

/** Slot indexes below max_concurrent nobody holds; none when max_concurrent keys are held (whatever their index). */
export function freeSlots(snap: FleetSnapshot, maxConcurrent: number): number[] {
  if (snap.slots.length >= maxConcurrent) return [];
  const held = new Set(snap.slots.map((s) => s.index));
  return Array.from({ length: maxConcurrent }, (_, i) => i).filter((i) => !held.has(i));
}

const holder = (s: SlotView) => (s.record
  ? `${s.record.holder} (rule ${s.record.rule}, ${s.record.action}, on ${s.record.probe}) since ${s.record.since}`
  : 'an unreadable record');

export function describeHolders(slots: readonly SlotView[]): string {
  return slots.map((s) => `slot ${s.index < 0 ? '?' : s.index} by ${holder(s)}`).join('; ');
}

export function sharedCauseDetail(c: ShareCount, limits: FleetLimits): string {
  return `${c.criticalMembers.length} of ${c.live} members of fleet ${limits.name} have ${c.probe} critical (${c.criticalMembers.join(', ')}; `
    + `stand_down_share ${limits.standDownShare}): the cause is shared, not this host's; no member remediates on ${c.probe} until fewer fail`;
}

export type FleetVerdict =
  | { readonly kind: 'shared_cause'; readonly detail: string; readonly count: ShareCount }
  | { readonly kind: 'busy'; readonly detail: string }
  | { readonly kind: 'free'; readonly free: readonly number[]; readonly count: ShareCount };

/** Shared cause first (no slot is worth taking then), then the slots. */
export function judge(snap: FleetSnapshot, limits: FleetLimits, self: SelfView, probe: string): FleetVerdict {
  const count = countShare(snap, self, probe, limits);
  if (count.standDown) return { kind: 'shared_cause', detail: sharedCauseDetail(count, limits), count };
  const free = freeSlots(snap, limits.maxConcurrent);
  if (free.length === 0) {
    return { kind: 'busy', detail: `fleet ${limits.name}: ${snap.slots.length} of ${limits.maxConcurrent} slot(s) held: ${describeHolders(snap.slots)}` };
  }
  return { kind: 'free', free, count };
}
