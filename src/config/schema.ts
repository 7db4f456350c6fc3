// The whole vigil.yaml schema. Defaults live here; unknown keys are rejected
// everywhere (.strict()); cross-field checks run after each object parses.
import { z } from 'zod';
import cron from 'node-cron';
import { duration, hostPort, positiveDuration } from './fields.js';
import { formatDuration, parseDuration } from './durations.js';
import type { CommonProbeConfig, SchemaContext } from '../probes/definition.js';
import type { AnyProbeDefinition } from '../probes/registry.js';
import { ACTION_TYPES, type AnyActionDefinition } from '../actions/registry.js';
import { agentRemediationFields, checkRemediations, remediationTopLevel } from '../remediation/schema.js';
import { coordinationSchema } from '../coordination/etcd-client.js';
import { checkFailover } from '../failover/config.js';
import { checkGroups, groupsSchema } from '../groups/config.js';
import { checkListener, listenerFields } from './listener.js';

const NAME_RE = /^[a-z0-9_-]+$/;
const DEFAULT_INTERVAL_MS = 10_000;
const DEFAULT_TIMEOUT_MS = 5_000;

const commonProbeFields = {
  name: z.string({ required_error: 'every probe needs a name' }).regex(NAME_RE, 'must match [a-z0-9_-]+'),
  interval: positiveDuration().optional(),
  schedule: z.string().optional(),
  timeout: positiveDuration().optional(),
  interval_when_failing: positiveDuration().optional(),
  failures_before_warning: z.number().int().min(1).optional(),
  failures_before_critical: z.number().int().min(1).default(3),
  successes_before_passing: z.number().int().min(1).default(1),
  /** Whether this probe's critical state turns /ready to 503 (see README: the pool-drain risk). */
  affects_ready: z.boolean().default(true),
};

type RawCommon = z.output<z.ZodObject<typeof commonProbeFields>> & { type: string };

/** Default timeout: 5s, but always shorter than the interval it runs in. */
function defaultTimeout(everyMs: number | undefined): number {
  return everyMs !== undefined ? Math.min(DEFAULT_TIMEOUT_MS, Math.floor(everyMs * 0.8)) : DEFAULT_TIMEOUT_MS;
}

/**
 * Cross-field checks of the common keys, on the raw probe before it parses.
 * zod skips an object's transform when any of its fields failed, so done
 * afterwards these problems stayed hidden until every other field of the
 * probe was fixed; check-config must print every problem at once.
 */
function checkCommonRaw(raw: unknown, ctx: z.RefinementCtx): void {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return;
  const p = raw as Record<string, unknown>;
  const issue = (key: string, message: string) => ctx.addIssue({ code: z.ZodIssueCode.custom, path: [key], message });
  const ms = (v: unknown) => (typeof v === 'string' ? parseDuration(v) : undefined);
  if (p.interval !== undefined && p.schedule !== undefined) issue('schedule', 'set either interval or schedule, not both');
  if (typeof p.schedule === 'string' && !cron.validate(p.schedule)) {
    issue('schedule', `"${p.schedule}" is not a valid cron expression (e.g. "*/30 * * * * *")`);
  }
  const interval = ms(p.interval);
  const timeout = ms(p.timeout);
  if (timeout !== undefined && interval !== undefined && timeout > 0 && timeout >= interval) {
    issue('timeout', `must be shorter than interval ${formatDuration(interval)}`);
  }
  const whenFailing = ms(p.interval_when_failing);
  // Only when the timeout is known: given and valid, or defaulted from a valid (or absent) interval.
  const timeoutKnown = p.timeout === undefined ? p.interval === undefined || interval !== undefined : timeout !== undefined;
  if (whenFailing !== undefined && whenFailing > 0 && timeoutKnown) {
    const everyMs = interval ?? (p.schedule === undefined ? DEFAULT_INTERVAL_MS : undefined);
    const timeoutMs = timeout ?? defaultTimeout(everyMs);
    if (timeoutMs >= whenFailing) issue('interval_when_failing', `must be longer than timeout ${formatDuration(timeoutMs)}`);
  }
  const int = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v >= 1 ? v : undefined);
  const critical = p.failures_before_critical === undefined ? 3 : int(p.failures_before_critical);
  const warning = int(p.failures_before_warning);
  if (warning !== undefined && critical !== undefined && warning > critical) {
    issue('failures_before_warning', `must not exceed failures_before_critical (${critical})`);
  }
}

