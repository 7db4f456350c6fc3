// Who has been a member lately. A view that is missing right now is not yet
// proof that its member is gone: after an etcd outage every lease expired and
// the views come back one by one, and an agent restarting takes a moment to
// publish. Deciding on an incomplete list would pick the wrong candidate, so
// a replica seen recently is waited for until it has been missing for the
// grace (view_stale_after), then left out as dead.
import type { MemberView } from './view.js';

interface Entry { readonly lastView: MemberView; missingSince?: number }

/** How long a member that has not been seen at all is remembered. */
const FORGET_AFTER_MS = 10 * 60_000;

export interface Absentee { readonly name: string; readonly missingForMs: number }

export class Roster {
  private readonly members = new Map<string, Entry>();

  /** Folds in one complete read of the member views from etcd. */
  observe(views: readonly MemberView[], now: number): void {
    const present = new Set(views.map((v) => v.name));
    for (const v of views) this.members.set(v.name, { lastView: v });
    for (const [name, e] of this.members) {
      if (present.has(name)) continue;
      e.missingSince ??= now;
      if (now - e.missingSince > FORGET_AFTER_MS) this.members.delete(name);
    }
  }

  /**
   * Replicas missing for less than `graceMs`. The recorded primary is never
   * waited for: its agent is expected to go when its host does.
   */
  waitingFor(now: number, graceMs: number, exclude: readonly string[]): Absentee[] {
    const out: Absentee[] = [];
    for (const [name, e] of this.members) {
      if (e.missingSince === undefined || exclude.includes(name) || e.lastView.source === null) continue;
      const missingForMs = now - e.missingSince;
      if (missingForMs < graceMs) out.push({ name, missingForMs });
    }
    return out;
  }
}
