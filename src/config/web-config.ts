// The web config file of Prometheus's exporter-toolkit (`--web.config.file`):
// TLS, basic auth users, response headers, a rate limit. Same keys and
// meaning, so one file can serve node_exporter and vigil on a host. Read
// here into plain values (certificates as PEM text, names translated for
// Node); src/server/ applies them to a listener.
import { readFileSync, statSync } from 'node:fs';
import { createSecureContext, type SecureVersion } from 'node:tls';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { duration } from './fields.js';
import { parseYamlWith, type ConfigProblem, type YamlResult } from './yaml.js';
import { CIPHER_SUITES, CLIENT_AUTH_TYPES, CURVES, TLS_VERSIONS, type ClientAuthType, type TlsVersionName } from './web-tls-names.js';

export interface WebTls {
  readonly cert: string;
  readonly key: string;
  readonly clientCa?: string;
  readonly clientAuth: ClientAuthType;
  readonly minVersion: SecureVersion;
  readonly maxVersion: SecureVersion;
  /** OpenSSL cipher list for TLS 1.2 and below; undefined = OpenSSL's defaults. */
  readonly ciphers?: string;
  /** OpenSSL curve list; undefined = OpenSSL's defaults. */
  readonly ecdhCurve?: string;
  readonly honorCipherOrder: boolean;
  /** A client certificate must carry one of these subject alternative names (exact match). */
  readonly allowedSans?: readonly string[];
}

export interface WebConfig {
  readonly file: string;
  /** Undefined: plain HTTP. */
  readonly tls?: WebTls;
  readonly http2: boolean;
  readonly headers: Readonly<Record<string, string>>;
  /** User name → bcrypt hash; empty: no basic auth. */
  readonly users: ReadonlyMap<string, string>;
  readonly rateLimit?: { readonly intervalMs: number; readonly burst: number };
  /** The files this config was read from (itself, certificates, CA): a change to any of them is a change of the config. */
  readonly sources: readonly string[];
}

/** A web config file is a few hundred bytes; certificates a few KiB. */
const MAX_WEB_CONFIG_BYTES = 1024 * 1024;

/** Headers exporter-toolkit lets a file set, with the values it accepts (empty: any). */
const HEADERS: Readonly<Record<string, readonly string[]>> = {
  'Strict-Transport-Security': [],
  'X-Content-Type-Options': ['nosniff'],
  'X-Frame-Options': ['deny', 'sameorigin'],
  'X-XSS-Protection': [],
  'Content-Security-Policy': [],
};

export const BCRYPT_HASH_RE = /^\$2[aby]\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/;
const MAKE_HASH = 'make one with `htpasswd -nBC 10 "" | tr -d \':\\n\'`';

// YAML reads `X-XSS-Protection: 1` as a number; Go's decoder into map[string]string takes it as text.
const text = () => z.union([z.string(), z.number(), z.boolean()], { invalid_type_error: 'must be a string' }).transform(String);
const nameList = (what: string, known: Readonly<Record<string, unknown>>) => z.array(z.string().refine((n) => n in known, (n) => ({
  message: `unknown ${what} "${n}" (known: ${Object.keys(known).join(', ')})`,
})));
const version = () => z.enum(Object.keys(TLS_VERSIONS) as [TlsVersionName, ...TlsVersionName[]], {
  errorMap: () => ({ message: `must be one of ${Object.keys(TLS_VERSIONS).join(', ')}` }),
});

const tlsFields = z.object({
  cert: z.string().optional(),
  key: z.string().optional(),
  client_ca: z.string().optional(),
  cert_file: z.string().optional(),
  key_file: z.string().optional(),
  client_ca_file: z.string().optional(),
  // RequireClientCert: exporter-toolkit's older name for RequireAnyClientCert, still accepted there.
  client_auth_type: z.enum([...CLIENT_AUTH_TYPES, 'RequireClientCert'], {
    errorMap: () => ({ message: `must be one of ${CLIENT_AUTH_TYPES.join(', ')}` }),
  }).optional(),
  client_allowed_sans: z.array(z.string()).optional(),
  min_version: version().default('TLS12'),
  max_version: version().default('TLS13'),
  cipher_suites: nameList('cipher suite', CIPHER_SUITES).optional(),
  prefer_server_cipher_suites: z.boolean().default(true),
  curve_preferences: nameList('curve', CURVES).optional(),
}).strict();

