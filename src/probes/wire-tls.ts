// A probe's TLS settings (CA, client certificate, verification, SNI) with its
// secure context built once, for the connections the http probe's wire client
// and the tcp probe open themselves.
import type tls from 'node:tls';
import type { PreparedRequest } from './http-wire-request.js';
import { SecureContexts } from './secure-contexts.js';

export interface WireTlsOptions {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly rejectUnauthorized?: boolean;
  /** SNI and the name the certificate must carry; default: the Host header's name unless it is an IP. */
  readonly servername?: string;
}

/**
 * A probe's TLS settings with its secure context built once: tls.connect
 * without one parses the CA bundle and builds an SSL_CTX on every connection.
 * The context comes from `contexts`, shared with the other probes built with it.
 */
export class WireTls {
  private context: tls.SecureContext | undefined;

  constructor(private readonly opts: WireTlsOptions, private readonly contexts = new SecureContexts()) {}

  get rejectUnauthorized(): boolean {
    return this.opts.rejectUnauthorized ?? true;
  }

  servername(req: PreparedRequest): string | undefined {
    return this.opts.servername ?? req.servername;
  }

  /** Built on first use so a bad key or certificate fails the run (as node:http does), not the probe's creation. */
  secureContext(): tls.SecureContext {
    this.context ??= this.contexts.get(this.opts);
    return this.context;
  }
}
