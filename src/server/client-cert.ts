// TLS settings of a web config file applied to a listening https server, and
// the client-certificate checks Node does not make inside the handshake.
import type { Server as HttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { secureContextOptions, type WebTls } from '../config/web-config.js';
import { CLIENT_AUTH_MODES } from '../config/web-tls-names.js';

/** Options for https.createServer. */
export function tlsServerOptions(t: WebTls) {
  const mode = CLIENT_AUTH_MODES[t.clientAuth];
  return { ...secureContextOptions(t), requestCert: mode.requestCert, rejectUnauthorized: mode.rejectUnauthorized };
}

/**
 * New certificates, CA, versions and client auth for connections from now on.
 * setSecureContext is Node's documented swap; requestCert and
 * rejectUnauthorized are the server's own properties, which Node reads for
 * every new connection (test/server/listener-tls.test.ts changes them on a
 * running listener, so a Node that stopped doing so fails there).
 */
export function applyTls(server: HttpsServer, t: WebTls): void {
  const opts = tlsServerOptions(t);
  server.setSecureContext(secureContextOptions(t));
  const s = server as HttpsServer & { requestCert: boolean; rejectUnauthorized: boolean };
  s.requestCert = opts.requestCert;
  s.rejectUnauthorized = opts.rejectUnauthorized;
}

/** Subject alternative names as Node writes them ("DNS:a, IP Address:1.2.3.4, URI:…"), without their prefixes. */
export function sanValues(subjectaltname: string | undefined): string[] {
  if (!subjectaltname) return [];
  const out: string[] = [];
  // Node quotes a value with a comma or quote in it as a JSON string.
  for (const m of subjectaltname.matchAll(/(?:^|, )(DNS|IP Address|email|URI|[A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    const raw = m[2];
    let v = raw;
    if (raw.startsWith('"')) { try { v = JSON.parse(raw) as string; } catch { v = raw; } }
    out.push(m[1] === 'IP Address' ? v.toLowerCase() : v);
  }
  return out;
}

/** Why a connection that finished its handshake must still be closed, or undefined. */
export function clientCertProblem(socket: TLSSocket, t: WebTls): string | undefined {
  const mode = CLIENT_AUTH_MODES[t.clientAuth];
  if (mode.check === 'none' && !t.allowedSans) return undefined;
  const cert = socket.getPeerCertificate();
  const given = cert !== null && typeof cert === 'object' && Object.keys(cert).length > 0;
  if (mode.check === 'cert_present' && !given) return 'no client certificate';
  if (mode.check === 'verified_if_present' && given && !socket.authorized) return `client certificate not verified (${String(socket.authorizationError)})`;
  if (t.allowedSans && !given) return 'no client certificate (client_allowed_sans needs one)';
  if (t.allowedSans) {
    const sans = sanValues(cert.subjectaltname);
    if (!sans.some((s) => t.allowedSans!.includes(s))) return 'client certificate has none of client_allowed_sans';
  }
  return undefined;
}