function webConfigSchema(file: string) {
  const dir = dirname(file);
  // Relative paths are relative to the web config file, as in exporter-toolkit.
  const at = (p: string) => (isAbsolute(p) ? p : join(dir, p));
  return z.object({
    tls_server_config: tlsFields.nullish(),
    http_server_config: z.object({
      http2: z.boolean().default(true),
      headers: z.record(text()).default({}),
    }).strict().nullish(),
    basic_auth_users: z.record(text()).nullish(),
    rate_limit: z.object({ interval: duration().default('0s'), burst: z.number().int().min(0).default(0) }).strict().nullish(),
  }).strict().transform((raw, ctx): WebConfig => {
    const sources = [file];
    const issue = (path: Array<string | number>, message: string) => ctx.addIssue({ code: z.ZodIssueCode.custom, path, message });
    const read = (key: string, path: string): string | undefined => {
      const full = at(path);
      sources.push(full);
      try {
        return readFileSync(full, 'utf8');
      } catch (err) {
        issue(['tls_server_config', key], `cannot read ${full} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
        return undefined;
      }
    };

    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(raw.http_server_config?.headers ?? {})) {
      const allowed = HEADERS[name];
      if (!allowed) issue(['http_server_config', 'headers', name], `header ${name} cannot be configured (only ${Object.keys(HEADERS).join(', ')})`);
      else if (allowed.length > 0 && !allowed.includes(value)) issue(['http_server_config', 'headers', name], `must be one of ${allowed.join(', ')}, not "${value}"`);
      else if (value !== '') headers[name] = value; // blank: unset, as there
    }

    const users = new Map<string, string>();
    for (const [user, hash] of Object.entries(raw.basic_auth_users ?? {})) {
      if (user.includes(':')) issue(['basic_auth_users', user], 'a user name cannot contain ":" (basic auth splits user and password at the first one)');
      else if (!BCRYPT_HASH_RE.test(hash)) issue(['basic_auth_users', user], `must be a bcrypt hash like $2y$10$…; ${MAKE_HASH}`);
      else users.set(user, hash);
    }

    const rl = raw.rate_limit;
    const rateLimit = rl && rl.interval > 0 ? { intervalMs: rl.interval, burst: rl.burst } : undefined;
    if (rateLimit && rateLimit.burst < 1) issue(['rate_limit', 'burst'], 'must be at least 1 when interval is set (with 0 every request would be refused)');

    const tls = raw.tls_server_config ? tlsOf(raw.tls_server_config, read, issue) : undefined;
    return { file, tls, http2: raw.http_server_config?.http2 ?? true, headers, users, rateLimit, sources };
  });
}

type RawTls = z.output<typeof tlsFields>;

function tlsOf(t: RawTls, read: (key: string, path: string) => string | undefined, issue: (path: Array<string | number>, message: string) => void): WebTls | undefined {
  const at = (key: string) => ['tls_server_config', key];
  const pem = (inline: string | undefined, fileKey: string, file: string | undefined, inlineKey: string): string | undefined => {
    if (inline !== undefined && file !== undefined) { issue(at(fileKey), `set either ${inlineKey} or ${fileKey}, not both`); return undefined; }
    return file !== undefined ? read(fileKey, file) : inline;
  };
  if (Object.values(t).every((v) => v === undefined || v === 'TLS12' || v === 'TLS13' || v === true)) {
    // Only defaults: an empty tls_server_config, as exporter-toolkit reads it: no TLS.
    return undefined;
  }
  const cert = pem(t.cert, 'cert_file', t.cert_file, 'cert');
  const key = pem(t.key, 'key_file', t.key_file, 'key');
  const clientCa = pem(t.client_ca, 'client_ca_file', t.client_ca_file, 'client_ca');
  if (t.cert === undefined && t.cert_file === undefined) issue(at('cert_file'), 'TLS needs the server certificate: cert_file (or cert)');
  if (t.key === undefined && t.key_file === undefined) issue(at('key_file'), 'TLS needs the server key: key_file (or key)');
  const clientAuth: ClientAuthType = t.client_auth_type === 'RequireClientCert' ? 'RequireAnyClientCert' : t.client_auth_type ?? 'NoClientCert';
  const hasCa = t.client_ca !== undefined || t.client_ca_file !== undefined;
  if (hasCa && clientAuth === 'NoClientCert') {
    issue(at('client_ca_file'), 'a client CA is set but client_auth_type is NoClientCert: set client_auth_type: RequireAndVerifyClientCert to check client certificates');
  }
  if (!hasCa && (clientAuth === 'VerifyClientCertIfGiven' || clientAuth === 'RequireAndVerifyClientCert')) {
    // Go would verify against the system's public CAs: anyone with a public certificate would get in.
    issue(at('client_ca_file'), `${clientAuth} needs client_ca_file: the CA that signs your clients' certificates`);
  }
  if (t.client_allowed_sans && !(clientAuth === 'VerifyClientCertIfGiven' || clientAuth === 'RequireAndVerifyClientCert')) {
    issue(at('client_allowed_sans'), 'names in a certificate nobody verified prove nothing: set client_auth_type: RequireAndVerifyClientCert');
  }
  const minVersion = TLS_VERSIONS[t.min_version];
  const maxVersion = TLS_VERSIONS[t.max_version];
  if (t.min_version > t.max_version) issue(at('min_version'), `must not be above max_version (${t.max_version})`);
  const tls12 = (t.cipher_suites ?? []).map((n) => CIPHER_SUITES[n]).filter((n): n is string => typeof n === 'string');
  const result: WebTls = {
    cert: cert ?? '', key: key ?? '', clientCa, clientAuth, minVersion, maxVersion,
    ciphers: tls12.length > 0 ? tls12.join(':') : undefined,
    ecdhCurve: t.curve_preferences?.length ? t.curve_preferences.map((c) => CURVES[c]).join(':') : undefined,
    honorCipherOrder: t.prefer_server_cipher_suites,
    allowedSans: t.client_allowed_sans,
  };
  if (cert && key) {
    // What the listener will build: a key that does not match the certificate, a broken PEM or CA, fail here.
    try {
      createSecureContext(secureContextOptions(result));
    } catch (err) {
      issue(at(t.cert_file !== undefined ? 'cert_file' : 'cert'), `cannot use this certificate and key: ${(err as Error).message}`);
    }
  }
  return result;
}

/** The options for tls.createSecureContext / server.setSecureContext. */
export function secureContextOptions(t: WebTls) {
  return {
    cert: t.cert, key: t.key, ca: t.clientCa, minVersion: t.minVersion, maxVersion: t.maxVersion,
    ciphers: t.ciphers, ecdhCurve: t.ecdhCurve, honorCipherOrder: t.honorCipherOrder,
  };
}

/** Reads and checks a web config file; synchronous, as the vigil.yaml schema that checks it is. */
export function loadWebConfigFile(file: string): YamlResult<WebConfig> {
  const full = resolve(file);
  let body: string;
  try {
    const st = statSync(full);
    if (st.isFile() && st.size > MAX_WEB_CONFIG_BYTES) return { ok: false, problems: [{ path: '', message: `${full} is ${st.size} bytes; a web config file is at most 1 MiB` }] };
    body = readFileSync(full, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, problems: [{ path: '', message: code === 'ENOENT' ? `web config file ${full} does not exist` : `cannot read web config file ${full} (${code ?? (err as Error).message})` }] };
  }
  return parseYamlWith(body, webConfigSchema(full), {
    empty: '', emptyIsValid: true,
    notMapping: 'the top level must be a mapping with keys like tls_server_config: and basic_auth_users:',
  });
}

/** One line per problem, located in the web config file: `/etc/vigil/web.yml: tls_server_config.key_file (line 3): …`. */
export function webConfigProblemLines(file: string, problems: readonly ConfigProblem[]): string[] {
  return problems.map((p) => {
    const where = p.path ? `${p.path}${p.line !== undefined ? ` (line ${p.line})` : ''}: ` : p.line !== undefined ? `line ${p.line}: ` : '';
    return `${file}: ${where}${p.message}`;
  });
}
