// Every metric vigil exports is defined here and nowhere else. Dashboards and
// alerts depend on these names: extend, don't rename.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { FastCounter, FastGauge, FastHistogram, teachRegistry } from './fast-family.js';

/**
 * Per-type gauges a probe may report through its observations. Each gets the
 * `probe` label plus the extra labels listed; the exported name is `vigil_<key>`.
 */
export const OBSERVATION_GAUGES = {
  http_status_code: { help: 'HTTP status code of the last response.', labels: [] },
  tls_cert_expiry_timestamp_seconds: { help: 'Earliest expiry (Unix time) among the certificates the peer presented.', labels: [] },
  disk_avail_bytes: { help: 'Bytes available to unprivileged users on the filesystem of the path.', labels: ['path'] },
  disk_size_bytes: { help: 'Size of the filesystem of the path in bytes.', labels: ['path'] },
  disk_inodes_free_ratio: { help: 'Free inodes as a ratio of all inodes (0-1).', labels: ['path'] },
  disk_readonly: { help: '1 when the filesystem of the path is mounted read-only.', labels: ['path'] },
  db_connect_duration_seconds: { help: 'Time the last run spent connecting to the database.', labels: [] },
  db_query_duration_seconds: { help: 'Time the last run spent on its query.', labels: [] },
  mysql_replication_lag_seconds: { help: 'Replication lag by source (heartbeat|seconds_behind); NaN when unknown.', labels: ['channel', 'source'] },
  mysql_replication_max_lag_seconds: { help: 'The probe\'s max_lag: lag above it fails the probe; VigilReplicationLagHigh and the dashboards compare with it (absent without max_lag).', labels: [] },
  mysql_replica_io_running: { help: '1 when the replica IO thread is running.', labels: ['channel'] },
  mysql_replica_sql_running: { help: '1 when the replica SQL thread is running.', labels: ['channel'] },
  mysql_replica_last_errno: { help: 'Last_IO_Errno / Last_SQL_Errno of the replica (0 = none).', labels: ['channel', 'thread'] },
  mysql_replica_thread_state: { help: 'Replica thread state: 1 for the current of running|connecting|stopped per thread (io|sql), 0 for the others.', labels: ['channel', 'thread', 'state'] },
  mysql_heartbeat_last_write_timestamp_seconds: { help: 'Unix time written into the heartbeat row by the last successful write.', labels: [] },
  postgres_wal_receiver_streaming: { help: '1 while the standby\'s WAL receiver is streaming from its upstream (pg_stat_wal_receiver.status), 0 otherwise; NaN when unknown.', labels: [] },
  postgres_wal_position_bytes: { help: 'WAL position (LSN as a byte offset) the standby has received or replayed (position=received|replayed); NaN when unknown.', labels: ['position'] },
  postgres_replay_lag_bytes: { help: 'WAL the standby has received but not replayed yet, in bytes; NaN when unknown.', labels: [] },
  postgres_replay_paused: { help: '1 while WAL replay on the standby is paused or a pause is requested.', labels: [] },
  postgres_replication_lag_seconds: { help: 'Standby lag from the heartbeat row: the standby server\'s clock minus the time the primary wrote; NaN when unknown.', labels: [] },
  postgres_heartbeat_last_write_timestamp_seconds: { help: 'Unix time (the primary server\'s clock) written into the heartbeat row by the last successful write.', labels: [] },
  postgres_standbys: { help: 'WAL senders (standbys, base backups) connected to this primary, including those beyond standby_series_limit.', labels: [] },
  postgres_standby_state: { help: 'WAL sender state per standby on the primary: 1 for the current of startup|catchup|streaming|backup|stopping, 0 for the others.', labels: ['standby', 'client', 'state'] },
  postgres_standby_sync_state: { help: 'Synchronous state per standby on the primary: 1 for the current of async|potential|sync|quorum, 0 for the others.', labels: ['standby', 'client', 'sync_state'] },
  postgres_standby_lag_seconds: { help: 'write_lag, flush_lag and replay_lag of a standby as the primary measured them (lag=write|flush|replay); 0 when caught up and idle, NaN when unknown.', labels: ['standby', 'client', 'lag'] },
  postgres_standby_lag_bytes: { help: 'WAL the primary has written beyond what a standby has written, flushed or replayed (lag=write|flush|replay), in bytes.', labels: ['standby', 'client', 'lag'] },
} as const satisfies Record<string, { help: string; labels: readonly string[] }>;

