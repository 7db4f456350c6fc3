// mysql_heartbeat: run on the primary. Each run writes this server's row of a
// pt-heartbeat table (same DDL, same ts format as `pt-heartbeat --update
// --utc`), so replicas can measure lag without Percona Toolkit. It is a probe
// like any other: a write that fails means the primary is not writable.
import { z } from 'zod';
import { defineProbe } from './definition.js';
import { describeTarget, MysqlConnector, mysqlConnectionFields, mysqlTarget, normalizeMysqlConnection, type MysqlLink } from '../mysql/connection.js';
import { ER_BAD_DB_ERROR, ER_NO_SUCH_TABLE, serverErrno } from '../mysql/errors.js';
import {
  createTableSql, displayName, formatHeartbeatTs, HEARTBEAT_DEFAULT_DATABASE, HEARTBEAT_DEFAULT_TABLE, identifier, writeHeartbeat,
  type HeartbeatTable,
} from '../mysql/heartbeat-table.js';
import { dbTimingObservations } from './db-timing.js';
import { fail, timed } from './outcome.js';
import type { Observation, ProbeOutcome } from './types.js';

type Written =
  | { readonly kind: 'written'; readonly serverId: number; readonly ts: string; readonly atMs: number; readonly how: string }
  | { readonly kind: 'read_only' };

export const mysqlHeartbeatProbe = defineProbe({
  type: 'mysql_heartbeat',
  fields: (ctx) => ({
    ...mysqlConnectionFields(ctx.env),
    database: identifier().default(HEARTBEAT_DEFAULT_DATABASE),
    table: identifier().default(HEARTBEAT_DEFAULT_TABLE),
    server_id: z.number().int().min(1).max(4294967295).optional(),
    create_table: z.boolean().default(true),
    on_read_only: z.enum(['fail', 'pass']).default('fail'),
  }),
  normalize: (cfg, ctx) => normalizeMysqlConnection(cfg, ctx),
  create(cfg) {
    // `database` names the heartbeat table's schema, not a login database:
    // logging into a database that does not exist yet would fail before create_table could help.
    const connector = new MysqlConnector({ ...mysqlTarget(cfg), database: undefined }, cfg.keepalive);
    const who = describeTarget(connector.target);
    const table: HeartbeatTable = { database: cfg.database, table: cfg.table };

    const write = async (link: MysqlLink): Promise<Written> => {
      const [{ ro, sid }] = await link.query<{ ro: number; sid: number }>('SELECT @@global.read_only AS ro, @@server_id AS sid');
      // Checked first because users with SUPER (or READ_ONLY ADMIN) may write
      // anyway, and a heartbeat written on a replica is an errant transaction.
      if (Number(ro) !== 0) return { kind: 'read_only' };
      const serverId = cfg.server_id ?? Number(sid);
      const atMs = Date.now();
      const ts = formatHeartbeatTs(atMs);
      try {
        return { kind: 'written', serverId, ts, atMs, how: await writeHeartbeat(link, table, serverId, ts) };
      } catch (err) {
        const errno = serverErrno(err);
        if (!cfg.create_table || (errno !== ER_NO_SUCH_TABLE && errno !== ER_BAD_DB_ERROR)) throw err;
      }
      await link.execute(`CREATE DATABASE IF NOT EXISTS \`${table.database}\``);
      await link.execute(createTableSql(table));
      return { kind: 'written', serverId, ts, atMs, how: `created ${displayName(table)} and ${await writeHeartbeat(link, table, serverId, ts)}` };
    };

    return {
      name: cfg.name,
      type: 'mysql_heartbeat',
      run: (signal) => timed(async (): Promise<ProbeOutcome> => {
        const res = await connector.run(signal, cfg.timeoutMs, write);
        const observations: Observation[] = dbTimingObservations(res.timing);
        if (!res.ok) {
          return fail(res.reason, `${res.phase === 'connect' ? 'connect' : `write heartbeat to ${displayName(table)} on`} ${who}: ${res.message}`, observations);
        }
        const w = res.value;
        if (w.kind === 'read_only') {
          if (cfg.on_read_only === 'pass') return { ok: true, message: `${who} is read-only: not writing the heartbeat (on_read_only: pass)`, observations };
          return fail('readonly', `${who} is read-only (@@read_only=1): cannot write the heartbeat; is this still the primary?`, observations);
        }
        observations.push({ name: 'mysql_heartbeat_last_write_timestamp_seconds', value: w.atMs / 1000 });
        return { ok: true, message: `${w.how} heartbeat row server_id ${w.serverId} ts ${w.ts} in ${displayName(table)} on ${who}`, observations };
      }),
      close: () => connector.close(),
    };
  },
});
