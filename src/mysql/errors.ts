// Maps what mysql2 raises to the fixed failure reasons, so the mysql,
// mysql_replication and mysql_heartbeat probes name the same cause the same
// way. The phase matters: a server error while logging in is a login problem,
// the same kind of error after login is a problem with the statement.
import { classifyNetworkError } from '../probes/net-errors.js';
import { AUTH_REFUSED, AuthRefusedError } from '../probes/auth-refusal.js';
import type { FailureReason } from '../probes/types.js';

export type MysqlPhase = 'connect' | 'query';

/** Server error numbers (errno) that mean "you may not": credentials or grants. */
const ACCESS_DENIED = new Set([
  1044, // ER_DBACCESS_DENIED_ERROR
  1045, // ER_ACCESS_DENIED_ERROR
  1130, // ER_HOST_NOT_PRIVILEGED
  1142, // ER_TABLEACCESS_DENIED_ERROR
  1143, // ER_COLUMNACCESS_DENIED_ERROR
  1227, // ER_SPECIFIC_ACCESS_DENIED_ERROR (e.g. SHOW REPLICA STATUS without REPLICA MONITOR)
  1251, // ER_NOT_SUPPORTED_AUTH_MODE
  1698, // ER_ACCESS_DENIED_NO_PASSWORD_ERROR
  1820, // ER_MUST_CHANGE_PASSWORD
  1862, // ER_MUST_CHANGE_PASSWORD_LOGIN
  3118, // ER_ACCOUNT_HAS_BEEN_LOCKED (MySQL 8)
  4151, // ER_ACCOUNT_HAS_BEEN_LOCKED (MariaDB)
]);

/** The server is up but will not take this connection now. */
const REFUSED = new Set([
  1040, // ER_CON_COUNT_ERROR: too many connections
  1129, // ER_HOST_IS_BLOCKED: needs FLUSH HOSTS
  1203, // ER_TOO_MANY_USER_CONNECTIONS
  1226, // ER_USER_LIMIT_REACHED
  1053, // ER_SERVER_SHUTDOWN
]);

const STATEMENT_TIMEOUT = new Set([
  1969, // ER_STATEMENT_TIMEOUT (MariaDB max_statement_time)
  3024, // ER_QUERY_TIMEOUT (MySQL max_execution_time)
  1205, // ER_LOCK_WAIT_TIMEOUT
]);

export const ER_OPTION_PREVENTS_STATEMENT = 1290; // --read-only (and other options) forbid the statement
export const ER_NO_SUCH_TABLE = 1146;
export const ER_BAD_DB_ERROR = 1049;
export const ER_PARSE_ERROR = 1064;

/** The server's error number, when the error came from the server. */
export function serverErrno(err: unknown): number | undefined {
  const e = err as { errno?: unknown; sqlState?: unknown };
  return typeof e?.errno === 'number' && typeof e.sqlState === 'string' ? e.errno : undefined;
}

function isTlsFailure(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  // mysql2 replaces the TLS error's own code (e.g. UNABLE_TO_VERIFY_LEAF_SIGNATURE) with its own.
  if (e?.code === 'HANDSHAKE_NO_SSL_SUPPORT' || e?.code === 'HANDSHAKE_SSL_ERROR') return true;
  // Node's own TLS codes (certificate, handshake) are recognised by classifyNetworkError.
  return classifyNetworkError(err, false).reason === 'tls';
}

export function classifyMysqlError(err: unknown, phase: MysqlPhase, aborted: boolean): { reason: FailureReason; message: string } {
  const errno = serverErrno(err);
  if (aborted) return classifyNetworkError(err, true);
  if (err instanceof AuthRefusedError) return { reason: 'auth', message: `${AUTH_REFUSED}: ${err.message}` };
  if (errno !== undefined) {
    const e = err as { code?: string; sqlMessage?: string; message?: string };
    const message = `${e.code ?? `errno ${errno}`} (${errno}): ${e.sqlMessage ?? e.message ?? ''}`.trim();
    if (ACCESS_DENIED.has(errno)) return { reason: 'auth', message };
    if (REFUSED.has(errno)) return { reason: 'connect_refused', message };
    if (STATEMENT_TIMEOUT.has(errno)) return { reason: 'timeout', message };
    if (errno === ER_OPTION_PREVENTS_STATEMENT) return { reason: 'readonly', message };
    // At login every other refusal is about who we are or which database we
    // asked for (1049 unknown database); after login it is about the statement.
    return { reason: phase === 'connect' ? 'auth' : 'query', message };
  }
  if (isTlsFailure(err)) {
    const e = err as { code?: string; message?: string };
    return { reason: 'tls', message: e.code && !String(e.message).includes(e.code) ? `${e.code}: ${e.message}` : String(e.message) };
  }
  return classifyNetworkError(err, false);
}
