// The pure row → ReplicaStatus parser, on rows as servers really return them:
// MariaDB 10.11 rows captured from the test topology (SHOW ALL REPLICAS
// STATUS, healthy and after the primary was SIGKILLed), and MySQL 8.0 /
// 5.7 rows with the spellings of their manuals (Source_/Replica_ columns,
// Channel_Name, GTID sets). The live path is covered by mysql-replication.test.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { channelLabel, parseReplicaStatusRow, ReplicaStatusReader, threadState } from '../../src/mysql/replica-status.js';
import type { MysqlLink } from '../../src/mysql/connection.js';

// Captured from MariaDB 10.11.19 (SHOW ALL REPLICAS STATUS) via mysql2.
const MARIADB_HEALTHY = {
  Connection_name: '', Slave_SQL_State: 'Slave has read all relay log; waiting for more updates',
  Slave_IO_State: 'Waiting for master to send event', Master_Host: '127.0.0.1', Master_User: 'vigil_repl',
  Master_Port: 37833, Connect_Retry: 1, Master_Log_File: 'bin.000001', Read_Master_Log_Pos: 1447,
  Relay_Log_File: 'relay.000002', Relay_Log_Pos: 1740, Relay_Master_Log_File: 'bin.000001',
  Slave_IO_Running: 'Yes', Slave_SQL_Running: 'Yes', Replicate_Do_DB: '', Replicate_Ignore_DB: '',
  Last_Errno: 0, Last_Error: '', Skip_Counter: 0, Exec_Master_Log_Pos: 1447, Relay_Log_Space: 2039,
  Until_Condition: 'None', Seconds_Behind_Master: 0, Master_SSL_Verify_Server_Cert: 'No',
  Last_IO_Errno: 0, Last_IO_Error: '', Last_SQL_Errno: 0, Last_SQL_Error: '', Replicate_Ignore_Server_Ids: '',
  Master_Server_Id: 1, Using_Gtid: 'Slave_Pos', Gtid_IO_Pos: '0-1-7', Parallel_Mode: 'optimistic',
  SQL_Delay: 0, SQL_Remaining_Delay: null, Slave_SQL_Running_State: 'Slave has read all relay log; waiting for more updates',
  Retried_transactions: 0, Max_relay_log_size: 1073741824, Executed_log_entries: 21,
  Slave_received_heartbeats: 0, Slave_heartbeat_period: 1, Gtid_Slave_Pos: '0-1-7',
};

const MARIADB_PRIMARY_KILLED = {
  ...MARIADB_HEALTHY, Slave_IO_Running: 'Connecting', Seconds_Behind_Master: null, Last_IO_Errno: 2003,
  Last_IO_Error: "error reconnecting to master 'vigil_repl@127.0.0.1:37833' - retry-time: 1  maximum-retries: 100000  message: Can't connect to server on '127.0.0.1' (111 \"Connection refused\")",
};

// MySQL 8.0.22+ SHOW REPLICA STATUS (reference manual spelling), with mysql2's text-protocol strings.
const MYSQL8 = {
  Replica_IO_State: 'Waiting for source to send event', Source_Host: 'db1.internal', Source_User: 'repl', Source_Port: '3306',
  Connect_Retry: '60', Source_Log_File: 'binlog.000003', Read_Source_Log_Pos: '157', Relay_Log_File: 'relay.000002',
  Relay_Log_Pos: '373', Relay_Source_Log_File: 'binlog.000003', Replica_IO_Running: 'Yes', Replica_SQL_Running: 'Yes',
  Last_Errno: '0', Last_Error: '', Exec_Source_Log_Pos: '157', Seconds_Behind_Source: '3',
  Last_IO_Errno: '0', Last_IO_Error: '', Last_SQL_Errno: '0', Last_SQL_Error: '',
  Source_Server_Id: '101', Source_UUID: '73f86016-978b-11ee-ade5-8d2a2a562feb', SQL_Delay: '0', SQL_Remaining_Delay: null,
  Replica_SQL_Running_State: 'Replica has read all relay log; waiting for more updates',
  Retrieved_Gtid_Set: '73f86016-978b-11ee-ade5-8d2a2a562feb:1-30', Executed_Gtid_Set: '73f86016-978b-11ee-ade5-8d2a2a562feb:1-28',
  Auto_Position: '1', Channel_Name: '', Source_TLS_Version: '', Network_Namespace: '',
};

