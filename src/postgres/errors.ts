// Maps what pg raises to the fixed failure reasons, so every postgres* probe
// names the same cause the same way. As for MySQL, the phase matters: a
// server error while logging in is a login problem, the same kind of error
// after login is a problem with the statement.
import { AUTH_REFUSED, AuthRefusedError } from '../probes/auth-refusal.js';
import { classifyNetworkError } from '../probes/net-errors.js';
import type { FailureReason } from '../probes/types.js';
import { loadPg } from '../optional-deps.js';

export type PostgresPhase = 'connect' | 'query';

export const PG_UNEXPECTED_ANSWER = 'VIGIL_E_PG_UNEXPECTED_ANSWER';

/**
 * A statement that always answers one row answered none: the peer is not the
 * PostgreSQL it claims to be, or a broken one. Classified as `protocol`, like
 * any other peer that does not speak the protocol we expect.
 */
export class UnexpectedAnswerError extends Error {
  readonly code = PG_UNEXPECTED_ANSWER;
  constructor(what: string) {
    super(`${PG_UNEXPECTED_ANSWER}: ${what} (every PostgreSQL 11 or later answers it with one row)`);
    this.name = 'UnexpectedAnswerError';
  }
}

/** SQLSTATEs by meaning (https://www.postgresql.org/docs/current/errcodes-appendix.html). */
function classifySqlState(code: string, phase: PostgresPhase): FailureReason {
  if (code.startsWith('28') || code === '42501') return 'auth'; // invalid authorization / insufficient privilege
  if (code === '53300' || code === '57P03' || code === '57P01') return 'connect_refused'; // too many connections, starting/shutting down
  if (code === '57014' || code === '55P03') return 'timeout'; // statement_timeout cancelled it, lock_timeout
  if (code === '25006') return 'readonly'; // read_only_sql_transaction
  // At login any other refusal is about who we are or which database (3D000) we asked for.
  return phase === 'connect' ? 'auth' : 'query';
}

/** The SQLSTATE of an error the server sent, or undefined for anything else (network, abort, our own). */
export function sqlState(err: unknown): string | undefined {
  return err instanceof loadPg().DatabaseError && err.code ? err.code : undefined;
}

export function classifyPostgresError(err: unknown, phase: PostgresPhase, aborted: boolean): { reason: FailureReason; message: string } {
  if (aborted) return classifyNetworkError(err, true);
  if (err instanceof AuthRefusedError) return { reason: 'auth', message: `${AUTH_REFUSED}: ${err.message}` };
  if (err instanceof UnexpectedAnswerError) return { reason: 'protocol', message: err.message };
  const code = sqlState(err);
  if (code !== undefined) return { reason: classifySqlState(code, phase), message: `SQLSTATE ${code}: ${(err as Error).message}` };
  const text = err instanceof Error ? err.message : String(err);
  if (/does not support SSL/i.test(text)) return { reason: 'tls', message: text };
  if (/timeout expired|connection timeout/i.test(text)) return { reason: 'timeout', message: text };
  if (/Connection terminated/i.test(text)) return { reason: 'connect_refused', message: text };
  return classifyNetworkError(err, false);
}
