// The primary's view of its standbys: one row of pg_stat_replication per WAL
// sender (a streaming standby, or a pg_basebackup in progress), with the
// lags the primary measured and how far each standby is behind its WAL.
import type { PostgresLink } from './connection.js';

export interface Walsender {
  readonly pid: number;
  readonly applicationName: string;
  /** The standby's address; null over a unix socket. */
  readonly clientAddr: string | null;
  /** startup | catchup | streaming | backup | stopping; null when the role may not see it. */
  readonly state: string | null;
  /** async | potential | sync | quorum. */
  readonly syncState: string | null;
  /** Unix seconds; orders standbys that share a name. */
  readonly backendStart: number | null;
  /** write_lag, flush_lag, replay_lag in seconds; null when PostgreSQL shows none. */
  readonly lagSeconds: Readonly<Record<LagKind, number | null>>;
  /** Bytes between the primary's current WAL position and the standby's write, flush and replay positions. */
  readonly lagBytes: Readonly<Record<LagKind, number | null>>;
}

export const LAG_KINDS = ['write', 'flush', 'replay'] as const;
export type LagKind = (typeof LAG_KINDS)[number];

interface Row {
  pid: number;
  application_name: string | null;
  client_addr: string | null;
  state: string | null;
  sync_state: string | null;
  backend_start: number | null;
  write_lag: number | null;
  flush_lag: number | null;
  replay_lag: number | null;
  write_bytes: number | null;
  flush_bytes: number | null;
  replay_bytes: number | null;
}

// pg_current_wal_lsn() raises on a standby: this runs on a primary only.
const SQL = `SELECT pid, application_name, host(client_addr) AS client_addr, state, sync_state,
       extract(epoch FROM backend_start)::float8 AS backend_start,
       extract(epoch FROM write_lag)::float8 AS write_lag,
       extract(epoch FROM flush_lag)::float8 AS flush_lag,
       extract(epoch FROM replay_lag)::float8 AS replay_lag,
       pg_wal_lsn_diff(pg_current_wal_lsn(), write_lsn)::float8 AS write_bytes,
       pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn)::float8 AS flush_bytes,
       pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8 AS replay_bytes
  FROM pg_stat_replication`;

// A standby's position can be a few bytes past pg_current_wal_lsn() (it is
// the primary's write position, and the standby reports where its record
// ends): that is no lag.
const nonNegative = (v: number | null) => (v === null ? null : Math.max(0, v));

export async function readWalsenders(link: PostgresLink): Promise<Walsender[]> {
  const { rows } = await link.query<Row>(SQL);
  return rows.map((r) => ({
    pid: r.pid,
    applicationName: r.application_name ?? '',
    clientAddr: r.client_addr,
    state: r.state,
    syncState: r.sync_state,
    backendStart: r.backend_start,
    lagSeconds: { write: r.write_lag, flush: r.flush_lag, replay: r.replay_lag },
    lagBytes: { write: nonNegative(r.write_bytes), flush: nonNegative(r.flush_bytes), replay: nonNegative(r.replay_bytes) },
  }));
}
