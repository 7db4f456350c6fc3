// What a server says about its own replication, in one statement: whether it
// is in recovery (a standby) and, if so, its WAL receiver (pg_stat_wal_receiver)
// and how far it has received and replayed. PostgreSQL 11 or later (the
// receiver's sender_host/sender_port columns).
import type { PostgresLink } from './connection.js';
import { UnexpectedAnswerError } from './errors.js';

export interface WalReceiver {
  readonly pid: number;
  /**
   * streaming | starting | waiting | restarting | stopping | stopped; null
   * when the role may not see it (members of pg_read_all_stats, which
   * pg_monitor includes, see every column; others only the pid).
   */
  readonly status: string | null;
  readonly senderHost: string | null;
  readonly senderPort: number | null;
}

export interface StandbyStatus {
  /** Undefined when no WAL receiver process runs (upstream unreachable, or never configured). */
  readonly receiver?: WalReceiver;
  readonly receivedLsn: string | null;
  readonly replayedLsn: string | null;
  /** The LSNs as byte offsets: exact up to 2^53 bytes (8 PiB) of WAL. */
  readonly receivedBytes: number | null;
  readonly replayedBytes: number | null;
  /** Received but not replayed; null when either position is unknown. */
  readonly replayLagBytes: number | null;
  /** Replay paused, or a pause requested and not yet reached. */
  readonly paused: boolean;
}

export type ServerReplication = { readonly role: 'primary' } | { readonly role: 'standby'; readonly status: StandbyStatus };

export interface ReplicationRow {
  in_recovery: boolean;
  pid: number | null;
  status: string | null;
  sender_host: string | null;
  sender_port: number | null;
  received_lsn: string | null;
  replayed_lsn: string | null;
  received_bytes: number | null;
  replayed_bytes: number | null;
  paused: boolean | null;
}

// The CASE keeps pg_is_wal_replay_paused() from running on a primary, where it
// raises "recovery is not in progress". The LEFT JOIN gives one row even
// without a WAL receiver.
const STATUS_SQL = `SELECT pg_is_in_recovery() AS in_recovery,
       r.pid, r.status, r.sender_host, r.sender_port,
       pg_last_wal_receive_lsn()::text AS received_lsn,
       pg_last_wal_replay_lsn()::text AS replayed_lsn,
       pg_wal_lsn_diff(pg_last_wal_receive_lsn(), '0/0')::float8 AS received_bytes,
       pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::float8 AS replayed_bytes,
       CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() END AS paused
  FROM (SELECT 1) AS one LEFT JOIN pg_stat_wal_receiver AS r ON true`;

/** Pure: the statement's row → the server's replication state. */
export function parseReplicationRow(row: ReplicationRow): ServerReplication {
  if (!row.in_recovery) return { role: 'primary' };
  const { received_bytes: rx, replayed_bytes: replayed } = row;
  return {
    role: 'standby',
    status: {
      receiver: row.pid === null ? undefined : { pid: row.pid, status: row.status, senderHost: row.sender_host, senderPort: row.sender_port },
      receivedLsn: row.received_lsn,
      replayedLsn: row.replayed_lsn,
      receivedBytes: rx,
      replayedBytes: replayed,
      // Replay runs ahead of the receiver after a restart that replayed local
      // or archived WAL first; nothing is waiting to be replayed then.
      replayLagBytes: rx === null || replayed === null ? null : Math.max(0, rx - replayed),
      paused: row.paused === true,
    },
  };
}

export async function readServerReplication(link: PostgresLink): Promise<ServerReplication> {
  const { rows } = await link.query<ReplicationRow>(STATUS_SQL);
  const row = rows[0];
  if (!row) throw new UnexpectedAnswerError('the replication status query returned no row');
  return parseReplicationRow(row);
}