// MySQL 5.7 SHOW SLAVE STATUS, a named channel whose SQL thread stopped on an error.
const MYSQL57_CHANNEL = {
  Slave_IO_State: 'Waiting for master to send event', Master_Host: '10.0.0.5', Master_Port: 3306,
  Master_Log_File: 'mysql-bin.000010', Read_Master_Log_Pos: 4000, Relay_Master_Log_File: 'mysql-bin.000009', Exec_Master_Log_Pos: 120,
  Slave_IO_Running: 'Yes', Slave_SQL_Running: 'No', Seconds_Behind_Master: null,
  Last_IO_Errno: 0, Last_IO_Error: '', Last_SQL_Errno: 1062, Last_SQL_Error: "Could not execute Write_rows event on table app.t; Duplicate entry '7' for key 'PRIMARY'",
  Master_Server_Id: 5, Master_UUID: 'a1a1a1a1-0000-11ee-0000-000000000005', SQL_Delay: 0,
  Retrieved_Gtid_Set: '', Executed_Gtid_Set: '', Auto_Position: 0, Channel_Name: 'sales',
};

describe('parseReplicaStatusRow', () => {
  it('reads a healthy MariaDB row: default channel, threads running, GTID positions', () => {
    const s = parseReplicaStatusRow(MARIADB_HEALTHY);
    assert.equal(s.flavor, 'mariadb');
    assert.equal(s.channel, 'default');
    assert.equal(s.channelName, '');
    assert.equal(s.io, 'running');
    assert.equal(s.sql, 'running');
    assert.equal(s.secondsBehind, 0);
    assert.equal(s.sourceServerId, 1);
    assert.equal(s.sourcePort, 37833);
    assert.equal(s.readSourceLogPos, 1447);
    assert.deepEqual(s.gtid, { mode: 'Slave_Pos', ioPos: '0-1-7', slavePos: '0-1-7', retrievedSet: null, executedSet: null });
  });

  it('reads a MariaDB row after the primary died: IO connecting, NULL lag, errno 2003 kept', () => {
    const s = parseReplicaStatusRow(MARIADB_PRIMARY_KILLED);
    assert.equal(s.io, 'connecting');
    assert.equal(s.sql, 'running');
    assert.equal(s.secondsBehind, null);
    assert.equal(s.lastIoErrno, 2003);
    assert.match(s.lastIoError, /Connection refused/);
    assert.equal(s.sourceServerId, 1, 'Master_Server_Id survives the disconnect, so the heartbeat row is still found');
  });

  it('reads MySQL 8 spellings (Source_/Replica_, Seconds_Behind_Source, GTID sets) from strings', () => {
    const s = parseReplicaStatusRow(MYSQL8);
    assert.equal(s.flavor, 'mysql');
    assert.equal(s.channel, 'default');
    assert.equal(s.io, 'running');
    assert.equal(s.sql, 'running');
    assert.equal(s.secondsBehind, 3);
    assert.equal(s.sourceHost, 'db1.internal');
    assert.equal(s.sourcePort, 3306);
    assert.equal(s.sourceServerId, 101);
    assert.equal(s.sourceUuid, '73f86016-978b-11ee-ade5-8d2a2a562feb');
    assert.equal(s.relaySourceLogFile, 'binlog.000003');
    assert.equal(s.execSourceLogPos, 157);
    assert.deepEqual(s.gtid, {
      mode: '1', ioPos: null, slavePos: null,
      retrievedSet: '73f86016-978b-11ee-ade5-8d2a2a562feb:1-30', executedSet: '73f86016-978b-11ee-ade5-8d2a2a562feb:1-28',
    });
  });

  it('reads MySQL 5.7 spellings with a named channel and a stopped SQL thread', () => {
    const s = parseReplicaStatusRow(MYSQL57_CHANNEL);
    assert.equal(s.flavor, 'mysql');
    assert.equal(s.channel, 'sales');
    assert.equal(s.io, 'running');
    assert.equal(s.sql, 'stopped');
    assert.equal(s.secondsBehind, null);
    assert.equal(s.lastSqlErrno, 1062);
    assert.equal(s.sourceServerId, 5);
  });

  it('treats Master_Server_Id 0 (never connected) as unknown', () => {
    assert.equal(parseReplicaStatusRow({ ...MARIADB_HEALTHY, Master_Server_Id: 0 }).sourceServerId, null);
  });

  it('rejects a row that is not replica status', () => {
    assert.throws(() => parseReplicaStatusRow({ File: 'bin.000001', Position: 4 }), /not a replica status row/);
  });

  it('maps thread states and channel labels', () => {
    assert.deepEqual(['Yes', 'No', 'Connecting', 'Preparing', null, ''].map(threadState),
      ['running', 'stopped', 'connecting', 'connecting', 'stopped', 'stopped']);
    assert.equal(channelLabel(''), 'default');
    assert.equal(channelLabel('eu-west'), 'eu-west');
    assert.equal(channelLabel('x\ny'), 'x?y');
  });
});

