// A local EC2 instance metadata service with IMDSv2 session tokens, so code that
// discovers its own instance id/region is exercised over real HTTP.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';

export interface ImdsRole { name: string; accessKeyId: string; secretAccessKey: string; token: string; expiration?: Date }
export interface FakeImdsOptions {
  instanceId?: string;
  region?: string;
  availabilityZone?: string;
  accountId?: string;
  instanceType?: string;
  imageId?: string;
  privateIp?: string;
  /** HttpTokens=optional: tokenless (IMDSv1) GETs are answered. Default is required, as on hardened hosts. */
  allowV1?: boolean;
  /** Served under meta-data/iam/security-credentials/, as the SDK's instance credential provider expects. */
  role?: ImdsRole;
}
export interface RecordedImdsRequest { method: string; path: string; status: number; hadToken: boolean }
export interface FakeImds {
  endpoint: string;
  requests: RecordedImdsRequest[];
  /** Sets or (with undefined) removes a document, path relative to /latest/, e.g. 'meta-data/autoscaling/target-lifecycle-state'. */
  set(path: string, value: string | undefined): void;
  /** Invalidates every issued token, as a TTL lapse would. */
  expireTokens(): void;
  close(): Promise<void>;
}

const MAX_TTL_SECONDS = 21600;

export async function startFakeImds(opts: FakeImdsOptions = {}): Promise<FakeImds> {
  const region = opts.region ?? 'us-east-1';
  const az = opts.availabilityZone ?? `${region}a`;
  const instanceId = opts.instanceId ?? 'i-0123456789abcdef0';
  const docs = new Map<string, string>([
    ['meta-data/instance-id', instanceId],
    ['meta-data/instance-type', opts.instanceType ?? 't3.micro'],
    ['meta-data/ami-id', opts.imageId ?? 'ami-0abcdef1234567890'],
    ['meta-data/local-ipv4', opts.privateIp ?? '10.0.0.10'],
    ['meta-data/placement/availability-zone', az],
    ['meta-data/placement/region', region],
    ['dynamic/instance-identity/document', JSON.stringify({
      accountId: opts.accountId ?? '123456789012', architecture: 'x86_64', availabilityZone: az,
      billingProducts: null, devpayProductCodes: null, marketplaceProductCodes: null,
      imageId: opts.imageId ?? 'ami-0abcdef1234567890', instanceId, instanceType: opts.instanceType ?? 't3.micro',
      kernelId: null, pendingTime: '2024-01-01T00:00:00Z', privateIp: opts.privateIp ?? '10.0.0.10',
      ramdiskId: null, region, version: '2017-09-30',
    }, null, 2)],
  ]);
  if (opts.role) {
    const r = opts.role;
    docs.set(`meta-data/iam/security-credentials/${r.name}`, JSON.stringify({
      Code: 'Success', LastUpdated: new Date().toISOString(), Type: 'AWS-HMAC',
      AccessKeyId: r.accessKeyId, SecretAccessKey: r.secretAccessKey, Token: r.token,
      Expiration: (r.expiration ?? new Date(Date.now() + 6 * 3600_000)).toISOString(),
    }, null, 2));
  }
  const tokens = new Map<string, number>(); // token -> expiry (epoch ms)
  const requests: RecordedImdsRequest[] = [];

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const token = req.headers['x-aws-ec2-metadata-token'];
    const entry: RecordedImdsRequest = { method: req.method ?? '', path, status: 200, hadToken: typeof token === 'string' };
    requests.push(entry);
    const reply = (status: number, body = '', headers: Record<string, string> = {}) => {
      entry.status = status;
      res.writeHead(status, { 'content-type': 'text/plain', server: 'EC2ws', ...headers });
      res.end(body);
    };

    if (path === '/latest/api/token') {
      if (req.method !== 'PUT') return reply(405);
      // Real IMDS refuses token requests that went through a proxy.
      if (req.headers['x-forwarded-for'] !== undefined) return reply(403);
      const ttlHeader = req.headers['x-aws-ec2-metadata-token-ttl-seconds'];
      const ttl = Number(ttlHeader);
      if (typeof ttlHeader !== 'string' || !Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL_SECONDS) return reply(400);
      const issued = randomBytes(42).toString('base64');
      tokens.set(issued, Date.now() + ttl * 1000);
      return reply(200, issued, { 'x-aws-ec2-metadata-token-ttl-seconds': String(ttl) });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405);
    // A present-but-stale token is refused even when IMDSv1 is allowed.
    const tokenValid = typeof token === 'string' && (tokens.get(token) ?? 0) > Date.now();
    if (typeof token === 'string' ? !tokenValid : !opts.allowV1) return reply(401);
    if (!path.startsWith('/latest/')) return reply(404);
    const rel = path.slice('/latest/'.length);
    const doc = docs.get(rel) ?? listing(docs, rel);
    return doc === undefined ? reply(404) : reply(200, doc);
  };

  const server = createServer(handle);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');

  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    set: (path, value) => { if (value === undefined) docs.delete(path); else docs.set(path, value); },
    expireTokens: () => tokens.clear(),
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

// IMDS answers a trailing-slash path with its children, one per line, sub-directories suffixed with '/'.
function listing(docs: Map<string, string>, dir: string): string | undefined {
  if (!dir.endsWith('/')) return undefined;
  const children = new Set<string>();
  for (const key of docs.keys()) {
    if (!key.startsWith(dir)) continue;
    const rest = key.slice(dir.length);
    const slash = rest.indexOf('/');
    children.add(slash === -1 ? rest : rest.slice(0, slash + 1));
  }
  return children.size === 0 ? undefined : [...children].join('\n');
}
