// Turning a caught-up replica into the primary, and the catch-up wait before
// it. The order matters: stop fetching from the old source, forget it (so a
// restart cannot resume replicating from it), and only then accept writes.
import type { MysqlLink } from './connection.js';
import type { Flavor } from './flavor.js';
import { resetReplicaAll, stopReplica } from './statements.js';

export interface CatchUp { readonly ok: boolean; readonly detail: string; readonly waitedMs: number }

/**
 * Waits until the SQL thread has applied every transaction in `received`
 * (what the IO thread fetched before the source died). The server does the
 * waiting: MASTER_GTID_WAIT (MariaDB) / WAIT_FOR_EXECUTED_GTID_SET (MySQL).
 */
export async function waitApplied(link: MysqlLink, flavor: Flavor, received: string, timeoutMs: number): Promise<CatchUp> {
  const t0 = Date.now();
  const seconds = Math.max(0.001, timeoutMs / 1000);
  if (received === '') return { ok: true, detail: 'nothing received', waitedMs: 0 };
  const [row] = flavor === 'mariadb'
    ? await link.query<{ r: number | null }>('SELECT MASTER_GTID_WAIT(?, ?) AS r', [received, seconds])
    : await link.query<{ r: number | null }>('SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?) AS r', [received, seconds]);
  const waitedMs = Date.now() - t0;
  // MariaDB: 0 reached, -1 timeout. MySQL: 0 reached, 1 timeout. NULL: bad arguments.
  if (Number(row?.r) === 0 && row?.r !== null) return { ok: true, detail: `applied ${received} after ${waitedMs} ms`, waitedMs };
  return { ok: false, detail: `SQL thread did not apply ${received} within ${timeoutMs / 1000}s`, waitedMs };
}

/** STOP REPLICA; RESET REPLICA ALL; writable. Returns the statements as run (for the journal). */
export async function promoteLocal(link: MysqlLink, flavor: Flavor): Promise<string[]> {
  const done: string[] = [];
  done.push(await stopReplica(link));
  done.push(await resetReplicaAll(link));
  if (flavor === 'mysql') {
    await link.execute('SET GLOBAL super_read_only = OFF');
    done.push('SET GLOBAL super_read_only = OFF');
  }
  await link.execute('SET GLOBAL read_only = OFF');
  done.push('SET GLOBAL read_only = OFF');
  return done;
}
