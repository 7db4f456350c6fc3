// What each agent publishes about its own database server under
// <prefix>/clusters/<cluster>/members/<name> (bound to its lease, so a dead
// agent's view disappears). Views are read back from etcd, i.e. written by
// other processes, possibly other versions: parse them defensively.
import { z } from 'zod';

export const IO_STATES = ['Yes', 'No', 'Connecting', 'Preparing'] as const;

const endpoint = z.object({ host: z.string(), port: z.number().int() });

export const memberViewSchema = z.object({
  name: z.string(),
  cluster: z.string(),
  /** host:port as the other servers and agents reach this server. */
  host: z.string(),
  port: z.number().int(),
  priority: z.number().int().min(0),
  /** false when the agent could not query its own server (down, auth…). */
  reachable: z.boolean(),
  server_error: z.string().nullable(),
  flavor: z.enum(['mariadb', 'mysql']).nullable(),
  server_id: z.number().int().nullable(),
  read_only: z.boolean().nullable(),
  /** The source this server replicates from; null when it is not a replica. */
  source: endpoint.nullable(),
  io_running: z.string().nullable(),
  sql_running: z.string().nullable(),
  last_io_errno: z.number().int(),
  last_sql_errno: z.number().int(),
  /** Everything received from the source (MariaDB: slave_pos ∪ Gtid_IO_Pos; MySQL: Retrieved ∪ Executed). */
  gtid_received: z.string().nullable(),
  /** Everything applied (MariaDB gtid_slave_pos / gtid_current_pos; MySQL Executed_Gtid_Set). */
  gtid_applied: z.string().nullable(),
  /** Lag measured the last time the IO thread was connected, and when. */
  lag_seconds: z.number().nullable(),
  lag_measured_at: z.number().nullable(),
  /** Epoch of the primary record this agent has acted on (followed or fenced for). */
  epoch_seen: z.number().int(),
  fenced: z.boolean(),
  /** Everything in the server's binlog (MariaDB gtid_binlog_pos, MySQL gtid_executed): what a rejoin must check. */
  gtid_binlog: z.string().nullable().optional(),
  /** Random per agent process, and when it started: two agents publishing under one name are told apart by these. */
  instance: z.string().optional(),
  started_at: z.number().optional(),
  published_at: z.number(),
}).passthrough();

export type MemberView = z.output<typeof memberViewSchema>;

export function sameEndpoint(a: { host: string; port: number } | null | undefined, b: { host: string; port: number } | null | undefined): boolean {
  return !!a && !!b && a.host === b.host && a.port === b.port;
}

export function describeEndpoint(e: { host: string; port: number }): string {
  return `${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}`;
}
