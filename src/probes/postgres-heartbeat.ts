// postgres_heartbeat: run on the primary. Each run sets the heartbeat row to
// the primary server's clock, creating the schema and table the first time,
// so standbys (postgres_replication with heartbeat) measure lag that keeps
// rising when replication stalls. The same contract as mysql_heartbeat: a
// write that fails means the primary is not writable, and on a read-only
// server (a standby, or default_transaction_read_only) it passes or fails as
// on_read_only says, without trying to write.
import { z } from 'zod';
import { defineProbe } from './definition.js';
import { dbTimingObservations } from './db-timing.js';
import { fail, timed } from './outcome.js';
import {
  describeTarget, normalizePostgresConnection, PostgresConnector, postgresConnectionFields, postgresTarget, type PostgresLink,
} from '../postgres/connection.js';
import { sqlState } from '../postgres/errors.js';
import {
  createSchemaSql, createTableSql, displayName, HEARTBEAT_DEFAULT_SCHEMA, HEARTBEAT_DEFAULT_TABLE, identifier, writeHeartbeat,
  type HeartbeatTable,
} from '../postgres/heartbeat-table.js';
import type { Observation, ProbeOutcome } from './types.js';

const UNDEFINED_TABLE = '42P01';
const INVALID_SCHEMA_NAME = '3F000';

type Written =
  | { readonly kind: 'written'; readonly ts: number; readonly how: string }
  | { readonly kind: 'read_only'; readonly why: string };

export const postgresHeartbeatProbe = defineProbe({
  type: 'postgres_heartbeat',
  fields: (ctx) => ({
    ...postgresConnectionFields(ctx.env),
    schema: identifier().default(HEARTBEAT_DEFAULT_SCHEMA),
    table: identifier().default(HEARTBEAT_DEFAULT_TABLE),
    create_table: z.boolean().default(true),
    on_read_only: z.enum(['fail', 'pass']).default('fail'),
  }),
  normalize: (cfg, ctx) => normalizePostgresConnection(cfg, ctx),
  create(cfg) {
    const connector = new PostgresConnector(postgresTarget(cfg), cfg.keepalive);
    const who = describeTarget(connector.target);
    const table: HeartbeatTable = { schema: cfg.schema, table: cfg.table };

    const write = async (link: PostgresLink): Promise<Written> => {
      // Asked first, so a read-only server is a state with its own answer
      // rather than a failed write (25006) on every run.
      const { rows: [state] } = await link.query<{ recovery: boolean; ro: string }>(
        "SELECT pg_is_in_recovery() AS recovery, current_setting('transaction_read_only') AS ro");
      if (state?.recovery) return { kind: 'read_only', why: 'is a standby (in recovery)' };
      if (state?.ro === 'on') return { kind: 'read_only', why: 'is read-only (default_transaction_read_only is on)' };
      try {
        const w = await writeHeartbeat(link, table);
        return { kind: 'written', ts: w.ts, how: w.how };
      } catch (err) {
        // PostgreSQL says 42P01 (no such relation) for a table in a missing schema too.
        const code = sqlState(err);
        if (!cfg.create_table || (code !== UNDEFINED_TABLE && code !== INVALID_SCHEMA_NAME)) throw err;
      }
      try {
        await link.query(createTableSql(table));
      } catch (err) {
        // CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when
        // the schema exists, so it runs only when it is missing: an operator
        // may have made it (CREATE SCHEMA vigil AUTHORIZATION …) for a writer without that grant.
        if (sqlState(err) !== INVALID_SCHEMA_NAME) throw err;
        await link.query(createSchemaSql(table));
        await link.query(createTableSql(table));
      }
      const w = await writeHeartbeat(link, table);
      return { kind: 'written', ts: w.ts, how: `created ${displayName(table)} and ${w.how}` };
    };

    return {
      name: cfg.name,
      type: 'postgres_heartbeat',
      run: (signal) => timed(async (): Promise<ProbeOutcome> => {
        const res = await connector.run(signal, cfg.timeoutMs, write);
        const observations: Observation[] = dbTimingObservations(res.timing);
        if (!res.ok) {
          return fail(res.reason, `${res.phase === 'connect' ? 'connect' : `write heartbeat to ${displayName(table)} on`} ${who}: ${res.message}`, observations);
        }
        const w = res.value;
        if (w.kind === 'read_only') {
          if (cfg.on_read_only === 'pass') return { ok: true, message: `${who} ${w.why}: not writing the heartbeat (on_read_only: pass)`, observations };
          return fail('readonly', `${who} ${w.why}: cannot write the heartbeat; is this still the primary?`, observations);
        }
        observations.push({ name: 'postgres_heartbeat_last_write_timestamp_seconds', value: w.ts });
        return { ok: true, message: `${w.how} heartbeat row ts ${new Date(w.ts * 1000).toISOString()} in ${displayName(table)} on ${who}`, observations };
      }),
      close: () => connector.close(),
    };
  },
});
