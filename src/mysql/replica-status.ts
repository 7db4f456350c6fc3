// Reads a replica's status the way every server spells it: MySQL 8.0.22+
// (SHOW REPLICA STATUS, Source_/Replica_ columns, Channel_Name), MySQL 5.7
// (SHOW SLAVE STATUS, Master_/Slave_ columns) and MariaDB 10.x (SHOW ALL
// REPLICAS|SLAVES STATUS: one row per multi-source connection, Connection_name,
// Gtid_IO_Pos / Gtid_Slave_Pos). The parser is pure so failover code and tests
// can feed it rows; the reader only picks the statement the server understands.
import { ER_PARSE_ERROR, serverErrno } from './errors.js';
import type { MysqlLink } from './connection.js';

export type ThreadState = 'running' | 'connecting' | 'stopped';
export const THREAD_STATES: readonly ThreadState[] = ['running', 'connecting', 'stopped'];
import type { Flavor } from './flavor.js';

export type { Flavor };

/** The channel label for the unnamed (single-source) connection. */
export const DEFAULT_CHANNEL = 'default';

export interface ReplicaStatus {
  /** Label-safe channel: the connection/channel name, or "default" for the unnamed one. */
  readonly channel: string;
  /** The name as the server knows it ("" for the default), for statements like STOP REPLICA 'name'. */
  readonly channelName: string;
  readonly flavor: Flavor;
  readonly io: ThreadState;
  readonly sql: ThreadState;
  /** Seconds_Behind_Source/Master; null when the server reports NULL (a thread stopped, or unknown). */
  readonly secondsBehind: number | null;
  readonly lastIoErrno: number;
  readonly lastIoError: string;
  readonly lastSqlErrno: number;
  readonly lastSqlError: string;
  readonly sourceHost: string;
  readonly sourcePort: number | null;
  /** Server id of the direct source; null before the IO thread ever connected. */
  readonly sourceServerId: number | null;
  readonly sourceUuid: string | null;
  readonly sourceLogFile: string;
  readonly readSourceLogPos: number | null;
  readonly relaySourceLogFile: string;
  readonly execSourceLogPos: number | null;
  readonly sqlDelaySeconds: number | null;
  readonly gtid: {
    /** MariaDB Using_Gtid (No|Slave_Pos|Current_Pos); MySQL Auto_Position as "1"/"0". */
    readonly mode: string | null;
    /** MariaDB: the last GTID received per domain (Gtid_IO_Pos). */
    readonly ioPos: string | null;
    /** MariaDB: the last GTID applied per domain (Gtid_Slave_Pos; only in SHOW ALL ... STATUS). */
    readonly slavePos: string | null;
    /** MySQL: Retrieved_Gtid_Set / Executed_Gtid_Set. */
    readonly retrievedSet: string | null;
    readonly executedSet: string | null;
  };
}

/** Case-insensitive column lookup: MariaDB writes Connection_name, MySQL Channel_Name. */
function columns(row: Readonly<Record<string, unknown>>): (...names: string[]) => unknown {
  const lower = new Map(Object.entries(row).map(([k, v]) => [k.toLowerCase(), v]));
  return (...names) => {
    for (const n of names) if (lower.has(n.toLowerCase())) return lower.get(n.toLowerCase());
    return undefined;
  };
}

