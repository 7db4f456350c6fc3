// A self-signed certificate made at test time with the real openssl, so the
// HTTPS and TLS tests never ship a key or depend on a certificate's age.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from './tools.js';

export interface TestCert {
  readonly dir: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: string;
  readonly key: string;
  /** notAfter as Unix seconds, read back from the certificate. */
  readonly notAfter: number;
  cleanup(): void;
}

export function makeSelfSignedCert({ cn = 'localhost', days = 30 }: { cn?: string; days?: number } = {}): TestCert {
  const openssl = requireTool('openssl', 'openssl');
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cert-'));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync(openssl, [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', String(days), '-subj', `/CN=${cn}`,
    '-addext', `subjectAltName=DNS:${cn},IP:127.0.0.1`,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  const end = execFileSync(openssl, ['x509', '-in', certFile, '-noout', '-enddate'], { encoding: 'utf8' });
  const notAfter = Date.parse(end.trim().replace(/^notAfter=/, '')) / 1000;
  return {
    dir, certFile, keyFile, notAfter,
    cert: readFileSync(certFile, 'utf8'),
    key: readFileSync(keyFile, 'utf8'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
