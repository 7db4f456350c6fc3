// One identity per member name. Two agents that publish under the same name
// (a cloned VM image, a copied config) would both fence, follow and promote
// for one member; the second one to appear must take no part instead, and
// say why. A view under our name that we did not write is either our own
// previous process's (it stops changing and expires with its lease) or a
// live twin's (it keeps changing): we wait up to view_stale_after to tell.
import { describeEndpoint } from './view.js';

interface Seen { readonly modRevision: string; readonly since: number }

interface ViewLike { readonly instance?: string; readonly started_at?: number; readonly published_at?: number; readonly host?: string; readonly port?: number; readonly server_id?: number | null }

export class IdentityCheck {
  private seen: Seen | undefined;
  private published = false;
  private conflictText: string | undefined;

  constructor(private readonly me: string, private readonly instance: string, private readonly startedAt: number, private readonly staleAfterMs: number) {}

  /** The conflict in force, if any: while set, the member publishes nothing and changes nothing. */
  conflict(): string | undefined { return this.conflictText; }

  /** Our view was written by us (publishing under our name from now on is ours). */
  markPublished(): void { this.published = true; }

  /**
   * Looks at what etcd holds under our name (undefined: nothing). Returns
   * 'ok' when this agent may publish and act, 'wait' while it is still
   * telling a stale view from a live one, 'conflict' for a live twin.
   */
  check(entry: { readonly value: unknown; readonly modRevision: string } | undefined, now: number): 'ok' | 'wait' | 'conflict' {
    const v = (entry?.value ?? undefined) as ViewLike | undefined;
    if (!entry || v?.instance === this.instance) { this.seen = undefined; this.conflictText = undefined; return 'ok'; }
    const other = `another agent publishes as member "${this.me}" (server ${v?.host !== undefined && v.port !== undefined ? describeEndpoint({ host: v.host, port: v.port }) : 'unknown'}`
      + `${v?.server_id != null ? `, server_id ${v.server_id}` : ''}${v?.started_at ? `, agent started ${new Date(v.started_at).toISOString()}` : ''})`;
    if (this.published) {
      // Both of us are live and writing: the later starter steps aside (both agents reach the same answer).
      const theirs = [v?.started_at ?? 0, v?.instance ?? ''] as const;
      const later = this.startedAt > theirs[0] || (this.startedAt === theirs[0] && this.instance > theirs[1]);
      if (!later) return 'ok';
      this.conflictText = `${other}: this agent started later and takes no part until one of them is renamed (coordination.member_name)`;
      return 'conflict';
    }
    if (!this.seen) {
      this.seen = { modRevision: entry.modRevision, since: now };
      if (v?.published_at !== undefined && now - v.published_at > this.staleAfterMs) { this.seen = undefined; return 'ok'; }
      return 'wait';
    }
    if (this.seen.modRevision !== entry.modRevision) {
      this.conflictText = `${other}: it is alive (its view keeps changing), so this agent takes no part until one of them is renamed (coordination.member_name)`;
      return 'conflict';
    }
    if (now - this.seen.since > this.staleAfterMs) { this.seen = undefined; return 'ok'; }
    return 'wait';
  }
}
