// The pure half of postgres_replication: standby readings → reason, message
// and series (never a missing series), the primary's verdict, and the
// bounded labels of the primary's view of its standbys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyPostgresError } from '../../src/postgres/errors.js';
import { parseReplicationRow, readServerReplication, type ReplicationRow, type StandbyStatus } from '../../src/postgres/standby-status.js';
import type { Walsender } from '../../src/postgres/walsenders.js';
import { evaluatePrimary, evaluateStandby, unknownSeriesLike, type VerdictConfig } from '../../src/probes/postgres-replication-verdict.js';
import { cleanLabel, nameStandbys, standbysView } from '../../src/probes/postgres-standbys.js';
import type { ProbeOutcome } from '../../src/probes/types.js';

const healthy: StandbyStatus = {
  receiver: { pid: 10, status: 'streaming', senderHost: '10.0.0.1', senderPort: 5432 },
  receivedLsn: '0/3000100', replayedLsn: '0/3000100', receivedBytes: 50331904, replayedBytes: 50331904, replayLagBytes: 0, paused: false,
};
const cfg: VerdictConfig = { heartbeat: true, maxLagSeconds: 10, maxLagBytes: 1024 * 1024, onPrimary: 'fail' };
const value = (o: ProbeOutcome, name: string, labels?: Record<string, string>) =>
  o.observations?.find((x) => x.name === name && (!labels || JSON.stringify(x.labels) === JSON.stringify(labels)))?.value;
const names = (o: ProbeOutcome) => (o.observations ?? []).map((x) => `${x.name}${x.labels ? JSON.stringify(x.labels) : ''}`);

test('a streaming standby with a fresh heartbeat passes and exports every series', () => {
  const o = evaluateStandby({ status: healthy, heartbeat: { seconds: 0.4 } }, cfg);
  assert.equal(o.ok, true, o.message);
  assert.equal(o.message, 'standby: WAL receiver streaming from 10.0.0.1:5432, received 0/3000100, replayed 0/3000100, 0 B to replay, heartbeat lag 0.40s');
  assert.equal(o.observationsComplete, true);
  assert.deepEqual(names(o), ['postgres_wal_receiver_streaming', 'postgres_wal_position_bytes{"position":"received"}',
    'postgres_wal_position_bytes{"position":"replayed"}', 'postgres_replay_lag_bytes', 'postgres_replay_paused', 'postgres_replication_lag_seconds']);
  assert.equal(value(o, 'postgres_replication_lag_seconds'), 0.4);
  const noHb = evaluateStandby({ status: healthy }, { ...cfg, heartbeat: false, maxLagSeconds: undefined });
  assert.equal(value(noHb, 'postgres_replication_lag_seconds'), undefined, 'no heartbeat configured: no heartbeat series');
});

test('each failure has its reason, and the series stay with NaN for what is unknown', () => {
  const gone = evaluateStandby({ status: { ...healthy, receiver: undefined }, heartbeat: { seconds: 4 } }, cfg);
  assert.equal(gone.reason, 'replication_stopped');
  assert.match(gone.message ?? '', /no WAL receiver running/);
  assert.equal(value(gone, 'postgres_wal_receiver_streaming'), 0);
  assert.equal(value(gone, 'postgres_replication_lag_seconds'), 4, 'the heartbeat lag keeps telling how far behind');

  const waiting = evaluateStandby({ status: { ...healthy, receiver: { ...healthy.receiver!, status: 'waiting' } }, heartbeat: { seconds: 1 } }, cfg);
  assert.equal(waiting.reason, 'replication_stopped');
  assert.match(waiting.message ?? '', /WAL receiver waiting from 10\.0\.0\.1:5432, not streaming/);

  const unknown = evaluateStandby({ status: healthy, heartbeat: { seconds: null, why: 'no heartbeat row in vigil.heartbeat' } }, cfg);
  assert.equal(unknown.reason, 'lag_unknown');
  assert.ok(Number.isNaN(value(unknown, 'postgres_replication_lag_seconds')), 'NaN, not a missing series');

  const neverReceived = evaluateStandby({ status: { ...healthy, receivedLsn: null, receivedBytes: null, replayLagBytes: null }, heartbeat: { seconds: 1 } }, cfg);
  assert.equal(neverReceived.reason, 'lag_unknown');
  assert.ok(Number.isNaN(value(neverReceived, 'postgres_replay_lag_bytes')));

  const hidden = evaluateStandby({ status: { ...healthy, receiver: { pid: 10, status: null, senderHost: null, senderPort: null } }, heartbeat: { seconds: 1 } }, cfg);
  assert.equal(hidden.reason, 'auth');
  assert.match(hidden.message ?? '', /GRANT pg_monitor/);
  assert.ok(Number.isNaN(value(hidden, 'postgres_wal_receiver_streaming')));
});

test('threshold: seconds past max_lag or bytes past max_lag_bytes, named before a stopped receiver', () => {
  const slow = evaluateStandby({ status: healthy, heartbeat: { seconds: 12.5 } }, cfg);
  assert.equal(slow.reason, 'threshold');
  assert.match(slow.message ?? '', /heartbeat lag 12\.5s exceeds max_lag 10\.0s/);
  const bytes = evaluateStandby({ status: { ...healthy, replayLagBytes: 3 * 1024 * 1024, paused: true }, heartbeat: { seconds: 1 } }, cfg);
  assert.equal(bytes.reason, 'threshold');
  assert.match(bytes.message ?? '', /3\.0 MiB to replay exceeds max_lag_bytes 1\.0 MiB, replay paused/);
  assert.equal(value(bytes, 'postgres_replay_paused'), 1);
  const deadAndLate = evaluateStandby({ status: { ...healthy, receiver: undefined }, heartbeat: { seconds: 60 } }, cfg);
  assert.equal(deadAndLate.reason, 'threshold');
});

