// The remediation part of vigil.yaml: `remediations`, `maintenance`, `admin`,
// `actions` (type-wide settings such as the systemd unit allowlist) and the
// agent fields dry_run / state_dir / startup_grace / action_budget.
// src/config/schema.ts spreads these in; cross-field checks live in
// checkRemediations so every problem is reported with its YAML path.
import { z } from 'zod';
import cron from 'node-cron';
import { readFileSync } from 'node:fs';
import { duration, hostPort, positiveDuration } from '../config/fields.js';
import type { SchemaContext } from '../probes/definition.js';
import type { AnyActionDefinition } from '../actions/registry.js';
import { SecretValue } from '../server/admin-token.js';
import { checkListener, listenerFields, listenerSettings } from '../config/listener.js';
import { checkFleetRules, fleetRuleFields } from './fleet-rule.js';

const NAME_RE = /^[a-z0-9_-]+$/;
/** Shorter tokens are guessable; `openssl rand -hex 32` gives 64 characters. */
export const MIN_ADMIN_TOKEN_LENGTH = 16;

/** Agent fields this part owns (spread into `agent:`). */
export const agentRemediationFields = {
  dry_run: z.boolean().default(false),
  state_dir: z.string().min(1).default('/var/lib/vigil'),
  startup_grace: duration().default('30s'),
  /** Host-wide: at most this many actions (all rules together) per window; beyond it, `rate_limited`. */
  action_budget: z.object({
    max_actions: z.number().int().min(1).default(10),
    window: positiveDuration().default('1h'),
  }).strict().default({}),
};

const whenSchema = z.object({
  probe: z.string().optional(),
  all_of: z.array(z.string()).min(1).optional(),
  state: z.enum(['critical', 'warning']).optional(),
  failures: z.number().int().min(1).optional(),
}).strict().superRefine((w, ctx) => {
  if (w.probe === undefined && w.all_of === undefined) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'needs `probe: NAME` (and optionally `all_of: [NAME, …]` to require corroboration)' });
  }
  if (w.state !== undefined && w.failures !== undefined) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['failures'], message: 'set either state or failures, not both' });
  }
});

function actionSchema(defs: readonly AnyActionDefinition[], ctx: SchemaContext) {
  const variants = defs.map((def) => z.object({ type: z.literal(def.type), ...def.fields(ctx) }).strict());
  const union = z.discriminatedUnion('type', variants as unknown as [z.ZodDiscriminatedUnionOption<'type'>, ...z.ZodDiscriminatedUnionOption<'type'>[]], {
    errorMap: (issue, c) => issue.code === z.ZodIssueCode.invalid_union_discriminator
      ? { message: `type must be one of ${defs.map((d) => d.type).join(', ')}` }
      : { message: c.defaultError },
  });
  return union.transform((raw, zctx) => {
    const def = defs.find((d) => d.type === raw.type) as AnyActionDefinition;
    const specific = def.normalize ? def.normalize(raw, zctx) : raw;
    return { ...specific, type: def.type, definition: def } as Record<string, unknown> & { type: string; definition: AnyActionDefinition };
  });
}

function ruleSchema(defs: readonly AnyActionDefinition[], ctx: SchemaContext) {
  return z.object({
    name: z.string({ required_error: 'every remediation needs a name' }).regex(NAME_RE, 'must match [a-z0-9_-]+'),
    when: whenSchema,
    after: z.string().optional(),
    action: actionSchema(defs, ctx),
    cooldown: duration().default('5m'),
    grace: duration().default('30s'),
    max_actions: z.number().int().min(1).default(3),
    window: positiveDuration().default('1h'),
    /** After a refused precheck, how long the refusal stands before the action is asked again. */
    precheck_retry: duration().default('15s'),
    ...fleetRuleFields,
  }).strict();
}

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const maintenanceSchema = z.object({
  name: z.string().regex(NAME_RE, 'must match [a-z0-9_-]+').optional(),
  schedule: z.string(),
  duration: positiveDuration(),
  timezone: z.string().optional(),
}).strict().superRefine((m, ctx) => {
  // Windows start on the minute: five fields, as crontab writes them.
  if (m.schedule.trim().split(/\s+/).length !== 5 || !cron.validate(m.schedule)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['schedule'], message: `"${m.schedule}" is not a 5-field cron expression (minute hour day month weekday, e.g. "0 2 * * SUN")` });
  }
  if (m.timezone !== undefined && !validTimeZone(m.timezone)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['timezone'], message: `"${m.timezone}" is not an IANA time zone (e.g. Europe/Berlin, UTC)` });
  }
});

