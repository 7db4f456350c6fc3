// Fencing: a server that is not the cluster's primary must not take writes.
// read_only stops ordinary users; on MySQL super_read_only stops SUPER users
// too. (MariaDB has no super_read_only: users with READ_ONLY ADMIN can still
// write, which is why vigil's own account should not be the application's.)
import type { MysqlLink } from './connection.js';
import { flavorOf, type Flavor } from './flavor.js';

export async function fenceLocal(link: MysqlLink, flavor: Flavor): Promise<string[]> {
  if (flavor === 'mysql') {
    await link.execute('SET GLOBAL super_read_only = ON'); // implies read_only = ON
    return ['SET GLOBAL super_read_only = ON'];
  }
  await link.execute('SET GLOBAL read_only = ON');
  return ['SET GLOBAL read_only = ON'];
}

/** The reverse, for the member the record names once it holds the primary lease. */
export async function unfenceLocal(link: MysqlLink, flavor: Flavor): Promise<string[]> {
  if (flavor === 'mysql') await link.execute('SET GLOBAL super_read_only = OFF');
  await link.execute('SET GLOBAL read_only = OFF');
  return [flavor === 'mysql' ? 'SET GLOBAL super_read_only = OFF, read_only = OFF' : 'SET GLOBAL read_only = OFF'];
}

/** Privileges that let a session write through read_only (MariaDB 10.11: READ_ONLY ADMIN, part of SUPER). */
const WRITE_THROUGH = ['SUPER', 'READ_ONLY ADMIN'];
/** Server threads and replication links, never application sessions. */
const SYSTEM_USERS = ['system user', 'event_scheduler', 'unauthenticated user'];
const REPLICATION_COMMANDS = ['Binlog Dump', 'Binlog Dump GTID', 'Daemon', 'Slave_IO', 'Slave_SQL', 'Slave_worker'];

/**
 * Kills the sessions of accounts that read_only stops, so that an application
 * holding a connection learns at once that this server no longer takes its
 * writes and reconnects (to the new primary). Accounts that can write
 * through read_only and replication threads are left alone; so is this
 * connection. Returns how many sessions were killed. (Without SELECT on
 * mysql.* the account sees only its own privileges, so other privileged
 * accounts' sessions are killed too: harmless on a server that must not
 * take writes.)
 */
export async function killClientSessions(link: MysqlLink): Promise<number> {
  const privileged = new Set((await link.query<{ grantee: string }>(
    `SELECT DISTINCT GRANTEE AS grantee FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE IN (${WRITE_THROUGH.map(() => '?').join(', ')})`,
    WRITE_THROUGH)).map((r) => String(r.grantee).replace(/^'(.*)'@'.*'$/, '$1')));
  const sessions = await link.query<{ id: number; user: string; command: string }>(
    'SELECT ID AS id, USER AS user, COMMAND AS command FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID()');
  let killed = 0;
  for (const s of sessions) {
    if (privileged.has(s.user) || SYSTEM_USERS.includes(s.user) || REPLICATION_COMMANDS.includes(s.command)) continue;
    try {
      await link.execute(`KILL CONNECTION ${Number(s.id)}`);
      killed++;
    } catch {
      // Gone meanwhile (ER_NO_SUCH_THREAD): nothing to kill.
    }
  }
  return killed;
}

export async function detectFlavor(link: MysqlLink): Promise<Flavor> {
  const [row] = await link.query<{ v: string }>('SELECT @@version AS v');
  return flavorOf(row?.v);
}