function normalizeCommon(p: RawCommon): CommonProbeConfig {
  const everyMs = p.interval ?? (p.schedule === undefined ? DEFAULT_INTERVAL_MS : undefined);
  const timeoutMs = p.timeout ?? defaultTimeout(everyMs);
  const warning = p.failures_before_warning ?? Math.min(1, p.failures_before_critical);
  return {
    name: p.name,
    type: p.type,
    schedule: everyMs !== undefined ? { kind: 'interval', everyMs } : { kind: 'cron', expr: p.schedule as string },
    timeoutMs,
    intervalWhenFailingMs: p.interval_when_failing,
    failures_before_warning: warning,
    failures_before_critical: p.failures_before_critical,
    successes_before_passing: p.successes_before_passing,
    affects_ready: p.affects_ready,
  };
}

function probeSchema(defs: readonly AnyProbeDefinition[], ctx: SchemaContext) {
  const variants = defs.map((def) => z.object({ type: z.literal(def.type), ...commonProbeFields, ...def.fields(ctx) }).strict());
  const union = z.discriminatedUnion('type', variants as unknown as [z.ZodDiscriminatedUnionOption<'type'>, ...z.ZodDiscriminatedUnionOption<'type'>[]], {
    errorMap: (issue, c) => issue.code === z.ZodIssueCode.invalid_union_discriminator
      ? { message: `type must be one of ${defs.map((d) => d.type).join(', ')}` }
      : { message: c.defaultError },
  });
  return z.preprocess((raw, zctx) => { checkCommonRaw(raw, zctx); return raw; }, union.transform((raw, zctx) => {
    const def = defs.find((d) => d.type === raw.type) as AnyProbeDefinition;
    const specific = def.normalize ? def.normalize(raw, zctx) : raw;
    return { ...specific, ...normalizeCommon(raw as RawCommon), definition: def };
  }));
}

/** On the raw list, so a duplicate is reported even when some probe has other problems. */
function checkUniqueNames(raw: unknown, ctx: z.RefinementCtx): void {
  if (!Array.isArray(raw)) return;
  const seen = new Map<string, number>();
  raw.forEach((p: unknown, i) => {
    const name = typeof p === 'object' && p !== null ? (p as { name?: unknown }).name : undefined;
    if (typeof name !== 'string') return;
    const first = seen.get(name);
    if (first !== undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: [i, 'name'], message: `duplicate probe name "${name}" (also probes[${first}])` });
    } else seen.set(name, i);
  });
}

export function buildConfigSchema(defs: readonly AnyProbeDefinition[], ctx: SchemaContext, actionDefs: readonly AnyActionDefinition[] = ACTION_TYPES) {
  return z.object({
    agent: z.object({
      listen: hostPort().default('127.0.0.1:9817'),
      log_level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info'),
      shutdown_timeout: duration().default('10s'),
      ...listenerFields({ maxConnections: 64 }, { basicAuth: true, key: 'agent' }),
      ...agentRemediationFields,
    }).strict().default({}),
    probes: z.preprocess((raw, zctx) => { checkUniqueNames(raw, zctx); return raw; }, z.array(probeSchema(defs, ctx)).default([])),
    ...remediationTopLevel(actionDefs, ctx),
    coordination: coordinationSchema(ctx.env).optional(),
    /** Active/standby groups this host takes part in (src/groups/). */
    groups: groupsSchema(),
  }).strict().superRefine((cfg, zctx) => {
    checkRemediations(cfg, zctx);
    checkFailover(cfg, zctx);
    checkGroups(cfg, zctx);
    checkListener(cfg.agent, 'agent', zctx);
  });
}

export type VigilConfig = z.output<ReturnType<typeof buildConfigSchema>>;
export type ProbeConfig = VigilConfig['probes'][number];
