// The fields of a `mysql_promote` action. They describe this host's
// membership in one cluster as much as the promotion itself, so the agent
// reads them to run the member loop even when the rule never fires.
import { z } from 'zod';
import { duration, hostPort, positiveDuration, resolveSecretFile, secretWithFile } from '../config/fields.js';
import { mysqlConnectionFields, mysqlTarget, normalizeMysqlConnection, type MysqlTarget } from '../mysql/connection.js';
import { HEARTBEAT_DEFAULT_DATABASE, HEARTBEAT_DEFAULT_TABLE, identifier } from '../mysql/heartbeat-table.js';
import type { SourceCredentials } from '../mysql/follower.js';
import { FIELD, leaseTimingProblems, type LeaseTiming } from '../coordination/lease-timing.js';

export const CLUSTER_NAME_RE = /^[a-z0-9_-]+$/;

const argv = () => z.array(z.string().min(1, 'must not be empty')).min(1, 'needs at least the program, e.g. [/usr/local/bin/move-writer-dns]');
const hook = () => z.object({ command: argv(), timeout: positiveDuration().default('30s') }).strict();

export const mysqlPromoteFields = (env: NodeJS.ProcessEnv) => ({
  cluster: z.string().regex(CLUSTER_NAME_RE, 'must match [a-z0-9_-]+'),
  /** As the mysql probes (address or socket, user, password…); `host` + `port` are accepted for address. */
  local: z.object({
    ...mysqlConnectionFields(env),
    host: z.string().min(1).optional(),
    port: z.number().int().min(1).max(65535).optional(),
  }).strict(),
  /** host:port the other servers replicate from and the primary record names; default local.address. */
  advertise: hostPort().optional(),
  /** Credentials followers use in CHANGE MASTER; without them the current ones are kept. */
  replication: z.object({ user: z.string().min(1), ...secretWithFile('password', env) }).strict().optional(),
  priority: z.number().int().min(0).default(100),
  max_lag_on_failover: duration().default('10s'),
  catchup_timeout: positiveDuration().default('30s'),
  recovery_block: duration().default('1h'),
  fence_timeout: positiveDuration().default('2s'),
  /** Measure lag from this pt-heartbeat table (as mysql_heartbeat writes it) instead of Seconds_Behind_Master. */
  heartbeat: z.object({
    database: identifier().default(HEARTBEAT_DEFAULT_DATABASE),
    table: identifier().default(HEARTBEAT_DEFAULT_TABLE),
  }).strict().optional(),
  pre_promote: hook().optional(),
  post_promote: hook().optional(),
  /**
   * The primary's agent holds <cluster>/primary_lease under this lease while
   * its server takes writes; a replica may promote only once the key is
   * gone. Timing rule: see src/coordination/lease-timing.ts.
   */
  primary_lease: z.object({
    ttl: positiveDuration().default('6s'),
    renew_interval: positiveDuration().default('1s'),
    renew_deadline: positiveDuration().default('3s'),
    fence_within: positiveDuration().default('1500ms'),
  }).strict().default({}),
  /** Run after the primary's agent fenced its own server (lost lease): drop a VIP, stop a proxy. */
  on_fence: hook().optional(),
  /**
   * slave_net_timeout vigil sets on replicas it points (and on replicas that
   * run with a longer one), with MASTER_HEARTBEAT_PERIOD at half of it, so an
   * IO thread notices a vanished primary host in seconds, not MariaDB's 60 s
   * default. 0s leaves the servers' settings alone.
   */
  replica_net_timeout: duration().default('4s'),
  /** How often the member loop measures, publishes and aligns with the primary record. */
  member_interval: positiveDuration().default('500ms'),
  /** A member view older than this neither confirms nor denies anything. */
  view_stale_after: positiveDuration().default('5s'),
  /** Write the first primary record (epoch 1) when none exists and the local server is a writable primary. */
  bootstrap: z.boolean().default(true),
});

type RawFields = z.output<z.ZodObject<ReturnType<typeof mysqlPromoteFields>>>;

export interface HookSpec { readonly command: readonly string[]; readonly timeoutMs: number }

