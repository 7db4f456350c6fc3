// The pure decision of mysql_replication: which reason wins, that every
// channel always has every series (NaN, never missing), how the heartbeat
// row is chosen, and the pt-heartbeat ts format.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseReplicaStatusRow, type ReplicaStatus } from '../../src/mysql/replica-status.js';
import { evaluateReplication, heartbeatLag, unknownObservations, type ChannelReading } from '../../src/probes/mysql-replication-verdict.js';
import { formatHeartbeatTs, parseHeartbeatTs } from '../../src/mysql/heartbeat-table.js';
import type { Observation } from '../../src/probes/types.js';

const table = { database: 'vigil', table: 'heartbeat' };

function status(over: Record<string, unknown> = {}): ReplicaStatus {
  return parseReplicaStatusRow({
    Connection_name: '', Slave_IO_Running: 'Yes', Slave_SQL_Running: 'Yes', Seconds_Behind_Master: 0,
    Last_IO_Errno: 0, Last_IO_Error: '', Last_SQL_Errno: 0, Last_SQL_Error: '', Master_Server_Id: 1,
    Using_Gtid: 'Slave_Pos', Gtid_IO_Pos: '0-1-5', ...over,
  });
}

function value(obs: readonly Observation[] | undefined, name: string, labels: Record<string, string>): number | undefined {
  const o = (obs ?? []).find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
  return o?.value;
}

const SERIES_PER_CHANNEL_WITH_HEARTBEAT = 2 /* lag x2 */ + 2 /* running */ + 2 /* errno */ + 6 /* thread states */;

