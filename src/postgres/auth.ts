// Which of a PostgreSQL server's password requests the postgres probe
// answers (issue 11). pg answers them all: AuthenticationCleartextPassword
// with the password itself, AuthenticationMD5Password with
// md5(md5(password || user) || salt), a fast hash the asking server can
// brute-force offline. The server picks the method, so a fake server would
// simply pick one of those instead of SCRAM; without verified TLS both are
// refused. SCRAM-SHA-256 proves knowledge of the password without revealing
// it and stays allowed everywhere.
import type pg from 'pg';
import { AuthRefusedError } from '../probes/auth-refusal.js';

const USE_TLS = 'use TLS with certificate verification (tls: true or tls.ca_file)';

/**
 * The `password` option for pg: a function pg calls only once the server
 * asked for a password, after the listener below saw which kind. It throws
 * the refusal instead of returning the password; pg then fails the connect
 * with that error and writes nothing.
 */
export function guardedPassword(password: string, trusted: boolean): { password: () => string; watch(client: pg.Client): void } {
  let refusal: AuthRefusedError | undefined;
  return {
    password: () => {
      if (refusal) throw refusal;
      return password;
    },
    watch(client) {
      if (trusted) return;
      // Prepended, so they run before pg's own handlers ask for the password.
      client.connection.prependListener('authenticationCleartextPassword', () => {
        refusal = new AuthRefusedError('a cleartext password', `${USE_TLS}, or let the server ask for SCRAM (pg_hba.conf method scram-sha-256)`);
      });
      client.connection.prependListener('authenticationMD5Password', () => {
        refusal = new AuthRefusedError('an MD5 password hash',
          `store the role's password as SCRAM (password_encryption = 'scram-sha-256', then ALTER ROLE … PASSWORD …) or ${USE_TLS}`);
      });
    },
  };
}