/** The normalised settings of one cluster membership (also what the action uses). */
export interface FailoverSettings {
  readonly cluster: string;
  readonly local: MysqlTarget;
  readonly advertise: { readonly host: string; readonly port: number };
  readonly replication?: SourceCredentials;
  readonly priority: number;
  readonly maxLagMs: number;
  readonly catchupTimeoutMs: number;
  readonly recoveryBlockMs: number;
  readonly fenceTimeoutMs: number;
  readonly heartbeat?: { readonly database: string; readonly table: string };
  readonly prePromote?: HookSpec;
  readonly postPromote?: HookSpec;
  readonly onFence?: HookSpec;
  readonly primaryLease: LeaseTiming;
  readonly replicaNetTimeoutMs: number;
  readonly memberIntervalMs: number;
  readonly viewStaleAfterMs: number;
  readonly bootstrap: boolean;
}

/** Cross-field checks and secrets; called from the action definition's normalize. */
export function normalizePromoteFields<T extends RawFields>(cfg: T, ctx: z.RefinementCtx): T {
  const { host, port, ...conn } = cfg.local;
  if (host !== undefined || port !== undefined) {
    if (host === undefined || port === undefined || conn.address !== undefined || conn.socket !== undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['local', host === undefined ? 'host' : 'port'],
        message: 'host and port go together, instead of address or socket' });
    } else conn.address = { host, port };
  }
  const local = normalizeMysqlConnection(conn, {
    ...ctx,
    addIssue: (issue) => ctx.addIssue({ ...issue, path: ['local', ...(issue.path ?? [])] }),
  } as z.RefinementCtx);
  if (cfg.advertise === undefined && local.address === undefined) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['advertise'], message: 'local uses a socket: set advertise to the host:port other servers replicate from' });
  }
  let replication = cfg.replication;
  if (replication) {
    replication = resolveSecretFile(replication as Record<string, unknown>, 'password', ctx) as typeof replication;
    if ((replication as { password?: unknown }).password === undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['replication', 'password'], message: 'needs password or password_file' });
    }
  }
  const timing = leaseTiming(cfg.primary_lease);
  for (const p of leaseTimingProblems(timing)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['primary_lease', FIELD[p.key]], message: p.message });
  }
  if (cfg.replica_net_timeout !== 0 && (cfg.replica_net_timeout < 2000 || cfg.replica_net_timeout % 1000 !== 0)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['replica_net_timeout'], message: 'must be whole seconds, at least 2s (or 0s to leave the servers alone)' });
  }
  if (cfg.view_stale_after <= cfg.member_interval) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['view_stale_after'], message: 'must be longer than member_interval' });
  }
  return { ...cfg, local: { ...local, host: undefined, port: undefined }, replication };
}

function leaseTiming(l: RawFields['primary_lease']): LeaseTiming {
  return { ttlMs: l.ttl, renewIntervalMs: l.renew_interval, renewDeadlineMs: l.renew_deadline, fenceWithinMs: l.fence_within };
}

export function failoverSettings(cfg: RawFields): FailoverSettings {
  const local = mysqlTarget(cfg.local);
  // Reported by normalizePromoteFields when missing; a config with problems is never run.
  const adv = cfg.advertise ?? cfg.local.address ?? { host: '', port: 0 };
  const repl = cfg.replication as { user: string; password?: string } | undefined;
  return {
    cluster: cfg.cluster,
    local,
    advertise: { host: adv.host, port: adv.port },
    replication: repl?.password !== undefined ? { user: repl.user, password: repl.password } : undefined,
    priority: cfg.priority,
    maxLagMs: cfg.max_lag_on_failover,
    catchupTimeoutMs: cfg.catchup_timeout,
    recoveryBlockMs: cfg.recovery_block,
    fenceTimeoutMs: cfg.fence_timeout,
    heartbeat: cfg.heartbeat,
    prePromote: cfg.pre_promote ? { command: cfg.pre_promote.command, timeoutMs: cfg.pre_promote.timeout } : undefined,
    postPromote: cfg.post_promote ? { command: cfg.post_promote.command, timeoutMs: cfg.post_promote.timeout } : undefined,
    onFence: cfg.on_fence ? { command: cfg.on_fence.command, timeoutMs: cfg.on_fence.timeout } : undefined,
    primaryLease: leaseTiming(cfg.primary_lease),
    replicaNetTimeoutMs: cfg.replica_net_timeout,
    memberIntervalMs: cfg.member_interval,
    viewStaleAfterMs: cfg.view_stale_after,
    bootstrap: cfg.bootstrap,
  };
}
