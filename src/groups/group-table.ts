// One row per member of an active/standby group, from one snapshot of etcd,
// as `vigil group list` prints it: member, address, role, priority, the
// fencing token of the member holding the active key, eligibility (why
// not), and when it last published its record. Pure.
import type { GroupSnapshot } from './snapshot.js';

export interface GroupRow {
  readonly member: string;
  readonly address: string | null;
  /** As the member last published it; the holder of the active key is "active" whatever its record says. */
  readonly role: string;
  readonly priority: number;
  readonly eligible: boolean;
  /** "eligible", or why not. */
  readonly state: string;
  /** The fencing token, on the row of the member holding the active key. */
  readonly token: string | null;
  readonly published_at: string | null;
}

export function groupRows(snap: GroupSnapshot): GroupRow[] {
  const holder = snap.active?.record?.member;
  const rows: GroupRow[] = snap.members.map((m) => ({
    member: m.member, address: m.advertise, role: m.member === holder ? 'active' : m.role, priority: m.priority, eligible: m.eligible,
    state: m.eligible ? 'eligible' : `not eligible: ${m.why_not ?? 'unknown'}`, token: m.member === holder ? snap.active!.token : null, published_at: m.published_at,
  }));
  // The key holder whose record is gone (its agent lost its lease, or is stopping): still the active one until its key goes.
  if (holder && !rows.some((r) => r.member === holder)) {
    rows.push({ member: holder, address: snap.active?.record?.advertise ?? null, role: 'active', priority: snap.active?.record?.priority ?? 0, eligible: false,
      state: 'no record (agent gone?)', token: snap.active!.token, published_at: null });
  }
  const rank = (r: GroupRow) => (r.role === 'active' ? 0 : r.eligible ? 1 : 2);
  return rows.sort((a, b) => rank(a) - rank(b) || b.priority - a.priority || a.member.localeCompare(b.member));
}
