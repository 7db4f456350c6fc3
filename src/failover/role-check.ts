// The answers of /mysql/<cluster>/primary and /mysql/<cluster>/replica, for a
// load balancer that must send writes only to the primary and reads only to
// replicas that keep up (Patroni's /primary and /replica for PostgreSQL).
// Judged from this member's last loop: the view of its own server, the
// primary record, and whether it holds the primary lease right now.
import type { ClusterMember } from './member.js';

export interface RoleVerdict { readonly ok: boolean; readonly reason: string; readonly detail: Record<string, unknown> }

/** A view older than this says nothing about now. */
const STALE_AFTER_MS = 5000;

export function mysqlRoleVerdict(m: ClusterMember, role: 'primary' | 'replica', maxLagMs: number, now: number): RoleVerdict {
  const v = m.latestView();
  const rec = m.latestRecord()?.value;
  const base = { cluster: m.settings.cluster, member: m.name, primary: rec?.name ?? null, epoch: rec?.epoch ?? null };
  if (!v || now - v.published_at > STALE_AFTER_MS) return { ok: false, reason: 'no_recent_view', detail: { ...base, role: 'unknown' } };
  if (!v.reachable) return { ok: false, reason: 'server_unreachable', detail: { ...base, role: 'unknown', error: v.server_error } };
  if (role === 'primary') {
    const held = m.guard.holding();
    const ok = rec?.name === m.name && held && v.read_only === false;
    const reason = rec?.name !== m.name ? 'not_the_primary' : !held ? 'no_primary_lease' : v.read_only !== false ? 'read_only' : 'primary';
    return { ok, reason, detail: { ...base, role: ok ? 'primary' : 'not_primary', primary_lease_held: held, read_only: v.read_only } };
  }
  const lag = v.lag_seconds;
  const fromPrimary = !!rec && !!v.source && v.source.host === rec.host && v.source.port === rec.port;
  const replicating = v.io_running === 'Yes' && v.sql_running === 'Yes';
  const within = lag !== null && lag * 1000 <= maxLagMs;
  const ok = rec?.name !== m.name && replicating && fromPrimary && within;
  const reason = rec?.name === m.name ? 'is_the_primary' : !replicating ? 'not_replicating' : !fromPrimary ? 'wrong_source' : lag === null ? 'lag_unknown' : !within ? 'lagging' : 'replica';
  return { ok, reason, detail: { ...base, role: ok ? 'replica' : 'not_replica', io_running: v.io_running, sql_running: v.sql_running, lag_seconds: lag, max_lag_seconds: maxLagMs / 1000 } };
}
