// The pt-heartbeat table, byte for byte: Percona's DDL, its `ts` text format
// (YYYY-MM-DDTHH:MM:SS.ffffff, UTC as with `pt-heartbeat --utc`), one row per
// writing server keyed by server_id. Shared by the writer (mysql_heartbeat)
// and the reader (mysql_replication), so each interoperates with pt-heartbeat
// on the other side.
import { z } from 'zod';
import type { MysqlLink } from './connection.js';
import type { ReplicaStatus } from './replica-status.js';

const IDENT_RE = /^[A-Za-z0-9_$]{1,64}$/;
export const identifier = () => z.string().regex(IDENT_RE, 'must be a plain identifier ([A-Za-z0-9_$], at most 64 characters)');

export const HEARTBEAT_DEFAULT_DATABASE = 'vigil';
export const HEARTBEAT_DEFAULT_TABLE = 'heartbeat';

export interface HeartbeatTable { readonly database: string; readonly table: string }

/** Identifiers were validated against IDENT_RE, so backticks cannot appear in them. */
export function qualified(t: HeartbeatTable): string {
  return `\`${t.database}\`.\`${t.table}\``;
}

export function displayName(t: HeartbeatTable): string {
  return `${t.database}.${t.table}`;
}

/** pt-heartbeat's MAGIC_create_heartbeat definition. */
export function createTableSql(t: HeartbeatTable): string {
  return `CREATE TABLE IF NOT EXISTS ${qualified(t)} (
  ts                    varchar(26) NOT NULL,
  server_id             int unsigned NOT NULL PRIMARY KEY,
  file                  varchar(255) DEFAULT NULL,
  position              bigint unsigned DEFAULT NULL,
  relay_master_log_file varchar(255) DEFAULT NULL,
  exec_master_log_pos   bigint unsigned DEFAULT NULL
)`;
}

/** pt-heartbeat's ts(): "2024-05-01T12:00:00.123000" in UTC. */
export function formatHeartbeatTs(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '000');
}

const TS_RE = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;

/** A heartbeat ts (or a DATETIME from an old pt-heartbeat table) as Unix seconds, read as UTC. */
export function parseHeartbeatTs(text: string): number | undefined {
  const m = TS_RE.exec(text.trim());
  if (!m) return undefined;
  const whole = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
  return Number.isFinite(whole) ? whole / 1000 + (m[7] ? Number(`0.${m[7]}`) : 0) : undefined;
}

export interface HeartbeatSnapshot {
  /** The server's own UTC clock when it answered, Unix seconds. */
  readonly now: number;
  /** server_id → the row's ts (Unix seconds), undefined when ts is unreadable. */
  readonly rows: ReadonlyMap<number, number | undefined>;
}

/**
 * All heartbeat rows plus the server's clock, in one statement. The clock is
 * the server's because the lag is a property of its data, whoever asks (vigil
 * may run on another host); the writer's clock is the other end, so keep
 * both on NTP as pt-heartbeat requires.
 */
export async function readHeartbeats(link: MysqlLink, t: HeartbeatTable): Promise<HeartbeatSnapshot> {
  const rows = await link.query<{ server_id: number | null; ts: string | null; now_utc: string }>(
    `SELECT h.server_id, CAST(h.ts AS CHAR) AS ts, n.now_utc
       FROM (SELECT DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%f') AS now_utc) n
       LEFT JOIN ${qualified(t)} h ON 1 = 1`,
  );
  const now = parseHeartbeatTs(rows[0]?.now_utc ?? '');
  if (now === undefined) throw new Error(`server clock unreadable: ${String(rows[0]?.now_utc)}`);
  const map = new Map<number, number | undefined>();
  for (const r of rows) if (r.server_id !== null) map.set(Number(r.server_id), r.ts === null ? undefined : parseHeartbeatTs(r.ts));
  return { now, rows: map };
}

/**
 * Updates this server's row, inserting it the first time. UPDATE first, as
 * pt-heartbeat does: an INSERT (or a REPLACE, which row-based replication
 * logs as one) of a row that a replica already has would break replication.
 */
export async function writeHeartbeat(link: MysqlLink, t: HeartbeatTable, serverId: number, ts: string): Promise<'updated' | 'inserted'> {
  const { affectedRows } = await link.execute(`UPDATE ${qualified(t)} SET ts = ? WHERE server_id = ?`, [ts, serverId]);
  if (affectedRows > 0) return 'updated';
  await link.execute(`INSERT INTO ${qualified(t)} (ts, server_id) VALUES (?, ?)`, [ts, serverId]);
  return 'inserted';
}

export interface HeartbeatLag {
  /** Seconds, or null when unknown (then `why` says why). */
  readonly seconds: number | null;
  readonly why?: string;
}

/** The heartbeat row for a channel: the configured server_id, else the channel's source. */
export function heartbeatLag(status: ReplicaStatus, snap: HeartbeatSnapshot, table: HeartbeatTable, serverId?: number): HeartbeatLag {
  const id = serverId ?? status.sourceServerId;
  if (id === null) return { seconds: null, why: 'the source\'s server_id is unknown (the IO thread never connected); set heartbeat.server_id' };
  if (!snap.rows.has(id)) return { seconds: null, why: `no heartbeat row for server_id ${id} in ${displayName(table)}` };
  const ts = snap.rows.get(id);
  if (ts === undefined) return { seconds: null, why: `heartbeat row for server_id ${id} has an unreadable ts` };
  // A writer clock slightly ahead of this server's reads as negative lag: it is none.
  return { seconds: Math.max(0, snap.now - ts) };
}
