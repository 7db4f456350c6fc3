// Replication statements changed spelling across versions (SLAVE → REPLICA,
// MASTER → SOURCE). Try the current spelling first and fall back only when
// the server says it does not know the syntax.
import type { MysqlLink } from './connection.js';
import { ER_PARSE_ERROR, serverErrno } from './errors.js';

type Spelling = readonly [sql: string, params?: readonly unknown[]];

export async function executeFirstUnderstood(link: MysqlLink, spellings: readonly Spelling[]): Promise<string> {
  let last: unknown;
  for (const [sql, params] of spellings) {
    try {
      await link.execute(sql, params);
      return sql;
    } catch (err) {
      if (serverErrno(err) !== ER_PARSE_ERROR) throw err;
      last = err;
    }
  }
  throw last;
}

export const stopReplica = (link: MysqlLink) => executeFirstUnderstood(link, [['STOP REPLICA'], ['STOP SLAVE']]);
export const startReplica = (link: MysqlLink) => executeFirstUnderstood(link, [['START REPLICA'], ['START SLAVE']]);
export const resetReplicaAll = (link: MysqlLink) => executeFirstUnderstood(link, [['RESET REPLICA ALL'], ['RESET SLAVE ALL']]);
