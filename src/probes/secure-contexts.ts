// TLS secure contexts shared by the probes built together: probes with the
// same CA, certificate and key use one context. Each holds its own parsed CA
// store, ~25 KiB (Node 20) to ~37 KiB (Node 24), so 1000 https probes with
// one ca_file held 25-37 MiB of identical contexts. A context is only read
// by a connection (the name to verify and SNI are set per connection, and a
// client session is never resumed without being handed over), so sharing
// changes nothing a probe reports.
import tls from 'node:tls';

export interface ContextMaterial {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

export class SecureContexts {
  private readonly byMaterial = new Map<string, tls.SecureContext>();

  /** Throws as tls.createSecureContext does (a bad key or certificate); a failure is not kept. */
  get(m: ContextMaterial): tls.SecureContext {
    const key = JSON.stringify([m.ca ?? null, m.cert ?? null, m.key ?? null]);
    let context = this.byMaterial.get(key);
    if (!context) {
      context = tls.createSecureContext({ ca: m.ca, cert: m.cert, key: m.key });
      this.byMaterial.set(key, context);
    }
    return context;
  }
}
