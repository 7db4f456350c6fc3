// What the member loop does to the local server, for each combination of
// record and server state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { converge } from '../../src/failover/converge.js';
import type { ServerState } from '../../src/mysql/server-state.js';
import type { PrimaryRecord } from '../../src/coordination/cluster-records.js';
import type { ReplicaStatus } from '../../src/probes/mysql-replica-status.js';

const replicaOf = (port: number): ReplicaStatus => ({
  channel: 'default', channelName: '', flavor: 'mariadb', io: 'running', sql: 'running', secondsBehind: 0,
  lastIoErrno: 0, lastIoError: '', lastSqlErrno: 0, lastSqlError: '', sourceHost: '127.0.0.1', sourcePort: port,
  sourceServerId: 1, sourceUuid: null, sourceLogFile: '', readSourceLogPos: 0, relaySourceLogFile: '', execSourceLogPos: 0,
  sqlDelaySeconds: 0, gtid: { mode: 'Slave_Pos', ioPos: '0-1-5', slavePos: '0-1-5', retrievedSet: null, executedSet: null },
});
const state = (readOnly: boolean, replica?: ReplicaStatus): ServerState => ({
  flavor: 'mariadb', version: '10.11', serverId: 2, readOnly, superReadOnly: null, replica, applied: '0-1-5', received: '0-1-5', binlog: '0-1-5',
});
const record = (name: string, port: number, epoch = 3): PrimaryRecord => ({
  name, host: '127.0.0.1', port, server_id: 1, epoch, promoted_at: '', promoted_by: '', previous: null,
});

test('no record: a writable non-replica bootstraps, anything else waits', () => {
  assert.equal(converge({ me: 'db1', state: state(false), record: undefined, bootstrap: true }).kind, 'bootstrap');
  assert.equal(converge({ me: 'db1', state: state(false), record: undefined, bootstrap: false }).kind, 'none');
  assert.equal(converge({ me: 'db2', state: state(true, replicaOf(3306)), record: undefined, bootstrap: true }).kind, 'none');
  assert.equal(converge({ me: 'db2', state: state(false, replicaOf(3306)), record: undefined, bootstrap: true }).kind, 'none');
});

test('the record names another member: fence before anything else, then follow', () => {
  const rec = record('db3', 3308);
  const fence = converge({ me: 'db1', state: state(false), record: rec, bootstrap: true });
  assert.equal(fence.kind, 'fence');
  assert.match(fence.detail, /names db3 \(127\.0\.0\.1:3308\) at epoch 3/);
  assert.equal(converge({ me: 'db2', state: state(false, replicaOf(3306)), record: rec, bootstrap: true }).kind, 'fence', 'a writable replica too');
  const follow = converge({ me: 'db2', state: state(true, replicaOf(3306)), record: rec, bootstrap: true });
  assert.equal(follow.kind, 'follow');
  assert.deepEqual(follow.kind === 'follow' && follow.source, { host: '127.0.0.1', port: 3308 });
  assert.equal(converge({ me: 'db2', state: state(true, replicaOf(3308)), record: rec, bootstrap: true }).kind, 'none');
  assert.match(converge({ me: 'db1', state: state(true), record: rec, bootstrap: true }).detail, /fenced: read_only, not a replica; rejoin/);
});

test('the record names us: nothing to do, even read-only (an operator decides)', () => {
  const rec = record('db1', 3306);
  assert.equal(converge({ me: 'db1', state: state(false), record: rec, bootstrap: true }).kind, 'none');
  assert.match(converge({ me: 'db1', state: state(true), record: rec, bootstrap: true }).detail, /read_only; left as it is/);
  assert.equal(converge({ me: 'db1', state: undefined, record: rec, bootstrap: true }).kind, 'none');
});