const adminSchema = z.object({
  listen: hostPort().default('127.0.0.1:9818'),
  token_file: z.string().optional(),
  ...listenerFields({ maxConnections: 16 }, { basicAuth: false, key: 'admin' }),
}).strict().transform((a, ctx) => {
  checkListener(a, '', ctx);
  const listener = listenerSettings(a);
  if (a.token_file === undefined) return { listen: a.listen, token_file: undefined, token: undefined, listener };
  let text: string;
  try {
    text = readFileSync(a.token_file, 'utf8').trim();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['token_file'], message: `cannot read ${a.token_file} (${code}); create it, e.g. \`openssl rand -hex 32 > ${a.token_file}\`, readable only by the agent` });
    return { listen: a.listen, token_file: a.token_file, token: undefined, listener };
  }
  if (text.length > 0 && text.length < MIN_ADMIN_TOKEN_LENGTH) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['token_file'], message: `the token in ${a.token_file} is shorter than ${MIN_ADMIN_TOKEN_LENGTH} characters; write a random one, e.g. \`openssl rand -hex 32 > ${a.token_file}\`` });
  } else if (text.length === 0) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['token_file'], message: `${a.token_file} is empty; write a random token, e.g. \`openssl rand -hex 32 > ${a.token_file}\`` });
  } else if (/\s/.test(text)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['token_file'], message: `the token in ${a.token_file} contains whitespace; a Bearer token cannot, so it would never match: write one without, e.g. \`openssl rand -hex 32 > ${a.token_file}\`` });
  }
  return { listen: a.listen, token_file: a.token_file, token: new SecretValue(text), listener };
});

function actionSettingsSchema(defs: readonly AnyActionDefinition[], ctx: SchemaContext) {
  const shape: z.ZodRawShape = {};
  for (const def of defs) if (def.settings) shape[def.type] = z.object(def.settings(ctx)).strict().default({});
  return z.object(shape).strict().default({}) as z.ZodType<Record<string, Record<string, unknown>>, z.ZodTypeDef, unknown>;
}

/** Top-level keys this part owns (spread into the root object). */
export function remediationTopLevel(defs: readonly AnyActionDefinition[], ctx: SchemaContext) {
  return {
    remediations: z.array(ruleSchema(defs, ctx)).default([]),
    maintenance: z.array(maintenanceSchema).default([]),
    admin: adminSchema.optional(),
    actions: actionSettingsSchema(defs, ctx),
  };
}

type Rule = z.output<ReturnType<typeof ruleSchema>>;
export type RemediationRuleConfig = Rule;
export type MaintenanceConfig = z.output<typeof maintenanceSchema>;
export type AdminConfig = z.output<typeof adminSchema>;

interface CheckInput {
  readonly agent: { readonly listen: { readonly host: string; readonly port: number } };
  readonly admin?: { readonly listen: { readonly host: string; readonly port: number } };
  readonly probes: ReadonlyArray<{ readonly name: string; readonly schedule?: { readonly kind: string; readonly everyMs?: number } }>;
  readonly remediations: readonly Rule[];
  readonly actions: Record<string, Record<string, unknown>>;
  readonly coordination?: unknown;
}

/** Cross-field checks: probe and rule references, escalation cycles, action settings (e.g. the unit allowlist). */
export function checkRemediations(cfg: CheckInput, zctx: z.RefinementCtx): void {
  const issue = (path: Array<string | number>, message: string) => zctx.addIssue({ code: z.ZodIssueCode.custom, path, message });
  const probeNames = new Set(cfg.probes.map((p) => p.name));
  const known = probeNames.size ? ` (probes: ${[...probeNames].join(', ')})` : ' (no probes are configured)';
  const a = cfg.admin?.listen;
  if (a && a.port !== 0 && a.port === cfg.agent.listen.port && a.host === cfg.agent.listen.host) {
    issue(['admin', 'listen'], `must differ from agent.listen (${a.host}:${a.port}): the admin API has its own listener`);
  }
  const ruleIndex = new Map<string, number>();
  cfg.remediations.forEach((r, i) => {
    const first = ruleIndex.get(r.name);
    if (first !== undefined) issue(['remediations', i, 'name'], `duplicate remediation name "${r.name}" (also remediations[${first}])`);
    else ruleIndex.set(r.name, i);
    if (!r?.when || !r.action) return; // already reported by the field's own schema
    if (r.when.probe !== undefined && !probeNames.has(r.when.probe)) issue(['remediations', i, 'when', 'probe'], `no probe named "${r.when.probe}"${known}`);
    r.when.all_of?.forEach((p, j) => {
      if (!probeNames.has(p)) issue(['remediations', i, 'when', 'all_of', j], `no probe named "${p}"${known}`);
    });
    const def = r.action.definition;
    if (def) def.validate?.(r.action, cfg.actions[def.type] ?? {}, (path, message) => issue(['remediations', i, 'action', ...path], message));
  });
  cfg.remediations.forEach((r, i) => {
    if (r.after === undefined) return;
    if (r.after === r.name) { issue(['remediations', i, 'after'], 'a rule cannot escalate from itself'); return; }
    if (!ruleIndex.has(r.after)) { issue(['remediations', i, 'after'], `no remediation named "${r.after}"`); return; }
    // Walk the chain: a cycle would leave every rule in it waiting for another forever.
    const seen = new Set([r.name]);
    for (let cur: string | undefined = r.after; cur !== undefined; cur = cfg.remediations[ruleIndex.get(cur) ?? -1]?.after) {
      if (seen.has(cur)) { issue(['remediations', i, 'after'], `escalation cycle: ${[...seen, cur].join(' → ')}`); return; }
      seen.add(cur);
    }
  });
  checkFleetRules(cfg, issue);
}
