// A small PKI made at test time with the real openssl: a CA, a server
// certificate it signs (for 127.0.0.1 and localhost), client certificates it
// signs, and a foreign CA's client certificate. Nothing is shipped or aged.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from './tools.js';

export interface Pki {
  readonly dir: string;
  /** Path of a file in dir. */
  file(name: string): string;
  read(name: string): string;
  /** A server certificate signed by the CA: `${name}.crt`, `${name}.key`. */
  server(name: string, cn?: string): void;
  /** A client certificate signed by `ca` (`ca` or `other-ca`), with optional SANs like `DNS:prometheus`. */
  client(name: string, opts?: { ca?: 'ca' | 'other-ca'; sans?: string[] }): void;
  cleanup(): void;
}

export function makePki(): Pki {
  const openssl = requireTool('openssl', 'openssl');
  const dir = mkdtempSync(join(tmpdir(), 'vigil-pki-'));
  const f = (n: string) => join(dir, n);
  const run = (...args: string[]) => execFileSync(openssl, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  for (const ca of ['ca', 'other-ca']) {
    run('req', '-x509', ...ec, '-keyout', f(`${ca}.key`), '-out', f(`${ca}.crt`), '-days', '2', '-subj', `/CN=vigil-test-${ca}`);
  }
  const sign = (name: string, ca: string, sans: string[], cn: string) => {
    run('req', ...ec, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${cn}`);
    writeFileSync(f(`${name}.ext`), sans.length ? `subjectAltName=${sans.join(',')}\n` : '\n');
    run('x509', '-req', '-in', f(`${name}.csr`), '-CA', f(`${ca}.crt`), '-CAkey', f(`${ca}.key`), '-CAcreateserial',
      '-out', f(`${name}.crt`), '-days', '2', '-extfile', f(`${name}.ext`));
  };
  return {
    dir, file: f,
    read: (n) => readFileSync(f(n), 'utf8'),
    server: (name, cn = 'localhost') => sign(name, 'ca', ['DNS:localhost', 'IP:127.0.0.1'], cn),
    client: (name, opts = {}) => sign(name, opts.ca ?? 'ca', opts.sans ?? [], name),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
