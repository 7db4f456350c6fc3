// The keys that secure an HTTP listener, the same under `agent:` (the main
// listener) and `admin:`: a web config file, a Host allow-list, a connection
// cap and request timeouts. The web config file is read and checked here, at
// load, so a bad one is refused with the problems by path and line.
import { z } from 'zod';
import { positiveDuration } from './fields.js';
import { loadWebConfigFile, webConfigProblemLines, type WebConfig } from './web-config.js';

export interface ListenerSettings {
  /** The web config file and what it said when vigil.yaml was loaded; undefined: plain HTTP, no basic auth. */
  readonly webConfig?: WebConfig;
  /** Lower-case `host` or `host:port` entries; empty: any Host. */
  readonly allowedHosts: readonly string[];
  readonly maxConnections: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly idleTimeoutMs: number;
}

const HOST_RE = /^(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9.-]*[a-z0-9])?)(:\d{1,5})?$/;

/** `admin:` authenticates with its bearer token; `Authorization` cannot carry basic auth as well. */
export interface WebConfigRules { readonly basicAuth: boolean; readonly key: string }

/** Reads a web config file into `ctx` issues (each prefixed with the file and its own path) or its value. */
export function checkWebConfigFile(file: string, rules: WebConfigRules, ctx: z.RefinementCtx): WebConfig | undefined {
  const r = loadWebConfigFile(file);
  if (!r.ok) {
    for (const line of webConfigProblemLines(file, r.problems)) ctx.addIssue({ code: z.ZodIssueCode.custom, message: line });
    return undefined;
  }
  if (!rules.basicAuth && r.value.users.size > 0) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${file}: basic_auth_users: ${rules.key} authenticates with its bearer token (one Authorization header cannot carry both); drop the users, and use TLS client certificates (client_auth_type: RequireAndVerifyClientCert) for a second factor` });
    return undefined;
  }
  return r.value;
}

export function listenerFields(defaults: { maxConnections: number }, rules: WebConfigRules) {
  return {
    web_config_file: z.string().min(1).transform((file, ctx) => ({ file, config: checkWebConfigFile(file, rules, ctx) })).optional(),
    allowed_hosts: z.array(z.string().transform((h, ctx) => {
      const host = h.trim().toLowerCase();
      if (!HOST_RE.test(host)) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `"${h}" is not a host name, IP address or host:port (IPv6 in brackets: [::1]:9817)` });
      return host;
    })).default([]),
    max_connections: z.number().int().min(1).max(65_535).default(defaults.maxConnections),
    headers_timeout: positiveDuration().default('5s'),
    request_timeout: positiveDuration().default('10s'),
    idle_timeout: positiveDuration().default('5s'),
  };
}

type RawListener = z.output<z.ZodObject<ReturnType<typeof listenerFields>>>;

/** headers_timeout ≤ request_timeout (Node refuses the other way round); said at the key. */
export function checkListener(raw: Partial<RawListener> | undefined, prefix: string, ctx: z.RefinementCtx): void {
  if (raw?.headers_timeout !== undefined && raw.request_timeout !== undefined && raw.headers_timeout > raw.request_timeout) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: prefix ? [prefix, 'headers_timeout'] : ['headers_timeout'], message: 'must not be longer than request_timeout (the whole request, headers included, must arrive within it)' });
  }
}

export function listenerSettings(raw: RawListener): ListenerSettings {
  return {
    webConfig: raw.web_config_file?.config,
    allowedHosts: raw.allowed_hosts,
    maxConnections: raw.max_connections,
    headersTimeoutMs: raw.headers_timeout,
    requestTimeoutMs: raw.request_timeout,
    idleTimeoutMs: raw.idle_timeout,
  };
}
