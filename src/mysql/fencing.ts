// Fencing: a server that is not the cluster's primary must not take writes.
// read_only stops ordinary users; on MySQL super_read_only stops SUPER users
// too. (MariaDB has no super_read_only: users with READ_ONLY ADMIN can still
// write, which is why vigil's own account should not be the application's.)
import type { MysqlLink } from '../probes/mysql-connection.js';
import type { Flavor } from './gtid.js';

export async function fenceLocal(link: MysqlLink, flavor: Flavor): Promise<string[]> {
  if (flavor === 'mysql') {
    await link.execute('SET GLOBAL super_read_only = ON'); // implies read_only = ON
    return ['SET GLOBAL super_read_only = ON'];
  }
  await link.execute('SET GLOBAL read_only = ON');
  return ['SET GLOBAL read_only = ON'];
}

export async function detectFlavor(link: MysqlLink): Promise<Flavor> {
  const [row] = await link.query<{ v: string }>('SELECT @@version AS v');
  return /mariadb/i.test(String(row?.v)) ? 'mariadb' : 'mysql';
}
