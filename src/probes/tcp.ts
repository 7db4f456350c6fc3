// TCP probe: connect (optionally with a TLS handshake) within the timeout.
import net from 'node:net';
import tls from 'node:tls';
import { z } from 'zod';
import { hostPort } from '../config/fields.js';
import { tlsConfig, earliestExpiry } from '../config/tls.js';
import { defineProbe } from './definition.js';
import { WireTls } from './wire-tls.js';
import { classifyNetworkError } from './net-errors.js';
import { fail, timed } from './outcome.js';
import { PeerCertificate } from './tls-peer.js';
import type { ProbeOutcome } from './types.js';

export const tcpProbe = defineProbe({
  type: 'tcp',
  fields: () => ({
    address: hostPort(),
    tls: z.union([z.literal(true), tlsConfig()]).optional(),
  }),
  create(cfg, deps) {
    const { host, port } = cfg.address;
    const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    const tlsOpts = cfg.tls === true ? { rejectUnauthorized: true } : cfg.tls;
    // The secure context built once, not on every connection (the CA bundle parsed each time).
    const wireTls = tlsOpts ? new WireTls(tlsOpts, deps.secureContexts) : undefined;
    const servername = tlsOpts?.servername ?? (net.isIP(host) ? undefined : host);
    /** A connection, the event that says it is up, and (TLS) the peer chain's earliest expiry once it is. */
    const connect = (): { socket: net.Socket; up: 'connect' | 'secureConnect'; expiry(): number | undefined } => {
      if (!wireTls) return { socket: net.connect({ host, port }), up: 'connect', expiry: () => undefined };
      const peer = new PeerCertificate();
      const socket = tls.connect({ host, port, servername, secureContext: wireTls.secureContext(),
        rejectUnauthorized: wireTls.rejectUnauthorized, checkServerIdentity: peer.checkServerIdentity });
      return { socket, up: 'secureConnect', expiry: () => earliestExpiry(peer.of(socket)) };
    };
    return {
      name: cfg.name,
      type: 'tcp',
      run: (signal) => timed(() => new Promise<ProbeOutcome>((resolve) => {
        const { socket, up, expiry: readExpiry } = connect();
        const done = (outcome: ProbeOutcome) => {
          signal.removeEventListener('abort', onAbort);
          socket.destroy();
          resolve(outcome);
        };
        const onAbort = () => done(fail('timeout', `connect to ${where} timed out`));
        signal.addEventListener('abort', onAbort, { once: true });
        if (signal.aborted) return onAbort();
        socket.once(up, () => {
          const expiry = readExpiry();
          done({ ok: true, message: `connected to ${where}${wireTls ? ' (TLS)' : ''}`,
            observations: expiry === undefined ? [] : [{ name: 'tls_cert_expiry_timestamp_seconds', value: expiry }] });
        });
        socket.once('error', (err) => {
          const c = classifyNetworkError(err, false);
          done(fail(c.reason, `connect to ${where}: ${c.message}`));
        });
      })),
    };
  },
});
