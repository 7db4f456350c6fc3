// A local EC2 Auto Scaling endpoint speaking the real awsQuery wire protocol,
// so the real @aws-sdk/client-auto-scaling (serializer, SigV4 signer, XML
// deserializer, retry strategy) runs end to end against it.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { createHash, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { SignatureV4 } from '@smithy/signature-v4';
import { Hash } from '@smithy/hash-node';
import type { AutoScalingClientConfig, LifecycleState } from '@aws-sdk/client-auto-scaling';

export type { LifecycleState };
export type HealthStatus = 'Healthy' | 'Unhealthy';

export interface AsgInstance {
  id: string;
  lifecycleState: LifecycleState;
  healthStatus: HealthStatus;
  availabilityZone?: string;
  instanceType?: string;
  protectedFromScaleIn?: boolean;
}
export interface AsgGroup {
  name: string;
  instances: AsgInstance[];
  minSize?: number;
  maxSize?: number;
  desiredCapacity?: number;
  healthCheckType?: 'EC2' | 'ELB';
  healthCheckGracePeriod?: number;
}
export interface AwsTestCredentials { accessKeyId: string; secretAccessKey: string; sessionToken?: string }

export interface RecordedAsgRequest {
  action: string;
  /** Every decoded form field, e.g. `InstanceIds.member.1`, `ShouldRespectGracePeriod`. */
  params: Record<string, string>;
  signatureValid: boolean;
  status: number;
  errorCode?: string;
  /** The SDK's own attempt counter from `amz-sdk-request: attempt=N; max=M`. */
  attempt?: number;
}
export interface InjectedFault { status: number; code: string; message: string }

export interface FakeAutoScalingOptions {
  groups?: AsgGroup[];
  credentials?: AwsTestCredentials;
  region?: string;
  accountId?: string;
}
export interface FakeAutoScaling {
  endpoint: string;
  region: string;
  credentials: AwsTestCredentials;
  /** Live state: tests may mutate it directly between calls. */
  groups: AsgGroup[];
  requests: RecordedAsgRequest[];
  requestsFor(action: string): RecordedAsgRequest[];
  findInstance(id: string): { group: AsgGroup; instance: AsgInstance } | undefined;
  /** The next n authenticated requests answer 400 Throttling. */
  throttleNext(n: number): void;
  /** The next n authenticated requests answer with this error (e.g. 503 ServiceUnavailable). */
  failNext(n: number, fault: InjectedFault): void;
  /** Replaces the denied set; `denyActions([])` allows everything again. */
  denyActions(actions: string[]): void;
  /**
   * Every later answer to `action` is sent `ms` after it was computed (0 to stop):
   * a slow API whose caller acts on what was true when its request arrived.
   */
  delay(action: string, ms: number): void;
  /** Config for a real AutoScalingClient pointed at this server. */
  clientConfig(overrides?: Partial<AutoScalingClientConfig>): AutoScalingClientConfig;
  close(): Promise<void>;
}

export const TEST_CREDENTIALS: AwsTestCredentials = { accessKeyId: 'AKIDVIGILTEST', secretAccessKey: 'vigil-test-secret' };
const XMLNS = 'http://autoscaling.amazonaws.com/doc/2011-01-01/';
const SIGNATURE_MISMATCH = 'The request signature we calculated does not match the signature you provided. '
  + 'Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';
const AUTH_HEADER = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/\d{8}\/[^/]+\/[^/]+\/aws4_request, ?SignedHeaders=([a-z0-9;._-]+), ?Signature=[0-9a-f]{64}$/;

class AwsError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) { super(message); }
}

