// The PostgreSQL heartbeat table: one row (id 1) whose ts the primary sets to
// its own clock every run of postgres_heartbeat. Physical replication carries
// the row to every standby, where postgres_replication subtracts it from the
// standby server's clock. Unlike now() - pg_last_xact_replay_timestamp(),
// that lag stays small on a healthy standby of an idle primary (the writer
// itself commits every run) and keeps rising while replay is stopped, paused
// or cut off from a dead primary, because the row then stops changing.
import { z } from 'zod';
import type { PostgresLink } from './connection.js';
import { UnexpectedAnswerError } from './errors.js';

// Lower case only: an unquoted identifier folds to lower case in PostgreSQL,
// so `Heartbeat` in the config would silently name another table than psql's.
const IDENT_RE = /^[a-z_][a-z0-9_]{0,62}$/;
export const identifier = () => z.string().regex(IDENT_RE, 'must be a lower-case plain identifier ([a-z_][a-z0-9_]*, at most 63 characters)');

export const HEARTBEAT_DEFAULT_SCHEMA = 'vigil';
export const HEARTBEAT_DEFAULT_TABLE = 'heartbeat';
const ROW_ID = 1;

export interface HeartbeatTable { readonly schema: string; readonly table: string }

/** Identifiers were validated against IDENT_RE, so quotes cannot appear in them. */
function qualified(t: HeartbeatTable): string {
  return `"${t.schema}"."${t.table}"`;
}

export function displayName(t: HeartbeatTable): string {
  return `${t.schema}.${t.table}`;
}

export function createSchemaSql(t: HeartbeatTable): string {
  return `CREATE SCHEMA IF NOT EXISTS "${t.schema}"`;
}

export function createTableSql(t: HeartbeatTable): string {
  return `CREATE TABLE IF NOT EXISTS ${qualified(t)} (
  id integer PRIMARY KEY,
  ts timestamptz NOT NULL
)`;
}

/**
 * Sets the row to the primary server's clock_timestamp() (not now(): that is
 * the transaction's start) and returns what was written, Unix seconds.
 */
export async function writeHeartbeat(link: PostgresLink, t: HeartbeatTable): Promise<{ ts: number; how: 'inserted' | 'updated' }> {
  const { rows } = await link.query<{ ts: number; inserted: boolean }>(
    `INSERT INTO ${qualified(t)} AS h (id, ts) VALUES ($1, clock_timestamp())
     ON CONFLICT (id) DO UPDATE SET ts = EXCLUDED.ts
     RETURNING extract(epoch FROM h.ts)::float8 AS ts, (h.xmax = 0) AS inserted`, [ROW_ID]);
  const row = rows[0];
  if (!row) throw new UnexpectedAnswerError('the heartbeat upsert returned no row');
  return { ts: row.ts, how: row.inserted ? 'inserted' : 'updated' };
}

export interface HeartbeatLag {
  /** Seconds, or null when unknown (then `why` says why). */
  readonly seconds: number | null;
  readonly why?: string;
  /** When the primary wrote the row, Unix seconds by its clock. */
  readonly writtenAt?: number;
}

/**
 * The row's age by this server's clock, computed by the server in the same
 * statement. Its clock, not the agent's, because the lag is a property of the
 * server's data whoever asks (vigil may run on another host), as for MySQL;
 * the primary's clock is the other end, so both hosts need NTP.
 */
export async function readHeartbeatLag(link: PostgresLink, t: HeartbeatTable): Promise<HeartbeatLag> {
  const { rows } = await link.query<{ lag: number; ts: number }>(
    `SELECT extract(epoch FROM clock_timestamp() - ts)::float8 AS lag, extract(epoch FROM ts)::float8 AS ts
       FROM ${qualified(t)} WHERE id = $1`, [ROW_ID]);
  const row = rows[0];
  if (!row) return { seconds: null, why: `no heartbeat row in ${displayName(t)} (is postgres_heartbeat writing on the primary?)` };
  // A primary clock slightly ahead of this server's reads as negative lag: it is none.
  return { seconds: Math.max(0, row.lag), writtenAt: row.ts };
}
