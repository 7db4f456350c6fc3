// mysql_replication: run against a replica. Thread states, last errors and
// lag per channel; lag from a pt-heartbeat-compatible table when configured
// (it keeps rising while replication is broken, which Seconds_Behind_Master
// cannot do), else from Seconds_Behind_Master. A NULL is a reason, not a gap.
import { z } from 'zod';
import { positiveDuration } from '../config/fields.js';
import { defineProbe } from './definition.js';
import { describeTarget, MysqlConnector, mysqlConnectionFields, mysqlTarget, normalizeMysqlConnection, type MysqlLink } from '../mysql/connection.js';
import { serverErrno } from '../mysql/errors.js';
import {
  HEARTBEAT_DEFAULT_DATABASE, HEARTBEAT_DEFAULT_TABLE, identifier, readHeartbeats, type HeartbeatSnapshot, type HeartbeatTable,
} from '../mysql/heartbeat-table.js';
import { DEFAULT_CHANNEL, ReplicaStatusReader, type ReplicaStatus } from '../mysql/replica-status.js';
import { evaluateReplication, heartbeatLag, unknownObservations, type ChannelReading } from './mysql-replication-verdict.js';
import { dbTimingObservations } from './db-timing.js';
import { fail, timed } from './outcome.js';
import type { Observation, ProbeOutcome } from './types.js';

interface HeartbeatConfig extends HeartbeatTable { readonly server_id?: number }

const heartbeatDefaults = (): HeartbeatConfig => ({ database: HEARTBEAT_DEFAULT_DATABASE, table: HEARTBEAT_DEFAULT_TABLE });

const heartbeatField = () => z.union([
  z.literal(true).transform(heartbeatDefaults),
  z.object({
    database: identifier().default(HEARTBEAT_DEFAULT_DATABASE),
    table: identifier().default(HEARTBEAT_DEFAULT_TABLE),
    server_id: z.number().int().min(1).max(4294967295).optional(),
  }).strict(),
], { invalid_type_error: 'must be true or { database, table, server_id }' });

/** What the run read: status rows and, when configured, the heartbeat rows (or why not). */
interface Reading { statuses: ReplicaStatus[]; heartbeat?: HeartbeatSnapshot | { error: string } }

export const mysqlReplicationProbe = defineProbe({
  type: 'mysql_replication',
  fields: (ctx) => ({
    ...mysqlConnectionFields(ctx.env),
    heartbeat: heartbeatField().optional(),
    max_lag: positiveDuration().optional(),
    on_primary: z.enum(['fail', 'pass']).default('fail'),
  }),
  normalize: (cfg, ctx) => normalizeMysqlConnection(cfg, ctx),
  create(cfg) {
    const connector = new MysqlConnector(mysqlTarget(cfg), cfg.keepalive);
    const reader = new ReplicaStatusReader();
    const who = describeTarget(connector.target);
    const hb: HeartbeatConfig | undefined = cfg.heartbeat;
    const verdictCfg = { maxLagSeconds: cfg.max_lag === undefined ? undefined : cfg.max_lag / 1000, heartbeat: hb, onPrimary: cfg.on_primary };
    // The line the probe fails at, exported so the alert and the dashboards draw the same one (one lag threshold, not three).
    const limit: Observation[] = verdictCfg.maxLagSeconds === undefined ? [] : [{ name: 'mysql_replication_max_lag_seconds', value: verdictCfg.maxLagSeconds }];
    // Channels seen in the last good read: when the replica stops answering,
    // their series turn NaN instead of keeping the last (now false) values.
    let knownChannels: readonly string[] = [DEFAULT_CHANNEL];

    const read = async (link: MysqlLink): Promise<Reading> => {
      const statuses = await reader.read(link);
      if (!hb || statuses.length === 0) return { statuses };
      try {
        return { statuses, heartbeat: await readHeartbeats(link, hb) };
      } catch (err) {
        // The table missing or not readable makes the lag unknown; a dead connection fails the run.
        if (serverErrno(err) === undefined) throw err;
        const e = err as { code?: string; errno?: number; sqlMessage?: string };
        return { statuses, heartbeat: { error: `heartbeat read failed: ${e.code} (${e.errno}): ${e.sqlMessage ?? ''}` } };
      }
    };

    return {
      name: cfg.name,
      type: 'mysql_replication',
      run: (signal) => timed(async (): Promise<ProbeOutcome> => {
        const res = await connector.run(signal, cfg.timeoutMs, read);
        const timing = [...limit, ...dbTimingObservations(res.timing)];
        if (!res.ok) {
          return fail(res.reason, `${res.phase === 'connect' ? 'connect' : 'replica status'} ${who}: ${res.message}`,
            [...timing, ...unknownObservations(knownChannels, hb !== undefined)]);
        }
        const { statuses, heartbeat } = res.value;
        const readings: ChannelReading[] = statuses.map((status) => ({
          status,
          heartbeat: !hb ? undefined
            : heartbeat === undefined ? { seconds: null, why: 'heartbeat not read' }
            : 'error' in heartbeat ? { seconds: null, why: heartbeat.error }
            : heartbeatLag(status, heartbeat, hb, hb.server_id),
        }));
        if (statuses.length > 0) knownChannels = statuses.map((s) => s.channel);
        const outcome = evaluateReplication(readings, verdictCfg);
        return { ...outcome, observations: [...timing, ...(outcome.observations ?? [])] };
      }),
      close: () => connector.close(),
    };
  },
});
