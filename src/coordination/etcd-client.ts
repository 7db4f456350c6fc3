// The `coordination:` part of vigil.yaml and the etcd client built from it.
// Every unary call gets a deadline: without one, a call to a cluster that
// lost quorum hangs forever, and "no lock" must be an answer, not a hang.
import { hostname } from 'node:os';
import { z } from 'zod';
import type { Etcd3, IOptions } from 'etcd3';
import { loadEtcd3 } from '../optional-deps.js';
import { hostPort, positiveDuration, resolveSecretFile, secretWithFile } from '../config/fields.js';
import { tlsConfig } from '../config/tls.js';

const MEMBER_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export const etcdConfigSchema = (env: NodeJS.ProcessEnv) => z.object({
  endpoints: z.array(hostPort()).min(1, 'needs at least one etcd endpoint (host:port)'),
  prefix: z.string().regex(/^\/[^\s]*$/, 'must start with / (e.g. /vigil)').default('/vigil'),
  tls: tlsConfig().optional(),
  username: z.string().min(1).optional(),
  ...secretWithFile('password', env),
  dial_timeout: positiveDuration().default('2s'),
  /** Deadline of each unary etcd call (get, put, txn, lease grant). */
  request_timeout: positiveDuration().default('2s'),
}).strict().transform((raw, ctx) => {
  const e = resolveSecretFile(raw as typeof raw & Record<string, unknown>, 'password', ctx) as typeof raw & { password?: string };
  if ((e.username === undefined) !== (e.password === undefined)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: [e.username === undefined ? 'username' : 'password'], message: 'username and password (or password_file) go together' });
  }
  if (e.tls && !e.tls.rejectUnauthorized) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['tls', 'insecure_skip_verify'], message: 'not supported for etcd: give the cluster\'s CA in ca_file instead' });
  }
  return {
    endpoints: e.endpoints.map((h) => `${h.host.includes(':') ? `[${h.host}]` : h.host}:${h.port}`),
    prefix: e.prefix.replace(/\/+$/, ''),
    tls: e.tls,
    auth: e.username !== undefined && e.password !== undefined ? { username: e.username, password: e.password } : undefined,
    dialTimeoutMs: e.dial_timeout,
    requestTimeoutMs: e.request_timeout,
  };
});

export type EtcdConfig = z.output<ReturnType<typeof etcdConfigSchema>>;

export const coordinationSchema = (env: NodeJS.ProcessEnv) => z.object({
  etcd: etcdConfigSchema(env),
  /** This agent's name in every cluster it joins; default: the host name. */
  member_name: z.string().regex(MEMBER_NAME_RE, 'must match [A-Za-z0-9][A-Za-z0-9_.-]*').optional(),
  /** TTL of the leases that bind member views and locks: how long a dead agent's claims outlive it. */
  lease_ttl: positiveDuration().refine((ms) => ms >= 2000 && ms % 1000 === 0, 'must be whole seconds, at least 2s').default('5s'),
}).strict();

export type CoordinationConfig = z.output<ReturnType<typeof coordinationSchema>>;

export function memberName(cfg: CoordinationConfig): string {
  return cfg.member_name ?? hostname().split('.')[0];
}

/** For logs and /status: endpoints and options, never credentials. */
export function describeEtcd(cfg: EtcdConfig): string {
  return `etcd ${cfg.endpoints.join(',')}${cfg.tls ? ' (TLS)' : ''}${cfg.auth ? ` as ${cfg.auth.username}` : ''}, prefix ${cfg.prefix || '/'}`;
}

type Policy = NonNullable<NonNullable<IOptions['faultHandling']>['global']>;

/**
 * etcd3's defaults put a circuit breaker on each host that stays open for 5 s
 * after three failures, hiding a recovered cluster from a failover that has
 * seconds to act. This policy calls straight through, and retries a failed
 * call on the next host once per configured endpoint: the deadline above
 * bounds each attempt.
 */
function passThrough(attempts: number): Policy {
  const noEvent = () => ({ dispose: () => undefined });
  return {
    onSuccess: noEvent,
    onFailure: noEvent,
    async execute(fn: (ctx: { signal: AbortSignal; attempt: number }) => unknown, signal?: AbortSignal) {
      let last: unknown;
      for (let attempt = 0; attempt < attempts; attempt++) {
        try {
          return await fn({ signal: signal ?? new AbortController().signal, attempt });
        } catch (err) {
          last = err;
          // Only transport failures are worth another host; a denied permission is an answer.
          if (!(err instanceof Error) || !loadEtcd3().isRecoverableError(err)) throw err;
        }
      }
      throw last;
    },
  } as unknown as Policy;
}

export function createEtcdClient(cfg: EtcdConfig): Etcd3 {
  const grpcOptions: Record<string, string | number> = {};
  if (cfg.tls?.servername) grpcOptions['grpc.ssl_target_name_override'] = cfg.tls.servername;
  return new (loadEtcd3().Etcd3)({
    hosts: cfg.endpoints,
    dialTimeout: cfg.dialTimeoutMs,
    credentials: cfg.tls ? {
      rootCertificate: Buffer.from(cfg.tls.ca ?? ''),
      privateKey: cfg.tls.key ? Buffer.from(cfg.tls.key) : undefined,
      certChain: cfg.tls.cert ? Buffer.from(cfg.tls.cert) : undefined,
    } : undefined,
    auth: cfg.auth ? { username: cfg.auth.username, password: cfg.auth.password } : undefined,
    grpcOptions,
    // Streams (watch, lease keepalive) live long by design; only unary calls get a deadline.
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + cfg.requestTimeoutMs }),
    faultHandling: {
      host: () => passThrough(1),
      global: passThrough(Math.max(2, cfg.endpoints.length)),
    },
  });
}
