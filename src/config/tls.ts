// TLS options shared by every probe that can speak TLS. Files are read at load
// so a missing CA is a config error with a line number, not a failed probe.
import { readFileSync } from 'node:fs';
import { z } from 'zod';

export interface TlsOptions {
  ca?: string;
  cert?: string;
  key?: string;
  rejectUnauthorized: boolean;
  servername?: string;
}

function readPem(path: string, field: string, ctx: z.RefinementCtx): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: [field], message: `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})` });
    return undefined;
  }
}

export const tlsConfig = () => z.object({
  ca_file: z.string().optional(),
  cert_file: z.string().optional(),
  key_file: z.string().optional(),
  insecure_skip_verify: z.boolean().default(false),
  server_name: z.string().optional(),
}).strict().transform((t, ctx): TlsOptions => {
  if ((t.cert_file === undefined) !== (t.key_file === undefined)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: [t.cert_file ? 'key_file' : 'cert_file'], message: 'cert_file and key_file go together' });
  }
  return {
    ca: t.ca_file ? readPem(t.ca_file, 'ca_file', ctx) : undefined,
    cert: t.cert_file ? readPem(t.cert_file, 'cert_file', ctx) : undefined,
    key: t.key_file ? readPem(t.key_file, 'key_file', ctx) : undefined,
    rejectUnauthorized: !t.insecure_skip_verify,
    servername: t.server_name,
  };
});

/** Earliest notAfter (Unix seconds) along the chain the peer presented. */
export function earliestExpiry(cert: { valid_to?: string; issuerCertificate?: unknown; fingerprint256?: string } | undefined): number | undefined {
  let earliest: number | undefined;
  const seen = new Set<string>();
  let cur = cert;
  while (cur && cur.valid_to && !seen.has(cur.fingerprint256 ?? '')) {
    seen.add(cur.fingerprint256 ?? '');
    const t = Date.parse(cur.valid_to) / 1000;
    if (Number.isFinite(t) && (earliest === undefined || t < earliest)) earliest = t;
    cur = cur.issuerCertificate as typeof cert;
  }
  return earliest;
}
