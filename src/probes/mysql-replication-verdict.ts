// Pure: replica status (+ heartbeat lag) per channel → one probe outcome and
// its series. Every channel always exports every series; a value the server
// cannot give (NULL Seconds_Behind_Master, no heartbeat row) is NaN plus a
// failure reason, never a missing series.
import { DEFAULT_CHANNEL, THREAD_STATES, type ReplicaStatus, type ThreadState } from '../mysql/replica-status.js';
import type { HeartbeatLag, HeartbeatTable } from '../mysql/heartbeat-table.js';

export { heartbeatLag, type HeartbeatLag } from '../mysql/heartbeat-table.js';
import type { FailureReason, Observation, ProbeOutcome } from './types.js';

export type LagSource = 'heartbeat' | 'seconds_behind';


export interface VerdictConfig {
  readonly maxLagSeconds?: number;
  /** Set when a heartbeat table is configured: it is then the lag that decides. */
  readonly heartbeat?: HeartbeatTable;
  readonly onPrimary: 'fail' | 'pass';
}

export interface ChannelReading {
  readonly status: ReplicaStatus;
  /** Present exactly when a heartbeat is configured. */
  readonly heartbeat?: HeartbeatLag;
}

/**
 * Which reason wins when channels (or one channel) have several problems:
 * lag beyond max_lag is the harm the operator drew a line at, so it is named
 * even while a thread is also stopped; a stopped thread explains an unknown lag.
 */
const PRIORITY: readonly FailureReason[] = ['threshold', 'replication_stopped', 'lag_unknown'];

function fmt(s: number): string {
  return s < 10 ? `${s.toFixed(2)}s` : `${s.toFixed(1)}s`;
}

function short(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > 200 ? `${t.slice(0, 199)}…` : t;
}

function threadObservations(channel: string, thread: 'io' | 'sql', state: ThreadState | undefined): Observation[] {
  return THREAD_STATES.map((s) => ({ name: 'mysql_replica_thread_state', value: s === state ? 1 : 0, labels: { channel, thread, state: s } }));
}

type SeriesInput = Pick<ReplicaStatus, 'channel' | 'io' | 'sql' | 'secondsBehind' | 'lastIoErrno' | 'lastSqlErrno'>;

export function channelObservations(s: SeriesInput, heartbeat: HeartbeatLag | undefined): Observation[] {
  const { channel } = s;
  const obs: Observation[] = [
    { name: 'mysql_replication_lag_seconds', value: s.secondsBehind ?? NaN, labels: { channel, source: 'seconds_behind' } },
    { name: 'mysql_replica_io_running', value: s.io === 'running' ? 1 : 0, labels: { channel } },
    { name: 'mysql_replica_sql_running', value: s.sql === 'running' ? 1 : 0, labels: { channel } },
    { name: 'mysql_replica_last_errno', value: s.lastIoErrno, labels: { channel, thread: 'io' } },
    { name: 'mysql_replica_last_errno', value: s.lastSqlErrno, labels: { channel, thread: 'sql' } },
    ...threadObservations(channel, 'io', s.io),
    ...threadObservations(channel, 'sql', s.sql),
  ];
  if (heartbeat) obs.push({ name: 'mysql_replication_lag_seconds', value: heartbeat.seconds ?? NaN, labels: { channel, source: 'heartbeat' } });
  return obs;
}

/**
 * The series of channels we could not read (the replica did not answer):
 * every value unknown, so nothing stale passes for a measurement.
 */
export function unknownObservations(channels: readonly string[], withHeartbeat: boolean): Observation[] {
  return channels.flatMap((channel): Observation[] => [
    { name: 'mysql_replication_lag_seconds', value: NaN, labels: { channel, source: 'seconds_behind' } },
    ...(withHeartbeat ? [{ name: 'mysql_replication_lag_seconds' as const, value: NaN, labels: { channel, source: 'heartbeat' } }] : []),
    { name: 'mysql_replica_io_running', value: NaN, labels: { channel } },
    { name: 'mysql_replica_sql_running', value: NaN, labels: { channel } },
    { name: 'mysql_replica_last_errno', value: NaN, labels: { channel, thread: 'io' } },
    { name: 'mysql_replica_last_errno', value: NaN, labels: { channel, thread: 'sql' } },
    ...threadObservations(channel, 'io', undefined),
    ...threadObservations(channel, 'sql', undefined),
  ]);
}

function judgeChannel(r: ChannelReading, cfg: VerdictConfig): { reasons: FailureReason[]; text: string } {
  const s = r.status;
  const reasons: FailureReason[] = [];
  const parts: string[] = [];
  for (const [thread, state, errno, error] of [['IO', s.io, s.lastIoErrno, s.lastIoError], ['SQL', s.sql, s.lastSqlErrno, s.lastSqlError]] as const) {
    if (state === 'running') continue;
    reasons.push('replication_stopped');
    parts.push(`${thread} thread ${state}${errno ? ` (Last_${thread}_Errno ${errno}: ${short(error)})` : ''}`);
  }
  const source: LagSource = r.heartbeat ? 'heartbeat' : 'seconds_behind';
  const lag = r.heartbeat ? r.heartbeat.seconds : s.secondsBehind;
  const sbm = s.secondsBehind === null ? 'NULL' : `${s.secondsBehind}s`;
  if (lag === null) {
    reasons.push('lag_unknown');
    parts.push(r.heartbeat ? `lag unknown: ${r.heartbeat.why ?? 'no heartbeat'}` : 'lag unknown: Seconds_Behind_Master is NULL');
  } else if (cfg.maxLagSeconds !== undefined && lag > cfg.maxLagSeconds) {
    reasons.push('threshold');
    parts.push(`lag ${fmt(lag)} (${source}) exceeds max_lag ${fmt(cfg.maxLagSeconds)}`);
  } else {
    parts.push(`lag ${fmt(lag)} (${source})`);
  }
  if (r.heartbeat) parts.push(`Seconds_Behind_Master ${sbm}`);
  if (reasons.length === 0) parts.unshift('IO and SQL threads running');
  return { reasons, text: `${s.channel}: ${parts.join(', ')}` };
}

export function evaluateReplication(readings: readonly ChannelReading[], cfg: VerdictConfig): ProbeOutcome {
  if (readings.length === 0) {
    if (cfg.onPrimary === 'pass') return { ok: true, message: 'no replica status: this server is not a replica (on_primary: pass)', observations: [] };
    return {
      ok: false, reason: 'replication_stopped',
      message: 'no replica status: this server is not a replica (on_primary: fail)',
      // "Not replicating at all" as the default channel's series: threads stopped, lag unknown.
      observations: channelObservations(
        { channel: DEFAULT_CHANNEL, io: 'stopped', sql: 'stopped', secondsBehind: null, lastIoErrno: 0, lastSqlErrno: 0 },
        cfg.heartbeat ? { seconds: null } : undefined,
      ),
    };
  }
  const judged = readings.map((r) => judgeChannel(r, cfg));
  const observations = readings.flatMap((r) => channelObservations(r.status, r.heartbeat));
  const all = judged.flatMap((j) => j.reasons);
  const reason = PRIORITY.find((p) => all.includes(p));
  const message = judged.map((j) => j.text).join('; ');
  return reason ? { ok: false, reason, message, observations } : { ok: true, message, observations };
}
