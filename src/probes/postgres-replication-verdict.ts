// Pure: what postgres_replication read → one probe outcome and its series.
// A standby always exports every one of its series; a value it cannot give
// (no heartbeat row, an LSN never received) is NaN plus a failure reason,
// never a missing series. Every outcome reports the probe's whole set
// (observationsComplete), so a standby that leaves the primary's view loses
// its series at once.
import type { HeartbeatLag } from '../postgres/heartbeat-table.js';
import type { StandbyStatus } from '../postgres/standby-status.js';
import { fmtBytes, type StandbysView } from './postgres-standbys.js';
import type { FailureReason, Observation, ProbeOutcome } from './types.js';

export interface VerdictConfig {
  readonly maxLagSeconds?: number;
  readonly maxLagBytes?: number;
  /** A heartbeat table is configured: its lag is exported and decides max_lag. */
  readonly heartbeat: boolean;
  readonly onPrimary: 'fail' | 'pass';
}

export interface StandbyReading {
  readonly status: StandbyStatus;
  /** Present exactly when a heartbeat is configured. */
  readonly heartbeat?: HeartbeatLag;
}

/**
 * Which reason wins: a role that may not see the receiver makes every other
 * judgement blind; past that, as for MySQL, lag beyond the operator's line
 * is named even while the receiver is also down, and a stopped receiver
 * explains an unknown lag.
 */
const PRIORITY: readonly FailureReason[] = ['auth', 'threshold', 'replication_stopped', 'lag_unknown'];

const NEEDS_STATS = 'GRANT pg_monitor (or pg_read_all_stats) to the probe\'s role';

interface SeriesValues {
  readonly streaming: number;
  readonly receivedBytes: number;
  readonly replayedBytes: number;
  readonly replayLagBytes: number;
  readonly paused: number;
  readonly heartbeatSeconds: number;
}

function series(v: SeriesValues, withHeartbeat: boolean): Observation[] {
  const obs: Observation[] = [
    { name: 'postgres_wal_receiver_streaming', value: v.streaming },
    { name: 'postgres_wal_position_bytes', value: v.receivedBytes, labels: { position: 'received' } },
    { name: 'postgres_wal_position_bytes', value: v.replayedBytes, labels: { position: 'replayed' } },
    { name: 'postgres_replay_lag_bytes', value: v.replayLagBytes },
    { name: 'postgres_replay_paused', value: v.paused },
  ];
  if (withHeartbeat) obs.push({ name: 'postgres_replication_lag_seconds', value: v.heartbeatSeconds });
  return obs;
}

/** The standby series of a server that could not be read: every value unknown. */
export function unknownStandbySeries(withHeartbeat: boolean): Observation[] {
  return series({ streaming: NaN, receivedBytes: NaN, replayedBytes: NaN, replayLagBytes: NaN, paused: NaN, heartbeatSeconds: NaN }, withHeartbeat);
}

/**
 * The series of a previous run turned unknown: lags and positions NaN, enum
 * series (1 for the current state) all 0, so nothing stale passes for a
 * measurement while the server cannot be read.
 */
export function unknownSeriesLike(previous: readonly Observation[]): Observation[] {
  return previous.map((o) => ({ ...o, value: o.name === 'postgres_standby_state' || o.name === 'postgres_standby_sync_state' ? 0 : NaN }));
}

function fmtSeconds(s: number): string {
  return s < 10 ? `${s.toFixed(2)}s` : `${s.toFixed(1)}s`;
}

const num = (v: number | null | undefined) => v ?? NaN;

