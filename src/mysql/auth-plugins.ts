// The auth plugins vigil hands mysql2, so that a server it cannot
// authenticate never receives the password (issue 11). mysql2's own plugins
// answer whatever the server asks: caching_sha2_password "full
// authentication" and sha256_password encrypt the password to an RSA key the
// server itself sends (so the server that asks can read it), and over any TLS,
// verified or not, both send it in clear. mysql_clear_password sends it in
// clear by definition.
//
// Giving mysql2 a plugin of these names also stops its shortcut of answering
// the greeting's announced method directly (it answers with a
// mysql_native_password token instead, and a real server switches to its
// method, which then comes here): that shortcut sends sha256_password's
// cleartext form over unverified TLS before any plugin runs. The cost is one
// auth-switch round trip on MySQL 8 accounts that use caching_sha2_password.
//
// Challenge-response answers (mysql_native_password, the first
// caching_sha2_password step) reveal no password and stay allowed.
import { constants, publicEncrypt } from 'node:crypto';
import type { AuthPlugin } from 'mysql2';
import { loadMysql2 } from '../optional-deps.js';
import { AuthRefusedError } from '../probes/auth-refusal.js';

export interface MysqlAuthChannel {
  /** Verified TLS or a unix socket: the peer is the server the operator named (see isTrustedChannel). */
  readonly trusted: boolean;
  /** The server's RSA public key (PEM) from server_public_key_file. */
  readonly serverPublicKey?: string;
}

const PIN_OR_TLS = 'pin the server\'s key with server_public_key_file or use TLS';
const FULL_AUTH = Buffer.from([4]); // caching_sha2_password: "cache miss, send the password"

type PluginMeta = Parameters<AuthPlugin>[0];

function passwordOf(meta: PluginMeta): string {
  // mysql2 swaps config.password for the current factor's during multi-factor auth.
  return String(meta.connection.config.password ?? '');
}

/** What sha256_password and caching_sha2_password send over RSA: password XOR scramble, OAEP. */
function encryptToKey(password: string, scramble: Buffer, key: string): Buffer {
  const plain = Buffer.from(`${password}\0`, 'utf8');
  for (let i = 0; i < plain.length; i++) plain[i] ^= scramble[i % scramble.length];
  return publicEncrypt({ key, oaepHash: 'sha1', padding: constants.RSA_PKCS1_OAEP_PADDING }, plain);
}

function cachingSha2(ch: MysqlAuthChannel): AuthPlugin {
  // mysql2's plugin does the token and the RSA step; told the channel's real
  // trust (it would count unverified TLS as secure) and the pinned key, it
  // only ever sends the password in clear over a trusted channel.
  const inner = loadMysql2().authPlugins.caching_sha2_password({ overrideIsSecure: ch.trusted, serverPublicKey: ch.serverPublicKey });
  return (meta) => {
    const step = inner(meta);
    return (data) => {
      if (!ch.trusted && ch.serverPublicKey === undefined && FULL_AUTH.equals(data)) {
        // Thrown, not returned as a rejected promise: a synchronous throw keeps its class through mysql2.
        throw new AuthRefusedError('caching_sha2_password full authentication (RSA key exchange)', PIN_OR_TLS);
      }
      return step(data);
    };
  };
}

function sha256(ch: MysqlAuthChannel): AuthPlugin {
  const inner = loadMysql2().authPlugins.sha256_password({ serverPublicKey: ch.serverPublicKey });
  return (meta) => {
    // Trusted: mysql2's plugin (clear over verified TLS; RSA over a unix socket, pinned or the socket peer's key).
    if (ch.trusted) return inner(meta);
    let answered = false;
    return (data) => {
      if (answered) throw new Error('sha256_password: unexpected data after the password was sent');
      answered = true;
      if (ch.serverPublicKey === undefined) throw new AuthRefusedError('sha256_password (RSA key exchange)', PIN_OR_TLS);
      // Never mysql2's plugin here: over unverified TLS it sends the password in clear.
      return encryptToKey(passwordOf(meta), data.subarray(0, 20), ch.serverPublicKey);
    };
  };
}

function clearPassword(ch: MysqlAuthChannel): AuthPlugin {
  const inner = loadMysql2().authPlugins.mysql_clear_password({});
  return (meta) => {
    if (ch.trusted) return inner(meta);
    return () => {
      throw new AuthRefusedError('mysql_clear_password (the password in clear)', 'use TLS with certificate verification (tls: true or tls.ca_file); a pinned key does not help here');
    };
  };
}

/** The `authPlugins` option for one connection's channel. */
export function guardedAuthPlugins(ch: MysqlAuthChannel): Record<string, AuthPlugin> {
  return {
    caching_sha2_password: cachingSha2(ch),
    sha256_password: sha256(ch),
    mysql_clear_password: clearPassword(ch),
  };
}
