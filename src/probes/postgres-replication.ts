// postgres_replication: run against a standby. The WAL receiver's state,
// received and replayed WAL and the bytes between them, whether replay is
// paused, and, with a heartbeat table, lag in seconds that keeps rising while
// replication is stopped, paused or cut off (which now() -
// pg_last_xact_replay_timestamp() gets wrong both ways: it grows on an idle
// primary and hides nothing of a dead one). On a primary it reports the
// primary's view of its standbys (pg_stat_replication) and passes or fails
// as on_primary says.
import { z } from 'zod';
import { positiveDuration, size } from '../config/fields.js';
import { defineProbe } from './definition.js';
import { dbTimingObservations } from './db-timing.js';
import { fail, timed } from './outcome.js';
import {
  describeTarget, normalizePostgresConnection, PostgresConnector, postgresConnectionFields, postgresTarget, type PostgresLink,
} from '../postgres/connection.js';
import { sqlState } from '../postgres/errors.js';
import {
  HEARTBEAT_DEFAULT_SCHEMA, HEARTBEAT_DEFAULT_TABLE, identifier, readHeartbeatLag, type HeartbeatLag, type HeartbeatTable,
} from '../postgres/heartbeat-table.js';
import { readServerReplication, type StandbyStatus } from '../postgres/standby-status.js';
import { readWalsenders, type Walsender } from '../postgres/walsenders.js';
import { evaluatePrimary, evaluateStandby, unknownSeriesLike, unknownStandbySeries, type VerdictConfig } from './postgres-replication-verdict.js';
import { DEFAULT_STANDBY_SERIES_LIMIT, detailsHidden, standbysView } from './postgres-standbys.js';
import type { Observation, ProbeOutcome } from './types.js';

const heartbeatField = () => z.union([
  z.literal(true).transform((): HeartbeatTable => ({ schema: HEARTBEAT_DEFAULT_SCHEMA, table: HEARTBEAT_DEFAULT_TABLE })),
  z.object({
    schema: identifier().default(HEARTBEAT_DEFAULT_SCHEMA),
    table: identifier().default(HEARTBEAT_DEFAULT_TABLE),
  }).strict(),
], { invalid_type_error: 'must be true or { schema, table }' });

type Reading =
  | { readonly role: 'primary'; readonly senders: readonly Walsender[] }
  | { readonly role: 'standby'; readonly status: StandbyStatus; readonly heartbeat?: HeartbeatLag };

export const postgresReplicationProbe = defineProbe({
  type: 'postgres_replication',
  fields: (ctx) => ({
    ...postgresConnectionFields(ctx.env),
    heartbeat: heartbeatField().optional(),
    max_lag: positiveDuration().optional(),
    max_lag_bytes: size().optional(),
    on_primary: z.enum(['fail', 'pass']).default('fail'),
    standby_series_limit: z.number().int().min(1).max(1000).default(DEFAULT_STANDBY_SERIES_LIMIT),
  }),
  normalize(cfg, ctx) {
    if (cfg.max_lag !== undefined && cfg.heartbeat === undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['max_lag'],
        message: 'needs heartbeat: lag in seconds is measured from the heartbeat row that postgres_heartbeat writes on the primary' });
    }
    return normalizePostgresConnection(cfg, ctx);
  },
  create(cfg) {
    const connector = new PostgresConnector(postgresTarget(cfg), cfg.keepalive);
    const who = describeTarget(connector.target);
    const hb: HeartbeatTable | undefined = cfg.heartbeat;
    const verdictCfg: VerdictConfig = {
      maxLagSeconds: cfg.max_lag === undefined ? undefined : cfg.max_lag / 1000,
      maxLagBytes: cfg.max_lag_bytes, heartbeat: hb !== undefined, onPrimary: cfg.on_primary,
    };
    // The series of the last run that read the server: when it stops
    // answering they turn unknown instead of keeping the last values.
    let previous: readonly Observation[] = unknownStandbySeries(hb !== undefined);

    const heartbeatLag = async (link: PostgresLink, table: HeartbeatTable): Promise<HeartbeatLag> => {
      try {
        return await readHeartbeatLag(link, table);
      } catch (err) {
        // The table missing or not readable makes the lag unknown; a dead connection fails the run.
        const code = sqlState(err);
        if (code === undefined) throw err;
        return { seconds: null, why: `heartbeat read failed: SQLSTATE ${code}: ${(err as Error).message}` };
      }
    };

    const read = async (link: PostgresLink): Promise<Reading> => {
      const server = await readServerReplication(link);
      if (server.role === 'primary') return { role: 'primary', senders: await readWalsenders(link) };
      return { role: 'standby', status: server.status, heartbeat: hb ? await heartbeatLag(link, hb) : undefined };
    };

    return {
      name: cfg.name,
      type: 'postgres_replication',
      run: (signal) => timed(async (): Promise<ProbeOutcome> => {
        const res = await connector.run(signal, cfg.timeoutMs, read);
        const timing = dbTimingObservations(res.timing);
        if (!res.ok) {
          return { ...fail(res.reason, `${res.phase === 'connect' ? 'connect' : 'replication status'} ${who}: ${res.message}`,
            [...timing, ...unknownSeriesLike(previous)]), observationsComplete: true };
        }
        const r = res.value;
        const outcome = r.role === 'primary'
          ? evaluatePrimary(standbysView(r.senders, cfg.standby_series_limit), detailsHidden(r.senders), verdictCfg)
          : evaluateStandby({ status: r.status, heartbeat: r.heartbeat }, verdictCfg);
        previous = outcome.observations ?? [];
        return { ...outcome, message: `${who}: ${outcome.message}`, observations: [...timing, ...previous] };
      }),
      close: () => connector.close(),
    };
  },
});
