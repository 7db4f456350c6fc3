// The whole vigil.yaml schema. Defaults live here; unknown keys are rejected
// everywhere (.strict()); cross-field checks run after each object parses.
import { z } from 'zod';
import cron from 'node-cron';
import { duration, hostPort, positiveDuration } from './fields.js';
import { formatDuration } from './durations.js';
import type { CommonProbeConfig, SchemaContext } from '../probes/definition.js';
import type { AnyProbeDefinition } from '../probes/registry.js';
import { ACTION_TYPES, type AnyActionDefinition } from '../actions/registry.js';
import { agentRemediationFields, checkRemediations, remediationTopLevel } from '../remediation/schema.js';
import { coordinationSchema } from '../coordination/etcd-client.js';
import { checkFailover } from '../failover/config.js';

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
};

type RawCommon = z.output<z.ZodObject<typeof commonProbeFields>> & { type: string };

function normalizeCommon(p: RawCommon, ctx: z.RefinementCtx): CommonProbeConfig {
  if (p.interval !== undefined && p.schedule !== undefined) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['schedule'], message: 'set either interval or schedule, not both' });
  }
  if (p.schedule !== undefined && !cron.validate(p.schedule)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['schedule'], message: `"${p.schedule}" is not a valid cron expression (e.g. "*/30 * * * * *")` });
  }
  const everyMs = p.interval ?? (p.schedule === undefined ? DEFAULT_INTERVAL_MS : undefined);
  // Default timeout: 5s, but always shorter than the interval it runs in.
  const timeoutMs = p.timeout ?? (everyMs !== undefined ? Math.min(DEFAULT_TIMEOUT_MS, Math.floor(everyMs * 0.8)) : DEFAULT_TIMEOUT_MS);
  if (p.timeout !== undefined && p.interval !== undefined && p.timeout >= p.interval) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['timeout'], message: `must be shorter than interval ${formatDuration(p.interval)}` });
  }
  if (p.interval_when_failing !== undefined && timeoutMs >= p.interval_when_failing) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['interval_when_failing'], message: `must be longer than timeout ${formatDuration(timeoutMs)}` });
  }
  const warning = p.failures_before_warning ?? Math.min(1, p.failures_before_critical);
  if (warning > p.failures_before_critical) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['failures_before_warning'], message: `must not exceed failures_before_critical (${p.failures_before_critical})` });
  }
  return {
    name: p.name,
    type: p.type,
    schedule: everyMs !== undefined ? { kind: 'interval', everyMs } : { kind: 'cron', expr: p.schedule as string },
    timeoutMs,
    intervalWhenFailingMs: p.interval_when_failing,
    failures_before_warning: warning,
    failures_before_critical: p.failures_before_critical,
    successes_before_passing: p.successes_before_passing,
  };
}

function probeSchema(defs: readonly AnyProbeDefinition[], ctx: SchemaContext) {
  const variants = defs.map((def) => z.object({ type: z.literal(def.type), ...commonProbeFields, ...def.fields(ctx) }).strict());
  const union = z.discriminatedUnion('type', variants as unknown as [z.ZodDiscriminatedUnionOption<'type'>, ...z.ZodDiscriminatedUnionOption<'type'>[]], {
    errorMap: (issue, c) => issue.code === z.ZodIssueCode.invalid_union_discriminator
      ? { message: `type must be one of ${defs.map((d) => d.type).join(', ')}` }
      : { message: c.defaultError },
  });
  return union.transform((raw, zctx) => {
    const def = defs.find((d) => d.type === raw.type) as AnyProbeDefinition;
    const specific = def.normalize ? def.normalize(raw, zctx) : raw;
    return { ...specific, ...normalizeCommon(raw as RawCommon, zctx), definition: def };
  });
}

export function buildConfigSchema(defs: readonly AnyProbeDefinition[], ctx: SchemaContext, actionDefs: readonly AnyActionDefinition[] = ACTION_TYPES) {
  return z.object({
    agent: z.object({
      listen: hostPort().default('127.0.0.1:9817'),
      log_level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info'),
      shutdown_timeout: duration().default('10s'),
      ...agentRemediationFields,
    }).strict().default({}),
    probes: z.array(probeSchema(defs, ctx)).default([]),
    ...remediationTopLevel(actionDefs, ctx),
    coordination: coordinationSchema(ctx.env).optional(),
  }).strict().superRefine((cfg, zctx) => {
    const seen = new Map<string, number>();
    cfg.probes.forEach((p, i) => {
      const first = seen.get(p.name);
      if (first !== undefined) {
        zctx.addIssue({ code: z.ZodIssueCode.custom, path: ['probes', i, 'name'], message: `duplicate probe name "${p.name}" (also probes[${first}])` });
      } else seen.set(p.name, i);
    });
    checkRemediations(cfg, zctx);
    checkFailover(cfg, zctx);
  });
}

export type VigilConfig = z.output<ReturnType<typeof buildConfigSchema>>;
export type ProbeConfig = VigilConfig['probes'][number];