export type ObservationName = keyof typeof OBSERVATION_GAUGES;

export const HEALTH_STATES = ['unknown', 'passing', 'warning', 'critical'] as const;
export type HealthState = (typeof HEALTH_STATES)[number];
/** The states a probe can change to (unknown is only where it starts). */
export const CHANGE_TARGETS = ['passing', 'warning', 'critical'] as const;

export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Fine buckets around the 50 ms lateness target, so p99 can be read off them. */
export const LATENESS_BUCKETS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5];

export type Metrics = ReturnType<typeof createMetrics>;

/** Builds every metric on a fresh registry; the agent owns the result. */
export function createMetrics(registry: Registry, build: { version: string }) {
  const r = [registry];
  collectDefaultMetrics({ register: registry });
  // prom-client exports these gauges twice, once with a _total suffix that
  // `promtool check metrics` rejects for non-counters; the unsuffixed gauges stay.
  for (const dup of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(dup);

  // The per-probe families (~26 series per probe) render their own text: see fast-family.ts.
  const probe = {
    success: new FastGauge({ name: 'vigil_probe_success', help: '1 when the last run of the probe succeeded.', labelNames: ['probe', 'type'] }),
    duration: new FastHistogram({ name: 'vigil_probe_duration_seconds', help: 'Duration of probe runs.', labelNames: ['probe', 'type'], buckets: DURATION_BUCKETS }),
    runs: new FastCounter({ name: 'vigil_probe_runs_total', help: 'Probe runs by result (success|failure).', labelNames: ['probe', 'type', 'result'] }),
    failures: new FastCounter({ name: 'vigil_probe_failures_total', help: 'Failed probe runs by reason.', labelNames: ['probe', 'type', 'reason'] }),
    consecutiveFailures: new FastGauge({ name: 'vigil_probe_consecutive_failures', help: 'Failed runs in a row.', labelNames: ['probe'] }),
    state: new FastGauge({ name: 'vigil_probe_state', help: '1 for the current health state (unknown|passing|warning|critical) of the probe, 0 for the others.', labelNames: ['probe', 'state'] }),
    lastRun: new FastGauge({ name: 'vigil_probe_last_run_timestamp_seconds', help: 'Unix time the last run finished.', labelNames: ['probe'] }),
    skipped: new FastCounter({ name: 'vigil_probe_skipped_total', help: 'Scheduled runs skipped because the previous run had not returned.', labelNames: ['probe'] }),
    lastFailureInfo: new FastGauge({ name: 'vigil_probe_last_failure_info', help: '1 with the reason of the current failure; absent while the last run succeeded.', labelNames: ['probe', 'type', 'reason'] }),
    // A probe that flaps between passing and warning never turns critical and never alerts without this.
    stateChanges: new FastCounter({ name: 'vigil_probe_state_changes_total', help: 'Health state changes of the probe by the state it changed to (passing|warning|critical).', labelNames: ['probe', 'to'] }),
  };

  const observations = Object.fromEntries(
    Object.entries(OBSERVATION_GAUGES).map(([key, def]) => [key, new FastGauge({
      name: `vigil_${key}`, help: def.help, labelNames: ['probe', ...def.labels],
    })]),
  ) as Record<ObservationName, FastGauge>;
  teachRegistry(registry, [...Object.values(probe), ...Object.values(observations)]);

  const remediation = {
    actions: new Counter({ name: 'vigil_remediation_actions_total', help: 'Remediation actions by outcome (succeeded|failed|dry_run).', labelNames: ['rule', 'action', 'outcome'], registers: r }),
    blocked: new Counter({ name: 'vigil_remediation_blocked_total', help: 'Remediation decisions that were blocked, by reason.', labelNames: ['rule', 'action', 'reason'], registers: r }),
    breakerOpen: new Gauge({ name: 'vigil_remediation_breaker_open', help: '1 while the rule\'s breaker is open (max_actions reached within window).', labelNames: ['rule'], registers: r }),
    lastAction: new Gauge({ name: 'vigil_remediation_last_action_timestamp_seconds', help: 'Unix time of the rule\'s last completed action.', labelNames: ['rule'], registers: r }),
    paused: new Gauge({ name: 'vigil_remediation_paused', help: '1 while an operator has paused all remediation.', registers: r }),
    maintenance: new Gauge({ name: 'vigil_maintenance_active', help: '1 while a maintenance window suppresses remediation.', registers: r }),
    reconciled: new Counter({ name: 'vigil_remediation_reconciled_total', help: 'Intents found without an outcome after a restart (the agent died mid-action), by what the world said (reconciled_succeeded|reconciled_failed|reconciled_unknown).', labelNames: ['rule', 'action', 'outcome'], registers: r }),
    journalProblems: new Counter({ name: 'vigil_remediation_journal_problems_total', help: 'Remediation journal problems by kind (torn_line|corrupt_line|implausible_time|orphan_outcome|write_failed|rotate_failed).', labelNames: ['kind'], registers: r }),
  };

  const agent = {
    buildInfo: new Gauge({ name: 'vigil_build_info', help: 'Always 1; labels tell the build.', labelNames: ['version', 'node_version'], registers: r }),
    reloadOk: new Gauge({ name: 'vigil_config_last_reload_successful', help: '1 when the last config load or reload succeeded.', registers: r }),
    reloadOkTime: new Gauge({ name: 'vigil_config_last_reload_success_timestamp_seconds', help: 'Unix time of the last successful config load.', registers: r }),
    lockHeld: new Gauge({ name: 'vigil_coordination_lock_held', help: '1 while this agent holds the coordination lock.', labelNames: ['key'], registers: r }),
    clusterEpoch: new Gauge({ name: 'vigil_mysql_cluster_epoch', help: 'Epoch of the cluster\'s primary record as this agent last saw it.', labelNames: ['cluster'], registers: r }),
    mysqlFenced: new Gauge({ name: 'vigil_mysql_fenced', help: '1 while this agent holds its server read_only because it may not take writes (the record names another member, or it lost the primary lease).', labelNames: ['cluster'], registers: r }),
    primaryLeaseHeld: new Gauge({ name: 'vigil_mysql_primary_lease_held', help: '1 while this agent holds the cluster\'s primary lease (its server may take writes).', labelNames: ['cluster'], registers: r }),
    errantTransactions: new Gauge({ name: 'vigil_mysql_errant_transactions', help: 'Transactions this member\'s server (a fenced old primary, or a replica that received them from it) holds that the cluster\'s primary never received; it stays out of the cluster until an operator deals with them.', labelNames: ['cluster'], registers: r }),
  };
  agent.buildInfo.set({ version: build.version, node_version: process.version }, 1);
  remediation.paused.set(0);
  remediation.maintenance.set(0);

  // Active/standby groups (src/groups/): one series per role, so a dashboard
  // sums `role="active"` across members and an alert sees zero or two.
  const groups = {
    role: new Gauge({ name: 'vigil_group_role', help: '1 for this member\'s current role in the group (starting|standby|activating|active|deactivating), 0 for the others.', labelNames: ['group', 'role'], registers: r }),
    transitions: new Counter({ name: 'vigil_group_transitions_total', help: 'Role changes of this member by new role (active|standby) and cause (elected|switchover|startup|unhealthy|lease_lost|holder_changed|preempted|on_active_failed|shutdown|removed).', labelNames: ['group', 'to', 'cause'], registers: r }),
    token: new Gauge({ name: 'vigil_group_fencing_token', help: 'Fencing token (etcd revision) of the group\'s current active term as this member last saw it; 0 when nobody is active.', labelNames: ['group'], registers: r }),
    renewalAge: new Gauge({ name: 'vigil_group_lease_renewal_age_seconds', help: 'Seconds since this member last renewed its active lease (sent time of the last successful renewal); NaN while it does not hold it.', labelNames: ['group'], registers: r }),
    eligible: new Gauge({ name: 'vigil_group_eligible', help: '1 while this member may stand for the role (healthy_when probes not critical, priority above 0, not backing off after a failed on_active).', labelNames: ['group'], registers: r }),
    paused: new Gauge({ name: 'vigil_group_paused', help: '1 while the group is paused in etcd (no elections, no step-downs for health or switchover) as this member last saw it.', labelNames: ['group'], registers: r }),
    hookRuns: new Counter({ name: 'vigil_group_hook_runs_total', help: 'Group hook runs by hook (on_active|on_standby) and outcome (succeeded|failed).', labelNames: ['group', 'hook', 'outcome'], registers: r }),
    standbyFailed: new Gauge({ name: 'vigil_group_standby_hook_failed', help: '1 while this member\'s last on_standby failed (what the active role started may still run here).', labelNames: ['group'], registers: r }),
  };

  // Fleets (src/fleet/): what this agent last read of each fleet its rules
  // name, and its own slot. Every member reports the same fleet-wide values,
  // so alerts and dashboards take max by (fleet, …).
  const fleet = {
    members: new Gauge({ name: 'vigil_fleet_members', help: 'Live members of the fleet (their lease-bound member records, this agent included) as this agent last read them.', labelNames: ['fleet'], registers: r }),
    criticalShare: new Gauge({ name: 'vigil_fleet_critical_share', help: 'Share (0-1) of the fleet\'s live members that have the probe critical, as last read.', labelNames: ['fleet', 'probe'], registers: r }),
    sharedCause: new Gauge({ name: 'vigil_fleet_shared_cause', help: '1 while the fleet stands down on the probe (at least stand_down_share of at least min_members live members have it critical), as last read; 0 otherwise.', labelNames: ['fleet', 'probe'], registers: r }),
    slotsHeld: new Gauge({ name: 'vigil_fleet_slots_held', help: 'Remediation slots of the fleet held by any member, as last read.', labelNames: ['fleet'], registers: r }),
    slotHeldSeconds: new Gauge({ name: 'vigil_fleet_slot_held_seconds', help: 'How long this agent has held a slot of the fleet (the oldest, if several rules hold one); 0 when it holds none.', labelNames: ['fleet'], registers: r }),
  };

  const scheduler = {
    lateness: new Histogram({ name: 'vigil_scheduler_lateness_seconds', help: 'How late probe runs start against their planned time (event loop delay seen by the scheduler).', buckets: LATENESS_BUCKETS, registers: r }),
  };

  // The HTTP listeners (label listener: main|admin); see docs/listeners.md.
  const listener = {
    webConfigOk: new Gauge({ name: 'vigil_web_config_last_reload_successful', help: '1 when the listener\'s web config file last (re)loaded cleanly; 0 while a changed file is refused and the last good one serves.', labelNames: ['listener'], registers: r }),
    webConfigOkTime: new Gauge({ name: 'vigil_web_config_last_reload_success_timestamp_seconds', help: 'Unix time the listener\'s web config file last loaded cleanly.', labelNames: ['listener'], registers: r }),
    connections: new Gauge({ name: 'vigil_listener_connections', help: 'Connections open on the listener now (at most its max_connections).', labelNames: ['listener'], registers: r }),
    dropped: new Counter({ name: 'vigil_listener_connections_dropped_total', help: 'Connections closed at once because the listener already had max_connections open.', labelNames: ['listener'], registers: r }),
    refused: new Counter({ name: 'vigil_listener_requests_refused_total', help: 'Requests refused before a route ran, by reason (host_not_allowed|unauthorized|auth_busy|auth_unavailable|rate_limited|cross_site|form_content_type).', labelNames: ['listener', 'reason'], registers: r }),
    tlsFailures: new Counter({ name: 'vigil_listener_tls_failures_total', help: 'TLS connections that failed: handshake errors and timeouts, and client certificates refused after the handshake.', labelNames: ['listener'], registers: r }),
  };

  return { registry, probe, observations, remediation, agent, groups, fleet, scheduler, listener };
}
