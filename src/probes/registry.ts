// Probe type → definition. Adding a probe type is one file and one line here.
import type { ProbeDefinition } from './definition.js';
import { diskProbe } from './disk.js';
import { httpProbe } from './http.js';
import { mysqlProbe } from './mysql.js';
import { mysqlHeartbeatProbe } from './mysql-heartbeat.js';
import { mysqlReplicationProbe } from './mysql-replication.js';
import { postgresProbe } from './postgres.js';
import { postgresHeartbeatProbe } from './postgres-heartbeat.js';
import { postgresReplicationProbe } from './postgres-replication.js';
import { tcpProbe } from './tcp.js';

// Each definition is typed by its own fields; the registry only needs the
// common surface, hence the deliberate `any` for the field shape.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyProbeDefinition = ProbeDefinition<any>;

export const PROBE_TYPES: readonly AnyProbeDefinition[] = [httpProbe, tcpProbe, diskProbe,
  mysqlProbe, mysqlReplicationProbe, mysqlHeartbeatProbe, postgresProbe, postgresReplicationProbe, postgresHeartbeatProbe];
