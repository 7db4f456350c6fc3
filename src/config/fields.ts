// Reusable schema pieces: durations, sizes, ratios, host:port, secrets.
// Parsed values are plain numbers (milliseconds, bytes) so nothing downstream
// parses text again.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseDuration, parseSize } from './durations.js';

/** Node's timers wait at most 2^31-1 ms (~24.8 days): a longer delay fires at once, every time. */
export const MAX_DURATION_MS = 24 * 86_400_000;

export const duration = ({ positive = false }: { positive?: boolean } = {}) =>
  z.string({ invalid_type_error: 'must be a duration like 500ms, 5s, 1m or 1h30m' })
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `"${text}" is not a duration like 500ms, 5s, 1m or 1h30m` });
        return z.NEVER;
      }
      // Checked here, not in a .refine(): zod runs refinements on a value that
      // already failed, which printed a second, wrong "must be longer than 0s".
      if (positive && ms <= 0) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be longer than 0s' });
        return z.NEVER;
      }
      if (ms > MAX_DURATION_MS) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `"${text}" is too long: durations are at most 24d (a timer cannot wait longer)` });
        return z.NEVER;
      }
      return ms;
    });

export const positiveDuration = () => duration({ positive: true });

export const size = () =>
  z.union([z.number(), z.string()], { invalid_type_error: 'must be a size like 10GiB, 512MiB or a number of bytes' })
    .transform((v, ctx) => {
      const bytes = parseSize(v);
      if (bytes === undefined) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `"${v}" is not a size like 10GiB, 512MiB or a number of bytes` });
        return z.NEVER;
      }
      return bytes;
    });

export const ratio = () => z.number({ invalid_type_error: 'must be a number between 0 and 1' })
  .min(0, 'must be between 0 and 1').max(1, 'must be between 0 and 1');

const HOST_PORT_RE = /^(\[[0-9a-fA-F:]+\]|[^\s:[\]]+):(\d{1,5})$/;
export interface HostPort { host: string; port: number }
export const hostPort = () =>
  z.string({ invalid_type_error: 'must be host:port' }).transform((text, ctx): HostPort => {
    const m = HOST_PORT_RE.exec(text);
    const port = m ? Number(m[2]) : NaN;
    if (!m || port < 0 || port > 65535) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `"${text}" is not host:port (e.g. 127.0.0.1:9817 or [::1]:9817)` });
      return z.NEVER;
    }
    return { host: m[1].replace(/^\[|\]$/g, ''), port };
  });

const ENV_RE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** "${NAME}" references replaced from the environment; unset names are reported. */
export function expandEnv(text: string, env: NodeJS.ProcessEnv, ctx: z.RefinementCtx): string {
  return text.replace(ENV_RE, (_all, name: string) => {
    const value = env[name];
    if (value === undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `environment variable ${name} is not set` });
      return '';
    }
    return value;
  });
}

/** A secret file's content without the trailing newline editors add. */
export function readSecretFile(path: string, ctx: z.RefinementCtx): string {
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `cannot read secret file ${path} (${code})` });
    return '';
  }
}

/**
 * A secret value: a string in which ${ENV} references are expanded, or
 * `{ file: /path }` whose content is the value. The value never reaches logs,
 * /status or labels: callers keep it inside the probe or action that uses it.
 */
export const secret = (env: NodeJS.ProcessEnv) =>
  z.union([z.string(), z.object({ file: z.string() }).strict()], {
    // A union that matches neither branch reports invalid_union ("Invalid input"), not a type error.
    errorMap: (issue, c) => (issue.code === z.ZodIssueCode.invalid_union || issue.code === z.ZodIssueCode.invalid_type
      ? { message: 'must be a string (may use ${ENV}) or { file: /path/to/secret }' } : { message: c.defaultError }),
  }).transform((v, ctx) => (typeof v === 'string' ? expandEnv(v, env, ctx) : readSecretFile(v.file, ctx)));

/** A map of values some of which may be secrets, and which ones were (a `{ file: }` or a `${ENV}` value). */
export interface MarkedValues { readonly values: Readonly<Record<string, string>>; readonly secrets: ReadonlySet<string> }

/** Like a record of {@link secret}, remembering which entries were secrets (so they are never sent where they should not go). */
export const markedSecrets = (env: NodeJS.ProcessEnv) =>
  z.record(z.union([z.string(), z.object({ file: z.string() }).strict()], {
    errorMap: (issue, c) => (issue.code === z.ZodIssueCode.invalid_union || issue.code === z.ZodIssueCode.invalid_type
      ? { message: 'must be a string (may use ${ENV}) or { file: /path/to/secret }' } : { message: c.defaultError }),
  })).transform((raw, ctx): MarkedValues => {
    const values: Record<string, string> = {};
    const secrets = new Set<string>();
    for (const [k, v] of Object.entries(raw)) {
      const at = { ...ctx, addIssue: (i: z.IssueData) => ctx.addIssue({ ...i, path: [...(i.path ?? []), k] }) } as z.RefinementCtx;
      if (typeof v !== 'string' || new RegExp(ENV_RE.source).test(v)) secrets.add(k);
      values[k] = typeof v === 'string' ? expandEnv(v, env, at) : readSecretFile(v.file, at);
    }
    return { values, secrets };
  });

/**
 * `key` or `key_file` (exactly one at most): the `_file` form reads the secret
 * from a file, the plain form may use ${ENV}. Returns the fields to spread into
 * an object schema; resolve them with {@link resolveSecretFile}.
 */
export function secretWithFile(key: string, env: NodeJS.ProcessEnv) {
  return {
    [key]: secret(env).optional(),
    [`${key}_file`]: z.string().optional(),
  } as Record<string, z.ZodTypeAny>;
}

export function resolveSecretFile<T extends Record<string, unknown>>(obj: T, key: string, ctx: z.RefinementCtx): T {
  const fileKey = `${key}_file`;
  const file = obj[fileKey];
  if (typeof file !== 'string') return obj;
  if (obj[key] !== undefined) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: [fileKey], message: `set either ${key} or ${fileKey}, not both` });
    return obj;
  }
  return { ...obj, [key]: readSecretFile(file, ctx) };
}