export function evaluateStandby(r: StandbyReading, cfg: VerdictConfig): ProbeOutcome {
  const { status: s, heartbeat } = r;
  const reasons: FailureReason[] = [];
  const parts: string[] = [];
  const rx = s.receiver;
  const from = rx?.senderHost ? ` from ${rx.senderHost}${rx.senderPort ? `:${rx.senderPort}` : ''}` : '';
  let streaming: number;
  if (rx === undefined) {
    streaming = 0;
    reasons.push('replication_stopped');
    parts.push('no WAL receiver running (the upstream is unreachable or refuses it: see the standby\'s log)');
  } else if (rx.status === null) {
    streaming = NaN;
    reasons.push('auth');
    parts.push(`WAL receiver (pid ${rx.pid}) hidden from this role: ${NEEDS_STATS}`);
  } else {
    streaming = rx.status === 'streaming' ? 1 : 0;
    if (streaming === 1) parts.push(`WAL receiver streaming${from}`);
    else { reasons.push('replication_stopped'); parts.push(`WAL receiver ${rx.status}${from}, not streaming`); }
  }
  if (s.replayLagBytes === null) {
    reasons.push('lag_unknown');
    parts.push(`byte lag unknown (received ${s.receivedLsn ?? 'nothing yet'}, replayed ${s.replayedLsn ?? 'nothing yet'})`);
  } else {
    const over = cfg.maxLagBytes !== undefined && s.replayLagBytes > cfg.maxLagBytes;
    if (over) reasons.push('threshold');
    parts.push(`received ${s.receivedLsn}, replayed ${s.replayedLsn}, ${fmtBytes(s.replayLagBytes)} to replay`
      + (over ? ` exceeds max_lag_bytes ${fmtBytes(cfg.maxLagBytes as number)}` : ''));
  }
  if (s.paused) parts.push('replay paused (pg_wal_replay_resume() resumes it)');
  if (heartbeat) {
    if (heartbeat.seconds === null) {
      reasons.push('lag_unknown');
      parts.push(`heartbeat lag unknown: ${heartbeat.why ?? 'no heartbeat'}`);
    } else if (cfg.maxLagSeconds !== undefined && heartbeat.seconds > cfg.maxLagSeconds) {
      reasons.push('threshold');
      parts.push(`heartbeat lag ${fmtSeconds(heartbeat.seconds)} exceeds max_lag ${fmtSeconds(cfg.maxLagSeconds)}`);
    } else {
      parts.push(`heartbeat lag ${fmtSeconds(heartbeat.seconds)}`);
    }
  }
  const observations = series({
    streaming, receivedBytes: num(s.receivedBytes), replayedBytes: num(s.replayedBytes), replayLagBytes: num(s.replayLagBytes),
    paused: s.paused ? 1 : 0, heartbeatSeconds: num(heartbeat?.seconds),
  }, cfg.heartbeat);
  const reason = PRIORITY.find((p) => reasons.includes(p));
  const message = `standby: ${parts.join(', ')}`;
  return reason ? { ok: false, reason, message, observations, observationsComplete: true } : { ok: true, message, observations, observationsComplete: true };
}

/**
 * A server not in recovery. With on_primary: fail the standby series say "not
 * replicating at all" (receiver 0, lags unknown), so the stopped-replication
 * alert fires; with pass there are none. Either way the primary's view of
 * its standbys is exported.
 */
export function evaluatePrimary(view: StandbysView, hidden: boolean, cfg: VerdictConfig): ProbeOutcome {
  const notStandby = cfg.onPrimary === 'fail'
    ? series({ streaming: 0, receivedBytes: NaN, replayedBytes: NaN, replayLagBytes: NaN, paused: 0, heartbeatSeconds: NaN }, cfg.heartbeat)
    : [];
  const observations = [...notStandby, ...view.observations];
  const base = { observations, observationsComplete: true as const };
  if (cfg.onPrimary === 'fail') {
    return { ...base, ok: false, reason: 'replication_stopped', message: `not in recovery: this server is a primary (on_primary: fail); ${view.text}` };
  }
  if (hidden) return { ...base, ok: false, reason: 'auth', message: `primary: pg_stat_replication details are hidden from this role: ${NEEDS_STATS}` };
  return { ...base, ok: true, message: `primary (on_primary: pass); ${view.text}` };
}