export async function startFakeAutoScaling(opts: FakeAutoScalingOptions = {}): Promise<FakeAutoScaling> {
  const region = opts.region ?? 'us-east-1';
  const accountId = opts.accountId ?? '123456789012';
  const credentials = opts.credentials ?? TEST_CREDENTIALS;
  // Copied so one test's SetInstanceHealth cannot leak into a shared fixture.
  const groups: AsgGroup[] = structuredClone(opts.groups ?? []);
  const requests: RecordedAsgRequest[] = [];
  const faults: InjectedFault[] = [];
  let denied = new Set<string>();
  const delays = new Map<string, number>();
  // applyChecksum off: the verifier must not invent an x-amz-content-sha256 the client never signed.
  const signer = new SignatureV4({ credentials, region, service: 'autoscaling', sha256: Hash.bind(null, 'sha256'), applyChecksum: false });

  const findInstance = (id: string) => {
    for (const group of groups) {
      const instance = group.instances.find((i) => i.id === id);
      if (instance) return { group, instance };
    }
    return undefined;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req);
    const params = Object.fromEntries(new URLSearchParams(body));
    const action = params.Action ?? '';
    const entry: RecordedAsgRequest = { action, params, signatureValid: false, status: 200, attempt: sdkAttempt(req) };
    requests.push(entry);
    const requestId = randomUUID();
    try {
      await authenticate(req, body, signer, credentials);
      entry.signatureValid = true;
      const fault = faults.shift();
      if (fault) throw new AwsError(fault.status, fault.code, fault.message);
      if (denied.has(action)) {
        throw new AwsError(403, 'AccessDenied', `User: arn:aws:iam::${accountId}:user/vigil-test is not authorized to perform: `
          + `autoscaling:${action} because no identity-based policy allows the autoscaling:${action} action`);
      }
      const result = dispatch(action, params, { groups, findInstance, region, accountId });
      const wait = delays.get(action);
      if (wait) await new Promise((r) => setTimeout(r, wait));
      const inner = result === undefined ? '' : `<${action}Result>${result}</${action}Result>`;
      send(res, 200, requestId, `<${action}Response xmlns="${XMLNS}">${inner}`
        + `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`);
    } catch (err) {
      const e = err instanceof AwsError ? err : new AwsError(500, 'InternalFailure', String(err));
      entry.status = e.status;
      entry.errorCode = e.code;
      send(res, e.status, requestId, `<ErrorResponse xmlns="${XMLNS}"><Error><Type>${e.status < 500 ? 'Sender' : 'Receiver'}</Type>`
        + `<Code>${e.code}</Code><Message>${xml(e.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`);
    }
  };

  // A client hanging up mid-body must not become an unhandled rejection in the test process.
  const server = createServer((req, res) => { handle(req, res).catch(() => res.destroy()); });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    endpoint, region, credentials, groups, requests, findInstance,
    requestsFor: (action) => requests.filter((r) => r.action === action),
    throttleNext: (n) => { for (let i = 0; i < n; i++) faults.push({ status: 400, code: 'Throttling', message: 'Rate exceeded' }); },
    failNext: (n, fault) => { for (let i = 0; i < n; i++) faults.push(fault); },
    denyActions: (actions) => { denied = new Set(actions); },
    delay: (action, ms) => { delays.set(action, ms); },
    clientConfig: (overrides = {}) => ({ endpoint, region, credentials, maxAttempts: 3, ...overrides }),
    close: async () => {
      // The SDK's keep-alive agent would otherwise hold server.close() open.
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

interface State {
  groups: AsgGroup[];
  findInstance: FakeAutoScaling['findInstance'];
  region: string;
  accountId: string;
}

function dispatch(action: string, params: Record<string, string>, s: State): string | undefined {
  switch (action) {
    case 'DescribeAutoScalingInstances': {
      const ids = memberList(params, 'InstanceIds');
      const found = s.groups.flatMap((group) => group.instances
        .filter((i) => ids.length === 0 || ids.includes(i.id))
        .map((instance) => ({ group, instance })));
      return `<AutoScalingInstances>${found.map(({ group, instance }) => instanceDetailsXml(group, instance, s.region)).join('')}</AutoScalingInstances>`;
    }
    case 'DescribeAutoScalingGroups': {
      const names = memberList(params, 'AutoScalingGroupNames');
      const found = s.groups.filter((g) => names.length === 0 || names.includes(g.name));
      return `<AutoScalingGroups>${found.map((g) => groupXml(g, s)).join('')}</AutoScalingGroups>`;
    }
    case 'SetInstanceHealth': {
      const hit = s.findInstance(params.InstanceId ?? '');
      if (!hit) {
        throw new AwsError(400, 'ValidationError', `Instance Id not found - No managed instance found for instance ID: ${params.InstanceId}`);
      }
      if (params.HealthStatus !== 'Healthy' && params.HealthStatus !== 'Unhealthy') {
        throw new AwsError(400, 'ValidationError', `Valid values for HealthStatus are Healthy and Unhealthy, got: ${params.HealthStatus}`);
      }
      hit.instance.healthStatus = params.HealthStatus;
      return undefined; // Unit output: the real response has no <SetInstanceHealthResult>.
    }
    default:
      throw new AwsError(400, 'InvalidAction', `Could not find operation ${action} for version 2011-01-01`);
  }
}

// The real DescribeAutoScalingInstances reports HEALTHY/UNHEALTHY in capitals while
// DescribeAutoScalingGroups says Healthy/Unhealthy; callers must compare case-insensitively.
function instanceDetailsXml(group: AsgGroup, i: AsgInstance, region: string): string {
  return `<member><InstanceId>${xml(i.id)}</InstanceId><InstanceType>${xml(i.instanceType ?? 't3.micro')}</InstanceType>`
    + `<AutoScalingGroupName>${xml(group.name)}</AutoScalingGroupName><AvailabilityZone>${xml(i.availabilityZone ?? `${region}a`)}</AvailabilityZone>`
    + `<LifecycleState>${i.lifecycleState}</LifecycleState><HealthStatus>${i.healthStatus.toUpperCase()}</HealthStatus>`
    + `<ProtectedFromScaleIn>${i.protectedFromScaleIn ?? false}</ProtectedFromScaleIn></member>`;
}

function instanceXml(i: AsgInstance, region: string): string {
  return `<member><InstanceId>${xml(i.id)}</InstanceId><InstanceType>${xml(i.instanceType ?? 't3.micro')}</InstanceType>`
    + `<AvailabilityZone>${xml(i.availabilityZone ?? `${region}a`)}</AvailabilityZone><LifecycleState>${i.lifecycleState}</LifecycleState>`
    + `<HealthStatus>${i.healthStatus}</HealthStatus><ProtectedFromScaleIn>${i.protectedFromScaleIn ?? false}</ProtectedFromScaleIn></member>`;
}

function groupXml(g: AsgGroup, s: State): string {
  const zones = [...new Set(g.instances.map((i) => i.availabilityZone ?? `${s.region}a`))];
  if (zones.length === 0) zones.push(`${s.region}a`);
  const arn = `arn:aws:autoscaling:${s.region}:${s.accountId}:autoScalingGroup:00000000-0000-4000-8000-000000000000:autoScalingGroupName/${g.name}`;
  return `<member><AutoScalingGroupName>${xml(g.name)}</AutoScalingGroupName><AutoScalingGroupARN>${xml(arn)}</AutoScalingGroupARN>`
    + `<MinSize>${g.minSize ?? 0}</MinSize><MaxSize>${g.maxSize ?? Math.max(g.instances.length, 1)}</MaxSize>`
    + `<DesiredCapacity>${g.desiredCapacity ?? g.instances.length}</DesiredCapacity><DefaultCooldown>300</DefaultCooldown>`
    + `<AvailabilityZones>${zones.map((z) => `<member>${xml(z)}</member>`).join('')}</AvailabilityZones>`
    + `<LoadBalancerNames/><TargetGroupARNs/><HealthCheckType>${g.healthCheckType ?? 'EC2'}</HealthCheckType>`
    + `<HealthCheckGracePeriod>${g.healthCheckGracePeriod ?? 300}</HealthCheckGracePeriod>`
    + `<Instances>${g.instances.map((i) => instanceXml(i, s.region)).join('')}</Instances>`
    + `<CreatedTime>2024-01-01T00:00:00.000Z</CreatedTime><SuspendedProcesses/><EnabledMetrics/><Tags/>`
    + `<TerminationPolicies><member>Default</member></TerminationPolicies>`
    + `<NewInstancesProtectedFromScaleIn>false</NewInstancesProtectedFromScaleIn></member>`;
}

// Recomputes the signature over exactly the headers the client claims to have
// signed, using the configured secret, and compares the full Authorization value.
async function authenticate(req: IncomingMessage, body: string, signer: SignatureV4, creds: AwsTestCredentials): Promise<void> {
  const auth = header(req, 'authorization');
  if (!auth) throw new AwsError(403, 'MissingAuthenticationToken', 'Request is missing Authentication Token');
  const match = AUTH_HEADER.exec(auth);
  const amzDate = header(req, 'x-amz-date');
  if (!match || !amzDate || !/^\d{8}T\d{6}Z$/.test(amzDate)) {
    throw new AwsError(400, 'IncompleteSignature', `Authorization header requires existence of Credential, SignedHeaders, Signature and X-Amz-Date: ${auth}`);
  }
  const [, accessKeyId, signedHeaderList] = match;
  if (accessKeyId !== creds.accessKeyId || header(req, 'x-amz-security-token') !== creds.sessionToken) {
    throw new AwsError(403, 'InvalidClientTokenId', 'The security token included in the request is invalid.');
  }
  const signed = signedHeaderList.split(';');
  const headers: Record<string, string> = {};
  for (const name of signed) {
    const value = header(req, name);
    if (value === undefined) throw new AwsError(403, 'SignatureDoesNotMatch', SIGNATURE_MISMATCH);
    headers[name] = value;
  }
  // The signer trusts this header as the payload hash, so it alone would let a tampered body through.
  const claimedHash = headers['x-amz-content-sha256'];
  if (claimedHash !== undefined && claimedHash !== createHash('sha256').update(body).digest('hex')) {
    throw new AwsError(403, 'SignatureDoesNotMatch', SIGNATURE_MISMATCH);
  }
  const url = new URL(req.url ?? '/', 'http://localhost');
  const query: Record<string, string | string[]> = {};
  for (const key of new Set(url.searchParams.keys())) {
    const values = url.searchParams.getAll(key);
    query[key] = values.length === 1 ? values[0] : values;
  }
  const signingDate = new Date(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
  const expected = await signer.sign(
    { method: req.method ?? 'POST', protocol: 'http:', hostname: headers.host ?? '', path: url.pathname, query, headers, body },
    { signingDate, signableHeaders: new Set(signed) },
  );
  if (expected.headers.authorization !== auth) throw new AwsError(403, 'SignatureDoesNotMatch', SIGNATURE_MISMATCH);
}

function memberList(params: Record<string, string>, name: string): string[] {
  const out: string[] = [];
  for (let n = 1; params[`${name}.member.${n}`] !== undefined; n++) out.push(params[`${name}.member.${n}`]);
  return out;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

function sdkAttempt(req: IncomingMessage): number | undefined {
  const m = /attempt=(\d+)/.exec(header(req, 'amz-sdk-request') ?? '');
  return m ? Number(m[1]) : undefined;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: ServerResponse, status: number, requestId: string, body: string): void {
  res.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
  res.end(body);
}

function xml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}
