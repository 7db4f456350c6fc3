// A database server that vigil cannot authenticate must not obtain the
// password. Over a channel without verified TLS anyone on the path, or anyone
// who took over the address, can play the server, and the server chooses the
// auth method: if the client answers whatever is asked, the strongest method
// the real server uses protects nothing. So the drivers' answers to the
// methods that reveal the password (in clear, encrypted to a key the server
// itself hands over, or as a cheap unsalted-enough hash) are refused here.
// docs/probes-database.md ("What vigil refuses to send") is the user's view.

/** Every refusal carries this code; the message says what to configure instead. */
export const AUTH_REFUSED = 'VIGIL_E_AUTH_REFUSED';

/**
 * Thrown from inside a driver's auth step. Recognised by class, not by
 * `code`: mysql2 overwrites the code of errors raised by auth plugins.
 */
export class AuthRefusedError extends Error {
  readonly code = AUTH_REFUSED;
  constructor(asked: string, remedy: string) {
    super(`server asked for ${asked} over an unverified connection; refused: ${remedy}`);
    this.name = 'AuthRefusedError';
  }
}

/**
 * Where the peer is the server the operator named: TLS with certificate
 * verification on, or a unix socket (its path is chosen by the operator and
 * guarded by file permissions; MySQL and PostgreSQL treat it as a secure
 * transport too). Unverified TLS (insecure_skip_verify) is not: it encrypts
 * the password for whoever answers.
 */
export function isTrustedChannel(c: { readonly socket?: string; readonly tls?: true | { readonly rejectUnauthorized: boolean } }): boolean {
  if (c.socket !== undefined) return true;
  return c.tls === true || (c.tls !== undefined && c.tls.rejectUnauthorized);
}