test('parseReplicationRow: a primary, a standby without receiver, replay ahead of receive', () => {
  const base: ReplicationRow = { in_recovery: true, pid: null, status: null, sender_host: null, sender_port: null,
    received_lsn: '0/2000000', replayed_lsn: '0/2000100', received_bytes: 33554432, replayed_bytes: 33554688, paused: false };
  assert.deepEqual(parseReplicationRow({ ...base, in_recovery: false }), { role: 'primary' });
  const s = parseReplicationRow(base);
  assert.ok(s.role === 'standby');
  assert.equal(s.status.receiver, undefined);
  assert.equal(s.status.replayLagBytes, 0, 'replay ahead of the receiver (local WAL replayed first) is no lag');
});

const sender = (over: Partial<Walsender>): Walsender => ({
  pid: 100, applicationName: 'walreceiver', clientAddr: '10.0.0.2', state: 'streaming', syncState: 'async', backendStart: 1000,
  lagSeconds: { write: 0.001, flush: 0.002, replay: 0.003 }, lagBytes: { write: 0, flush: 0, replay: 0 }, ...over,
});

test('standby labels: cleaned, unique by age, capped, NULL lags 0 only when caught up', () => {
  assert.equal(cleanLabel('db 2/äx"}', 'x'), 'db_2__x__');
  assert.equal(cleanLabel('', 'unnamed'), 'unnamed');
  assert.equal(cleanLabel('a'.repeat(200), 'x').length, 63);
  const named = nameStandbys([
    sender({ pid: 3, backendStart: 3000 }), sender({ pid: 1, backendStart: 1000 }), sender({ pid: 2, backendStart: 2000 }),
    sender({ pid: 4, applicationName: 'db2', clientAddr: null }),
  ]);
  assert.deepEqual(named.map((n) => `${n.standby}@${n.client}:${n.sender.pid}`),
    ['db2@local:4', 'walreceiver@10.0.0.2:1', 'walreceiver~2@10.0.0.2:2', 'walreceiver~3@10.0.0.2:3']);

  const idle = sender({ lagSeconds: { write: null, flush: null, replay: null } });
  const behind = sender({ applicationName: 'behind', lagSeconds: { write: null, flush: null, replay: null }, lagBytes: { write: 0, flush: 0, replay: 4096 } });
  const view = standbysView([idle, behind], 16);
  const lag = (standby: string, kind: string) => view.observations.find((o) => o.name === 'postgres_standby_lag_seconds' && o.labels?.standby === standby && o.labels.lag === kind)?.value;
  assert.equal(lag('walreceiver', 'replay'), 0, 'caught up and idle: PostgreSQL shows NULL, which is no lag');
  assert.ok(Number.isNaN(lag('behind', 'replay')), 'NULL while bytes are outstanding: unknown, not 0');
  assert.equal(lag('behind', 'write'), 0);

  const many = Array.from({ length: 20 }, (_, i) => sender({ pid: i, applicationName: `s${String(i).padStart(2, '0')}` }));
  const capped = standbysView(many, 3);
  assert.equal(capped.observations.find((o) => o.name === 'postgres_standbys')?.value, 20);
  assert.deepEqual([...new Set(capped.observations.filter((o) => o.labels?.standby).map((o) => o.labels?.standby))], ['s00', 's01', 's02']);
  assert.match(capped.text, /17 more without series \(standby_series_limit 3\)$/);
  assert.equal(capped.observations.length, 1 + 3 * 15, 'per standby: 5 states, 4 sync states, 3 lags in seconds, 3 in bytes');
});

test('on a primary: on_primary decides; hidden details are auth; the standbys are exported either way', () => {
  const view = standbysView([sender({})], 16);
  const pass = evaluatePrimary(view, false, { ...cfg, onPrimary: 'pass' });
  assert.equal(pass.ok, true);
  assert.match(pass.message ?? '', /^primary \(on_primary: pass\); 1 standby: walreceiver@10\.0\.0\.2 streaming\/async replay 0 B behind$/);
  assert.equal(value(pass, 'postgres_wal_receiver_streaming'), undefined, 'no standby series on a primary that may be one');
  assert.equal(value(pass, 'postgres_standby_state', { standby: 'walreceiver', client: '10.0.0.2', state: 'streaming' }), 1);
  const failing = evaluatePrimary(view, false, cfg);
  assert.equal(failing.reason, 'replication_stopped');
  assert.equal(value(failing, 'postgres_wal_receiver_streaming'), 0);
  assert.ok(Number.isNaN(value(failing, 'postgres_replication_lag_seconds')));
  assert.equal(evaluatePrimary(view, true, { ...cfg, onPrimary: 'pass' }).reason, 'auth');
});

test('unknownSeriesLike: the last run\'s series, values unknown and states 0', () => {
  const view = standbysView([sender({})], 16);
  const unknown = unknownSeriesLike(view.observations);
  assert.equal(unknown.length, view.observations.length);
  for (const o of unknown) {
    if (o.name === 'postgres_standby_state' || o.name === 'postgres_standby_sync_state') assert.equal(o.value, 0);
    else assert.ok(Number.isNaN(o.value), o.name);
  }
});

test('a server that answers the status query with no row: protocol, VIGIL_E_PG_UNEXPECTED_ANSWER', async () => {
  const link = { query: async () => ({ rows: [], rowCount: 0 }) };
  const err = await readServerReplication(link).then(() => undefined, (e: unknown) => e);
  assert.deepEqual(classifyPostgresError(err, 'query', false), { reason: 'protocol',
    message: 'VIGIL_E_PG_UNEXPECTED_ANSWER: the replication status query returned no row (every PostgreSQL 11 or later answers it with one row)' });
});