function str(v: unknown): string {
  if (v === null || v === undefined) return '';
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

function num(v: unknown): number | null {
  if (v === null || v === undefined || v === '') return null;
  const n = typeof v === 'number' ? v : Number(str(v));
  return Number.isFinite(n) ? n : null;
}

function optStr(v: unknown): string | null {
  return v === null || v === undefined ? null : str(v);
}

/** "Yes" runs; "Connecting" (IO thread retrying its source) is neither running nor stopped; anything else is stopped. */
export function threadState(v: unknown): ThreadState {
  const s = str(v).trim().toLowerCase();
  if (s === 'yes') return 'running';
  if (s === 'connecting' || s === 'preparing') return 'connecting';
  return 'stopped';
}

/** A label value from a channel name: printable, bounded; the empty name becomes "default". */
export function channelLabel(name: string): string {
  if (name === '') return DEFAULT_CHANNEL;
  return name.replace(/[^\x20-\x7e]/g, '?').slice(0, 64);
}

/** One row of any replica-status statement → ReplicaStatus. Throws if it is not such a row. */
export function parseReplicaStatusRow(row: Readonly<Record<string, unknown>>): ReplicaStatus {
  const col = columns(row);
  const ioRaw = col('Replica_IO_Running', 'Slave_IO_Running');
  const sqlRaw = col('Replica_SQL_Running', 'Slave_SQL_Running');
  if (ioRaw === undefined || sqlRaw === undefined) {
    throw new Error('not a replica status row: no Replica_IO_Running/Slave_IO_Running and Replica_SQL_Running/Slave_SQL_Running columns');
  }
  // Only MariaDB has Using_Gtid / Gtid_IO_Pos; only MySQL has Executed_Gtid_Set.
  const flavor: Flavor = col('Using_Gtid', 'Gtid_IO_Pos', 'Connection_name') !== undefined ? 'mariadb' : 'mysql';
  const channelName = str(col('Connection_name', 'Channel_Name'));
  return {
    channel: channelLabel(channelName),
    channelName,
    flavor,
    io: threadState(ioRaw),
    sql: threadState(sqlRaw),
    secondsBehind: num(col('Seconds_Behind_Source', 'Seconds_Behind_Master')),
    lastIoErrno: num(col('Last_IO_Errno')) ?? 0,
    lastIoError: str(col('Last_IO_Error')),
    lastSqlErrno: num(col('Last_SQL_Errno')) ?? 0,
    lastSqlError: str(col('Last_SQL_Error')),
    sourceHost: str(col('Source_Host', 'Master_Host')),
    sourcePort: num(col('Source_Port', 'Master_Port')),
    // 0 means "never connected": as unknown as NULL for choosing a heartbeat row.
    sourceServerId: num(col('Source_Server_Id', 'Master_Server_Id')) || null,
    sourceUuid: optStr(col('Source_UUID', 'Master_UUID')) || null,
    sourceLogFile: str(col('Source_Log_File', 'Master_Log_File')),
    readSourceLogPos: num(col('Read_Source_Log_Pos', 'Read_Master_Log_Pos')),
    relaySourceLogFile: str(col('Relay_Source_Log_File', 'Relay_Master_Log_File')),
    execSourceLogPos: num(col('Exec_Source_Log_Pos', 'Exec_Master_Log_Pos')),
    sqlDelaySeconds: num(col('SQL_Delay')),
    gtid: {
      mode: flavor === 'mariadb' ? optStr(col('Using_Gtid')) : optStr(col('Auto_Position')),
      ioPos: optStr(col('Gtid_IO_Pos')),
      slavePos: optStr(col('Gtid_Slave_Pos')),
      retrievedSet: optStr(col('Retrieved_Gtid_Set')),
      executedSet: optStr(col('Executed_Gtid_Set')),
    },
  };
}

/**
 * Statements that list replica status, newest spelling first. MariaDB's
 * SHOW REPLICA STATUS shows only the default connection, so the ALL forms
 * come first to see every multi-source connection.
 */
export const REPLICA_STATUS_STATEMENTS = [
  'SHOW ALL REPLICAS STATUS', // MariaDB 10.5.1+
  'SHOW ALL SLAVES STATUS', // MariaDB 10.0+
  'SHOW REPLICA STATUS', // MySQL 8.0.22+ (one row per channel)
  'SHOW SLAVE STATUS', // MySQL 5.7 / 8.0 before 8.0.22
] as const;

/**
 * Reads replica status, remembering which statement this server understood:
 * it answers the same way every time, so later runs cost one round trip. An
 * upgrade that removes the remembered spelling (MySQL 8.4 dropped SHOW SLAVE
 * STATUS) just moves the search on. No rows = this server is not a replica.
 */
export class ReplicaStatusReader {
  private statement = 0;

  async read(link: MysqlLink): Promise<ReplicaStatus[]> {
    const n = REPLICA_STATUS_STATEMENTS.length;
    for (let k = 0; k < n; k++) {
      const i = (this.statement + k) % n;
      try {
        const rows = await link.query(REPLICA_STATUS_STATEMENTS[i]);
        this.statement = i;
        return rows.map(parseReplicaStatusRow);
      } catch (err) {
        // Only "I do not know this syntax" means: try another spelling.
        if (serverErrno(err) !== ER_PARSE_ERROR) throw err;
      }
    }
    throw new Error(`the server understood none of: ${REPLICA_STATUS_STATEMENTS.join('; ')}`);
  }
}