describe('evaluateReplication', () => {
  it('healthy: ok, both lag sources exported, one state per thread', () => {
    const out = evaluateReplication([{ status: status(), heartbeat: { seconds: 0.4 } }], { heartbeat: table, maxLagSeconds: 5, onPrimary: 'fail' });
    assert.equal(out.ok, true, out.message);
    assert.equal(out.observations?.length, SERIES_PER_CHANNEL_WITH_HEARTBEAT);
    assert.equal(value(out.observations, 'mysql_replication_lag_seconds', { channel: 'default', source: 'heartbeat' }), 0.4);
    assert.equal(value(out.observations, 'mysql_replication_lag_seconds', { channel: 'default', source: 'seconds_behind' }), 0);
    assert.equal(value(out.observations, 'mysql_replica_thread_state', { channel: 'default', thread: 'io', state: 'running' }), 1);
    assert.equal(value(out.observations, 'mysql_replica_thread_state', { channel: 'default', thread: 'io', state: 'connecting' }), 0);
    assert.match(out.message ?? '', /default: IO and SQL threads running, lag 0.40s \(heartbeat\), Seconds_Behind_Master 0s/);
  });

  it('SQL thread stopped and heartbeat lag past max_lag: threshold wins, SBM is NaN but present', () => {
    const out = evaluateReplication([{ status: status({ Slave_SQL_Running: 'No', Seconds_Behind_Master: null }), heartbeat: { seconds: 12.5 } }],
      { heartbeat: table, maxLagSeconds: 5, onPrimary: 'fail' });
    assert.equal(out.ok, false);
    assert.equal(out.reason, 'threshold');
    assert.match(out.message ?? '', /SQL thread stopped.*lag 12\.5s \(heartbeat\) exceeds max_lag 5\.00s.*Seconds_Behind_Master NULL/);
    assert.ok(Number.isNaN(value(out.observations, 'mysql_replication_lag_seconds', { channel: 'default', source: 'seconds_behind' })));
    assert.equal(value(out.observations, 'mysql_replica_sql_running', { channel: 'default' }), 0);
    assert.equal(value(out.observations, 'mysql_replica_thread_state', { channel: 'default', thread: 'sql', state: 'stopped' }), 1);
  });

  it('SQL thread stopped, lag from Seconds_Behind_Master (NULL): replication_stopped, not lag_unknown', () => {
    const out = evaluateReplication([{ status: status({ Slave_SQL_Running: 'No', Seconds_Behind_Master: null, Last_SQL_Errno: 1062, Last_SQL_Error: 'Duplicate entry' }) }],
      { maxLagSeconds: 5, onPrimary: 'fail' });
    assert.equal(out.reason, 'replication_stopped');
    assert.match(out.message ?? '', /SQL thread stopped \(Last_SQL_Errno 1062: Duplicate entry\)/);
    assert.equal(value(out.observations, 'mysql_replica_last_errno', { channel: 'default', thread: 'sql' }), 1062);
  });

  it('threads running but Seconds_Behind_Master NULL: lag_unknown', () => {
    const out = evaluateReplication([{ status: status({ Seconds_Behind_Master: null }) }], { onPrimary: 'fail' });
    assert.equal(out.reason, 'lag_unknown');
    assert.ok(Number.isNaN(value(out.observations, 'mysql_replication_lag_seconds', { channel: 'default', source: 'seconds_behind' })));
  });

  it('lag within max_lag and no max_lag at all are both fine', () => {
    assert.equal(evaluateReplication([{ status: status({ Seconds_Behind_Master: 4 }) }], { maxLagSeconds: 5, onPrimary: 'fail' }).ok, true);
    assert.equal(evaluateReplication([{ status: status({ Seconds_Behind_Master: 4000 }) }], { onPrimary: 'fail' }).ok, true);
    assert.equal(evaluateReplication([{ status: status({ Seconds_Behind_Master: 6 }) }], { maxLagSeconds: 5, onPrimary: 'fail' }).reason, 'threshold');
  });

  it('multi-source: each channel judged and reported; one broken channel fails the probe', () => {
    const out = evaluateReplication([
      { status: status() },
      { status: status({ Connection_name: 'eu', Slave_IO_Running: 'Connecting', Seconds_Behind_Master: null, Last_IO_Errno: 2003, Last_IO_Error: "Can't connect" }) },
    ], { onPrimary: 'fail' });
    assert.equal(out.reason, 'replication_stopped');
    assert.match(out.message ?? '', /^default: IO and SQL threads running.*; eu: IO thread connecting \(Last_IO_Errno 2003: Can't connect\)/);
    assert.equal(value(out.observations, 'mysql_replica_io_running', { channel: 'default' }), 1);
    assert.equal(value(out.observations, 'mysql_replica_io_running', { channel: 'eu' }), 0);
    assert.equal(value(out.observations, 'mysql_replica_thread_state', { channel: 'eu', thread: 'io', state: 'connecting' }), 1);
  });

  it('no replica status: on_primary decides; fail still exports the default channel', () => {
    const pass = evaluateReplication([], { onPrimary: 'pass' });
    assert.equal(pass.ok, true);
    const failed = evaluateReplication([], { onPrimary: 'fail', heartbeat: table });
    assert.equal(failed.reason, 'replication_stopped');
    assert.match(failed.message ?? '', /not a replica/);
    assert.ok(Number.isNaN(value(failed.observations, 'mysql_replication_lag_seconds', { channel: 'default', source: 'heartbeat' })));
    assert.equal(value(failed.observations, 'mysql_replica_io_running', { channel: 'default' }), 0);
  });

  it('an unreadable replica turns every known series NaN (nothing stale passes for a measurement)', () => {
    const obs = unknownObservations(['default', 'eu'], true);
    assert.equal(obs.length, 2 * SERIES_PER_CHANNEL_WITH_HEARTBEAT);
    assert.ok(obs.filter((o) => o.name !== 'mysql_replica_thread_state').every((o) => Number.isNaN(o.value)));
    assert.ok(obs.filter((o) => o.name === 'mysql_replica_thread_state').every((o) => o.value === 0));
  });
});

describe('heartbeatLag', () => {
  const snap = { now: 1000, rows: new Map<number, number | undefined>([[1, 997.5], [2, undefined], [9, 1000.2]]) };

  it('uses the channel\'s source server_id, or the configured one', () => {
    assert.deepEqual(heartbeatLag(status(), snap, table), { seconds: 2.5 });
    assert.equal(heartbeatLag(status(), snap, table, 9).seconds, 0, 'writer clock ahead: clamped to 0, never negative');
  });

  it('explains why the lag is unknown', () => {
    assert.match(heartbeatLag(status({ Master_Server_Id: 3 }), snap, table).why ?? '', /no heartbeat row for server_id 3 in vigil.heartbeat/);
    assert.match(heartbeatLag(status({ Master_Server_Id: 2 }), snap, table).why ?? '', /unreadable ts/);
    assert.match(heartbeatLag(status({ Master_Server_Id: 0 }), snap, table).why ?? '', /set heartbeat.server_id/);
  });
});

describe('pt-heartbeat ts format', () => {
  it('writes what pt-heartbeat --utc writes and reads it back exactly', () => {
    const ms = Date.UTC(2026, 10, 22, 13, 18, 41, 123);
    assert.equal(formatHeartbeatTs(ms), '2026-11-22T13:18:41.123000');
    assert.equal(parseHeartbeatTs(formatHeartbeatTs(ms)), ms / 1000);
  });

  it('reads microseconds, no fraction, and a DATETIME-style space separator as UTC', () => {
    assert.equal(parseHeartbeatTs('2026-11-22T13:18:41.123456'), Date.UTC(2026, 10, 22, 13, 18, 41) / 1000 + 0.123456);
    assert.equal(parseHeartbeatTs('2026-11-22T13:18:41'), Date.UTC(2026, 10, 22, 13, 18, 41) / 1000);
    assert.equal(parseHeartbeatTs('2026-11-22 13:18:41.5'), Date.UTC(2026, 10, 22, 13, 18, 41) / 1000 + 0.5);
    assert.equal(parseHeartbeatTs('yesterday'), undefined);
  });
});
