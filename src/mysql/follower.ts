// Following a new primary: repoint the local replica at it by GTID (no binlog
// file/position to guess) and check that it really replicates. Credentials
// are optional: CHANGE MASTER keeps the user and password it had when only
// the host and port change.
import type { MysqlLink } from './connection.js';
import type { ReplicaStatusReader } from './replica-status.js';
import type { Flavor } from './flavor.js';
import { executeFirstUnderstood, startReplica, stopReplica } from './statements.js';

export interface Endpoint { readonly host: string; readonly port: number }
export interface SourceCredentials { readonly user: string; readonly password: string }

/**
 * slave_net_timeout (seconds) and a heartbeat at half of it: the IO thread
 * notices a source host that vanished without closing its connections
 * (power loss, partition, frozen VM) within this time instead of MariaDB's
 * and MySQL's 60 s default. Set globally, before START REPLICA (the IO
 * thread reads it when it connects).
 */
export interface LinkTimeouts { readonly netTimeoutSeconds: number }

function heartbeatSql(prefix: 'MASTER' | 'SOURCE', t: LinkTimeouts | undefined): string {
  return t ? `, ${prefix}_HEARTBEAT_PERIOD = ${t.netTimeoutSeconds / 2}` : '';
}

async function setNetTimeout(link: MysqlLink, t: LinkTimeouts | undefined, done: string[]): Promise<void> {
  if (!t) return;
  await link.execute(`SET GLOBAL slave_net_timeout = ${Math.round(t.netTimeoutSeconds)}`);
  done.push(`SET GLOBAL slave_net_timeout = ${Math.round(t.netTimeoutSeconds)}`);
}

/**
 * Returns the statements as run, for logs and the journal: never the
 * password. `beforeChange` runs once the threads are stopped, so that what
 * it reads (the received position) cannot move before the source changes;
 * when it throws, the threads are started again against the old source and
 * nothing else is changed.
 */
export async function repointReplica(link: MysqlLink, flavor: Flavor, source: Endpoint, creds?: SourceCredentials, timeouts?: LinkTimeouts,
  beforeChange?: (link: MysqlLink) => Promise<void>): Promise<string[]> {
  const done = [await stopReplica(link)];
  if (beforeChange) {
    try {
      await beforeChange(link);
    } catch (err) {
      await startReplica(link).catch(() => undefined);
      throw err;
    }
  }
  await setNetTimeout(link, timeouts, done);
  const credSql = (u: string, p: string) => `${creds ? `, ${u} = ?, ${p} = ?` : ''}${heartbeatSql(u.startsWith('SOURCE') ? 'SOURCE' : 'MASTER', timeouts)}`;
  const credParams = creds ? [creds.user, creds.password] : [];
  const changed = flavor === 'mariadb'
    ? await executeFirstUnderstood(link, [[
      `CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USE_GTID = slave_pos${credSql('MASTER_USER', 'MASTER_PASSWORD')}`,
      [source.host, source.port, ...credParams]]])
    : await executeFirstUnderstood(link, [
      [`CHANGE REPLICATION SOURCE TO SOURCE_HOST = ?, SOURCE_PORT = ?, SOURCE_AUTO_POSITION = 1${credSql('SOURCE_USER', 'SOURCE_PASSWORD')}`,
        [source.host, source.port, ...credParams]],
      [`CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_AUTO_POSITION = 1${credSql('MASTER_USER', 'MASTER_PASSWORD')}`,
        [source.host, source.port, ...credParams]],
    ]);
  done.push(`${changed.split(' = ?')[0].replace(/_HOST$/, '')} → ${source.host}:${source.port}${creds ? ` as ${creds.user}` : ''}${timeouts ? ` (heartbeat ${timeouts.netTimeoutSeconds / 2}s)` : ''}`);
  done.push(await startReplica(link));
  return done;
}

/**
 * An old primary becomes a replica of its successor. Its own binlog is its
 * position (MariaDB: gtid_slave_pos := gtid_binlog_pos; MySQL's auto
 * position reads gtid_executed by itself). The caller has checked that the
 * successor holds every one of those transactions.
 */
export async function rejoinAsReplica(link: MysqlLink, flavor: Flavor, source: Endpoint, creds: SourceCredentials, timeouts?: LinkTimeouts): Promise<string[]> {
  const done: string[] = [];
  if (flavor === 'mariadb') {
    await link.execute('SET GLOBAL gtid_slave_pos = @@GLOBAL.gtid_binlog_pos');
    done.push('SET GLOBAL gtid_slave_pos = @@GLOBAL.gtid_binlog_pos');
  }
  return [...done, ...await repointReplica(link, flavor, source, creds, timeouts)];
}

/** A replica whose IO thread would take too long to notice a vanished source: shorten its timeout and heartbeat. */
export async function shortenLinkTimeout(link: MysqlLink, flavor: Flavor, timeouts: LinkTimeouts): Promise<string[]> {
  const done = [await stopReplica(link)];
  await setNetTimeout(link, timeouts, done);
  const sql = await executeFirstUnderstood(link, flavor === 'mariadb'
    ? [[`CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD = ${timeouts.netTimeoutSeconds / 2}`]]
    : [[`CHANGE REPLICATION SOURCE TO SOURCE_HEARTBEAT_PERIOD = ${timeouts.netTimeoutSeconds / 2}`], [`CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD = ${timeouts.netTimeoutSeconds / 2}`]]);
  done.push(sql);
  done.push(await startReplica(link));
  return done;
}

export interface ReplicationCheck { readonly ok: boolean; readonly detail: string }

/** Polls until both threads run against `source`, or an IO/SQL error that retrying will not fix. */
export async function waitReplicating(link: MysqlLink, reader: ReplicaStatusReader, source: Endpoint, timeoutMs: number,
  pollMs = 200): Promise<ReplicationCheck> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no replica status';
  for (;;) {
    const rows = await reader.read(link);
    const r = rows.find((x) => x.channelName === '') ?? rows[0];
    if (r) {
      last = `IO ${r.io}, SQL ${r.sql}, Last_IO_Errno ${r.lastIoErrno}, Last_SQL_Errno ${r.lastSqlErrno}`;
      if (r.sourceHost !== source.host || r.sourcePort !== source.port) return { ok: false, detail: `replicates from ${r.sourceHost}:${r.sourcePort}, not ${source.host}:${source.port}` };
      if (r.io === 'running' && r.sql === 'running') return { ok: true, detail: `replicating from ${source.host}:${source.port}` };
      if (r.lastSqlErrno !== 0 && r.sql === 'stopped') return { ok: false, detail: `SQL thread stopped: ${r.lastSqlErrno} ${r.lastSqlError.slice(0, 200)}` };
      if (r.io === 'stopped' && r.lastIoErrno !== 0) return { ok: false, detail: `IO thread stopped: ${r.lastIoErrno} ${r.lastIoError.slice(0, 200)}` };
    }
    if (Date.now() >= deadline) return { ok: false, detail: `not replicating after ${timeoutMs / 1000}s (${last})` };
    await new Promise((res) => setTimeout(res, pollMs));
  }
}
