// What the member loop does to the local server, for each combination of
// record and server state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { converge } from '../../src/failover/converge.js';
import type { ServerState } from '../../src/mysql/server-state.js';
import type { PrimaryRecord } from '../../src/coordination/cluster-records.js';
import type { ReplicaStatus } from '../../src/mysql/replica-status.js';

const replicaOf = (port: number): ReplicaStatus => ({
  channel: 'default', channelName: '', flavor: 'mariadb', io: 'running', sql: 'running', secondsBehind: 0,
  lastIoErrno: 0, lastIoError: '', lastSqlErrno: 0, lastSqlError: '', sourceHost: '127.0.0.1', sourcePort: port,
  sourceServerId: 1, sourceUuid: null, sourceLogFile: '', readSourceLogPos: 0, relaySourceLogFile: '', execSourceLogPos: 0,
  sqlDelaySeconds: 0, gtid: { mode: 'Slave_Pos', ioPos: '0-1-5', slavePos: '0-1-5', retrievedSet: null, executedSet: null },
});
const state = (readOnly: boolean, replica?: ReplicaStatus): ServerState => ({
  flavor: 'mariadb', version: '10.11', serverId: 2, readOnly, superReadOnly: null, replica, applied: '0-1-5', received: '0-1-5', binlog: '0-1-5',
  netTimeoutSeconds: 4,
});
const record = (name: string, port: number, epoch = 3, fork?: string): PrimaryRecord => ({
  name, host: '127.0.0.1', port, server_id: 1, epoch, promoted_at: '', promoted_by: '', previous: null, ...(fork !== undefined ? { fork_gtid: fork } : {}),
});
const base = { bootstrap: true, canRejoin: true, netTimeoutSeconds: 4 };

test('no record: a writable non-replica bootstraps, anything else waits', () => {
  assert.equal(converge({ me: 'db1', state: state(false), record: undefined, ...base }).kind, 'bootstrap');
  assert.equal(converge({ me: 'db1', state: state(false), record: undefined, ...base, bootstrap: false }).kind, 'none');
  assert.equal(converge({ me: 'db2', state: state(true, replicaOf(3306)), record: undefined, ...base }).kind, 'none');
  assert.equal(converge({ me: 'db2', state: state(false, replicaOf(3306)), record: undefined, ...base }).kind, 'none');
});

test('the record names another member: fence before anything else, then follow', () => {
  const rec = record('db3', 3308);
  const fence = converge({ me: 'db1', state: state(false), record: rec, ...base });
  assert.equal(fence.kind, 'fence');
  assert.match(fence.detail, /names db3 \(127\.0\.0\.1:3308\) at epoch 3/);
  assert.equal(converge({ me: 'db2', state: state(false, replicaOf(3306)), record: rec, ...base }).kind, 'fence', 'a writable replica too');
  const follow = converge({ me: 'db2', state: state(true, replicaOf(3306)), record: rec, ...base });
  assert.equal(follow.kind, 'follow');
  assert.deepEqual(follow.kind === 'follow' && follow.source, { host: '127.0.0.1', port: 3308 });
  assert.equal(converge({ me: 'db2', state: state(true, replicaOf(3308)), record: rec, ...base }).kind, 'none');
  assert.match(converge({ me: 'db1', state: state(true), record: rec, ...base }).detail, /fenced: read_only, not a replica; the record \(epoch 3\) has no fork position/);
});

