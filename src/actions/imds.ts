// The EC2 instance metadata service, IMDSv2 only: a session token from
// `PUT /latest/api/token`, then GETs carrying it. Hardened hosts refuse
// tokenless (IMDSv1) requests, so there is no fallback to them.
export const DEFAULT_IMDS_ENDPOINT = 'http://169.254.169.254';
const TOKEN_TTL_SECONDS = 300;

export class ImdsError extends Error {
  readonly code = 'VIGIL_E_IMDS';
}

async function call(url: string, init: RequestInit, timeoutMs: number, what: string): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
    throw new ImdsError(`${what}: instance metadata not reachable at ${new URL(url).origin} (${cause}); set instance_id and region in the action, or check the instance's metadata options`);
  }
  const body = await res.text();
  if (!res.ok) throw new ImdsError(`${what}: instance metadata answered ${res.status}${res.status === 401 ? ' (token refused)' : ''}`);
  return body.trim();
}

/** Reads metadata documents (paths relative to /latest/meta-data/) with one IMDSv2 token. */
export async function readMetadata(endpoint: string, paths: readonly string[], timeoutMs = 2000): Promise<string[]> {
  const base = endpoint.replace(/\/+$/, '');
  const token = await call(`${base}/latest/api/token`, {
    method: 'PUT', headers: { 'x-aws-ec2-metadata-token-ttl-seconds': String(TOKEN_TTL_SECONDS) },
  }, timeoutMs, 'IMDSv2 token');
  const out: string[] = [];
  for (const p of paths) {
    out.push(await call(`${base}/latest/meta-data/${p}`, { headers: { 'x-aws-ec2-metadata-token': token } }, timeoutMs, `metadata ${p}`));
  }
  return out;
}
