// One reading of a server's replication-relevant state: who it is, whether it
// takes writes, whom it replicates from, and how far it got (received vs
// applied GTIDs). The member view and every failover gate are built from it.
import type { MysqlLink } from './connection.js';
import type { ReplicaStatus, ReplicaStatusReader } from './replica-status.js';
import { formatPosition, mergePositions, parseGtid } from './gtid.js';
import { flavorOf, type Flavor } from './flavor.js';

export interface ServerState {
  readonly flavor: Flavor;
  readonly version: string;
  readonly serverId: number;
  readonly readOnly: boolean;
  /** MySQL only; null on MariaDB. */
  readonly superReadOnly: boolean | null;
  /** The default (unnamed) replication connection, if the server is a replica. */
  readonly replica: ReplicaStatus | undefined;
  /** Transactions applied (MariaDB gtid_slave_pos, MySQL gtid_executed). */
  readonly applied: string;
  /** Transactions received: applied ∪ what the IO thread fetched (Gtid_IO_Pos / Retrieved_Gtid_Set). */
  readonly received: string;
  /** Everything in this server's binlog (MariaDB gtid_binlog_pos, MySQL gtid_executed). */
  readonly binlog: string;
  /** slave_net_timeout in seconds: how long an IO thread waits on a silent source. */
  readonly netTimeoutSeconds: number;
}

function flag(v: unknown): boolean {
  return Number(v) === 1 || String(v).toUpperCase() === 'ON';
}

export async function readServerState(link: MysqlLink, reader: ReplicaStatusReader): Promise<ServerState> {
  const [base] = await link.query<{ version: string; server_id: number; ro: unknown; nt: unknown }>(
    'SELECT @@version AS version, @@server_id AS server_id, @@read_only AS ro, @@GLOBAL.slave_net_timeout AS nt');
  const netTimeoutSeconds = Number(base.nt);
  const flavor = flavorOf(base.version);
  const rows = await reader.read(link);
  const replica = rows.find((r) => r.channelName === '') ?? (rows.length === 1 ? rows[0] : undefined);
  if (flavor === 'mariadb') {
    const [g] = await link.query<{ slave_pos: string; binlog_pos: string }>(
      'SELECT @@GLOBAL.gtid_slave_pos AS slave_pos, @@GLOBAL.gtid_binlog_pos AS binlog_pos');
    const applied = parseGtid('mariadb', g.slave_pos);
    const received = replica ? mergePositions(applied, parseGtid('mariadb', replica.gtid.ioPos)) : applied;
    return {
      flavor, version: String(base.version), serverId: Number(base.server_id), readOnly: flag(base.ro), superReadOnly: null,
      replica, applied: formatPosition(applied), received: formatPosition(received), binlog: g.binlog_pos ?? '', netTimeoutSeconds,
    };
  }
  const [g] = await link.query<{ executed: string; sro: unknown }>('SELECT @@GLOBAL.gtid_executed AS executed, @@GLOBAL.super_read_only AS sro');
  const applied = parseGtid('mysql', g.executed);
  const received = replica ? mergePositions(applied, parseGtid('mysql', replica.gtid.retrievedSet)) : applied;
  return {
    flavor, version: String(base.version), serverId: Number(base.server_id), readOnly: flag(base.ro), superReadOnly: flag(g.sro),
    replica, applied: formatPosition(applied), received: formatPosition(received), binlog: formatPosition(applied), netTimeoutSeconds,
  };
}

/** "Yes"/"Connecting"/"No" as the member view and operators spell the thread states. */
export function ioText(r: ReplicaStatus | undefined): string | null {
  if (!r) return null;
  return r.io === 'running' ? 'Yes' : r.io === 'connecting' ? 'Connecting' : 'No';
}

export function sqlText(r: ReplicaStatus | undefined): string | null {
  if (!r) return null;
  return r.sql === 'running' ? 'Yes' : 'No';
}