describe('ReplicaStatusReader', () => {
  // A link that answers like a server of a given vintage: parse error (1064) for unknown statements.
  function serverSpeaking(known: string, row: Record<string, unknown>, asked: string[]): MysqlLink {
    return {
      query: async <T>(sql: string) => {
        asked.push(sql);
        if (sql !== known) throw Object.assign(new Error('You have an error in your SQL syntax'), { errno: 1064, sqlState: '42000', code: 'ER_PARSE_ERROR' });
        return [row] as T[];
      },
      execute: async () => ({ affectedRows: 0 }),
    };
  }

  it('falls back to SHOW SLAVE STATUS on an old server and remembers the choice', async () => {
    const asked: string[] = [];
    const link = serverSpeaking('SHOW SLAVE STATUS', MYSQL57_CHANNEL, asked);
    const reader = new ReplicaStatusReader();
    assert.equal((await reader.read(link))[0].channel, 'sales');
    assert.deepEqual(asked, ['SHOW ALL REPLICAS STATUS', 'SHOW ALL SLAVES STATUS', 'SHOW REPLICA STATUS', 'SHOW SLAVE STATUS']);
    asked.length = 0;
    await reader.read(link);
    assert.deepEqual(asked, ['SHOW SLAVE STATUS']);
  });

  it('moves on when an upgrade removed the remembered spelling (MySQL 8.4 has no SHOW SLAVE STATUS)', async () => {
    const asked: string[] = [];
    const reader = new ReplicaStatusReader();
    await reader.read(serverSpeaking('SHOW SLAVE STATUS', MYSQL57_CHANNEL, []));
    const s = await reader.read(serverSpeaking('SHOW REPLICA STATUS', MYSQL8, asked));
    assert.equal(s[0].secondsBehind, 3);
    assert.deepEqual(asked, ['SHOW SLAVE STATUS', 'SHOW ALL REPLICAS STATUS', 'SHOW ALL SLAVES STATUS', 'SHOW REPLICA STATUS']);
  });

  it('does not hide other errors behind the fallback (missing privilege surfaces)', async () => {
    const link: MysqlLink = {
      query: async () => { throw Object.assign(new Error('Access denied; you need (at least one of) the SUPER, SLAVE MONITOR privilege(s)'), { errno: 1227, sqlState: '42000' }); },
      execute: async () => ({ affectedRows: 0 }),
    };
    await assert.rejects(new ReplicaStatusReader().read(link), /SLAVE MONITOR/);
  });
});
