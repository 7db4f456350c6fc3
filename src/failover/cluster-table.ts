// One row per member of a MySQL cluster, from one snapshot of etcd, as
// `vigil cluster list` prints it and /status shows it (patronictl list's
// columns: member, address, role, state, lag, epoch, fenced, last seen).
// Pure: the snapshot is read by the caller.
import type { ClusterSnapshot } from '../coordination/cluster-snapshot.js';
import { describeEndpoint, memberViewSchema } from './view.js';

export interface ClusterRow {
  readonly name: string;
  /** host:port other servers reach it at (from its view, or the primary record). */
  readonly address: string | null;
  /** primary (the record names it), replica (replicates from someone), standalone, or unknown (no readable view). */
  readonly role: 'primary' | 'replica' | 'standalone' | 'unknown';
  /** running, streaming, fenced, unreachable, stopped, no view… in a word or two. */
  readonly state: string;
  readonly reachable: boolean | null;
  readonly read_only: boolean | null;
  readonly fenced: boolean | null;
  readonly io: string | null;
  readonly sql: string | null;
  readonly lag_seconds: number | null;
  /** The primary record's epoch this member last acted on. */
  readonly epoch_seen: number | null;
  /** true for the member holding the primary lease. */
  readonly lease: boolean;
  /** When its agent last published its view (ISO). */
  readonly published_at: string | null;
}

function stateOf(v: { reachable: boolean; fenced: boolean; source: unknown; io_running: string | null; sql_running: string | null; read_only: boolean | null }, primary: boolean): string {
  if (!v.reachable) return 'unreachable';
  if (v.fenced) return 'fenced';
  if (primary) return v.read_only ? 'read_only' : 'running';
  if (!v.source) return v.read_only ? 'read_only' : 'writable';
  if (v.io_running === 'Yes' && v.sql_running === 'Yes') return 'streaming';
  if (v.io_running === 'Connecting') return 'connecting';
  return `io ${v.io_running ?? '?'} / sql ${v.sql_running ?? '?'}`;
}

export function clusterRows(snap: ClusterSnapshot): ClusterRow[] {
  const primary = snap.primary?.value;
  const leaseHolder = snap.primaryLease?.value.member;
  const rows: ClusterRow[] = [];
  for (const m of snap.members) {
    const parsed = memberViewSchema.safeParse(m.value);
    if (!parsed.success) {
      rows.push({
        name: m.name, address: null, role: 'unknown', state: 'unreadable view', reachable: null, read_only: null, fenced: null,
        io: null, sql: null, lag_seconds: null, epoch_seen: null, lease: leaseHolder === m.name, published_at: null,
      });
      continue;
    }
    const v = parsed.data;
    const isPrimary = primary?.name === v.name;
    rows.push({
      name: v.name,
      address: describeEndpoint({ host: v.host, port: v.port }),
      role: isPrimary ? 'primary' : v.source ? 'replica' : 'standalone',
      state: stateOf(v, isPrimary),
      reachable: v.reachable,
      read_only: v.read_only,
      fenced: v.fenced,
      io: v.io_running,
      sql: v.sql_running,
      lag_seconds: isPrimary ? null : v.lag_seconds,
      epoch_seen: v.epoch_seen,
      lease: leaseHolder === v.name,
      published_at: new Date(v.published_at).toISOString(),
    });
  }
  // The recorded primary whose agent published nothing: its host is most likely gone.
  if (primary && !rows.some((r) => r.name === primary.name)) {
    rows.push({
      name: primary.name, address: describeEndpoint(primary), role: 'primary', state: 'no view (agent gone?)', reachable: null, read_only: null,
      fenced: null, io: null, sql: null, lag_seconds: null, epoch_seen: primary.epoch, lease: leaseHolder === primary.name, published_at: null,
    });
  }
  const rank = { primary: 0, replica: 1, standalone: 2, unknown: 3 } as const;
  return rows.sort((a, b) => rank[a.role] - rank[b.role] || a.name.localeCompare(b.name));
}