test('a fenced old primary rejoins only when the new primary has every transaction it holds', () => {
  const old = (binlog: string): ServerState => ({ ...state(true), binlog });
  const rejoin = converge({ me: 'db1', state: old('0-1-5'), record: record('db3', 3308, 3, '0-1-5'), ...base });
  assert.equal(rejoin.kind, 'rejoin');
  assert.deepEqual(rejoin.kind === 'rejoin' && rejoin.source, { host: '127.0.0.1', port: 3308 });
  assert.equal(converge({ me: 'db1', state: old('0-1-3'), record: record('db3', 3308, 3, '0-1-5'), ...base }).kind, 'rejoin', 'behind the fork: nothing errant');
  const errant = converge({ me: 'db1', state: old('0-1-9'), record: record('db3', 3308, 3, '0-1-5'), ...base });
  assert.equal(errant.kind, 'errant');
  assert.equal(errant.kind === 'errant' && errant.count, 4);
  assert.match(errant.detail, /errant: 0-1-6\.\.9/);
  const sameSeq = converge({ me: 'db1', state: old('0-1-5'), record: record('db3', 3308, 3, '0-3-5'), ...base });
  assert.equal(sameSeq.kind, 'errant', 'the same seq_no written by another server is a different transaction');
  assert.match(converge({ me: 'db1', state: old('0-1-5'), record: record('db3', 3308, 3, '0-1-5'), ...base, canRejoin: false }).detail, /needs `replication:` credentials/);
});

test('a replica still attached to the previous primary is repointed only when it received nothing after the fork', () => {
  // db1 (port 3306) was the primary; db3 (3308) took over at fork 0-1-5. db2 still replicates from db1.
  const rec = (fork?: string): PrimaryRecord => ({ ...record('db3', 3308, 3, fork), previous: { name: 'db1', epoch: 2, host: '127.0.0.1', port: 3306 } });
  const attached = (received: string): ServerState => ({ ...state(true, replicaOf(3306)), received, applied: received });
  assert.equal(converge({ me: 'db2', state: attached('0-1-5'), record: rec('0-1-5'), ...base }).kind, 'follow', 'at the fork');
  assert.equal(converge({ me: 'db2', state: attached('0-1-3'), record: rec('0-1-5'), ...base }).kind, 'follow', 'behind it');
  // What a stalled primary committed on waking, before its agent fenced it, shipped to a replica still connected.
  const errant = converge({ me: 'db2', state: attached('0-1-7'), record: rec('0-1-5'), ...base });
  assert.equal(errant.kind, 'errant');
  assert.equal(errant.kind === 'errant' && errant.count, 2);
  assert.match(errant.detail, /received from the previous primary db1 \(127\.0\.0\.1:3306\) transactions db3 \(127\.0\.0\.1:3308\) never received \(errant: 0-1-6\.\.7, after the fork position 0-1-5\); not repointed/);
  const noFork = converge({ me: 'db2', state: attached('0-1-5'), record: rec(), ...base });
  assert.equal(noFork.kind, 'none', 'no fork position to check against: not repointed blindly');
  assert.match(noFork.detail, /no fork position to check what it received against, so repoint it to db3 .* by hand/);
  // A replica of anyone but the previous primary is repointed as before (MariaDB refuses a diverged one itself).
  assert.equal(converge({ me: 'db2', state: { ...state(true, replicaOf(3307)), received: '0-1-7' }, record: rec('0-1-5'), ...base }).kind, 'follow');
});

test('a replica of the right source with a long link timeout is tuned; 0 leaves it alone', () => {
  const rec = record('db3', 3308);
  const slow: ServerState = { ...state(true, replicaOf(3308)), netTimeoutSeconds: 60 };
  const tune = converge({ me: 'db2', state: slow, record: rec, ...base });
  assert.equal(tune.kind, 'tune');
  assert.match(tune.detail, /slave_net_timeout is 60s/);
  assert.equal(converge({ me: 'db2', state: slow, record: rec, ...base, netTimeoutSeconds: 0 }).kind, 'none');
  assert.equal(converge({ me: 'db2', state: state(true, replicaOf(3308)), record: rec, ...base }).kind, 'none');
});

test('the record names us: nothing for the record to do (the primary lease decides writability)', () => {
  const rec = record('db1', 3306);
  assert.equal(converge({ me: 'db1', state: state(false), record: rec, ...base }).kind, 'none');
  assert.match(converge({ me: 'db1', state: state(true), record: rec, ...base }).detail, /read_only until it holds the primary lease/);
  assert.equal(converge({ me: 'db1', state: undefined, record: rec, ...base }).kind, 'none');
});
