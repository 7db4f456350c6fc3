// HTTP(S) probe: a fresh connection per run by default (as kubelet and
// blackbox_exporter do, so a dead backend behind a kept-alive socket is seen),
// status and body checks, and the peer certificate's earliest expiry.
//
// Not undici: it builds a Pool and a Client for every new connection and an
// error object (with its stack) for every reset, ~1 ms of CPU per run. A fresh
// connection goes through http-wire (a prebuilt request, one socket, one
// parser), cheaper again than node:http's ~0.3 ms; keepalive stays on
// node:http's Agent. CPU per run was the agent's main cost at 1000 probes a second.
import type { DetailedPeerCertificate } from 'node:tls';
import { z } from 'zod';
import { markedSecrets, size } from '../config/fields.js';
import { tlsConfig, earliestExpiry } from '../config/tls.js';
import { defineProbe } from './definition.js';
import { freshConnectionClient, keepAliveClient } from './http-clients.js';
import { isRedirectStatus } from './http-wire.js';
import { isHeaderName, isHeaderValue } from './http-wire-request.js';
import { classifyNetworkError, displayUrl } from './net-errors.js';
import { fail, timed } from './outcome.js';
import type { Observation, ProbeOutcome } from './types.js';

const statusSpec = z.union([
  z.number().int().min(100).max(599),
  z.string().regex(/^[1-5]xx$|^\d{3}-\d{3}$/, 'must be a code (200), a class ("2xx") or a range ("200-299")'),
]);

function statusMatcher(specs: ReadonlyArray<number | string>): (code: number) => boolean {
  const tests = specs.map((s): ((c: number) => boolean) => {
    if (typeof s === 'number') return (c) => c === s;
    if (s.endsWith('xx')) { const cls = Number(s[0]); return (c) => Math.floor(c / 100) === cls; }
    const [lo, hi] = s.split('-').map(Number);
    return (c) => c >= lo && c <= hi;
  });
  return (code) => tests.some((t) => t(code));
}

const regexList = () => z.array(z.string()).default([]).transform((list, ctx) => list.map((src, i) => {
  try {
    return new RegExp(src, 'm');
  } catch (err) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: [i], message: `invalid regular expression: ${(err as Error).message}` });
    return /$^/;
  }
}));

function isHttpUrl(text: string): boolean {
  try {
    const u = new URL(text);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

export const httpProbe = defineProbe({
  type: 'http',
  fields: (ctx) => ({
    // One check, not .url().refine(): zod runs the refinement on a failed value too (two messages).
    url: z.string().refine(isHttpUrl, 'must be an absolute http:// or https:// URL'),
    method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']).default('GET'),
    // Checked here so a bad header is refused at load (with its line), not on every run.
    headers: markedSecrets(ctx.env).superRefine((headers, c) => {
      for (const [name, value] of Object.entries(headers.values)) {
        if (!isHeaderName(name)) c.addIssue({ code: z.ZodIssueCode.custom, path: [name], message: "must be an HTTP header name (letters, digits and !#$%&'*+-.^_`|~)" });
        // The value may be a secret: the message never shows it.
        else if (!isHeaderValue(value)) c.addIssue({ code: z.ZodIssueCode.custom, path: [name], message: 'must not contain CR, LF or other control characters' });
      }
    }).default({}),
    body: z.string().optional(),
    valid_status_codes: z.array(statusSpec).min(1).default(['2xx']),
    fail_if_body_matches_regexp: regexList(),
    fail_if_body_not_matches_regexp: regexList(),
    fail_if_not_ssl: z.boolean().default(false),
    follow_redirects: z.boolean().default(true),
    max_redirects: z.number().int().min(0).max(50).default(10),
    body_size_limit: size().default('1MiB'),
    keepalive: z.boolean().default(false),
    tls: tlsConfig().optional(),
  }),
  create(cfg, deps) {
    const isValid = statusMatcher(cfg.valid_status_codes);
    const shown = displayUrl(cfg.url);
    const needBody = cfg.fail_if_body_matches_regexp.length + cfg.fail_if_body_not_matches_regexp.length > 0;
    const target = new URL(cfg.url);
    let certExpiry: number | undefined;
    const options = {
      tls: cfg.tls, limit: cfg.body_size_limit, keepBody: needBody, secureContexts: deps.secureContexts,
      onCertificate: (cert: DetailedPeerCertificate) => { certExpiry = earliestExpiry(cert); },
    };
    // keepalive: one socket kept per probe; otherwise a new connection per run
    // (and per redirect) with `Connection: close`.
    const client = cfg.keepalive
      ? keepAliveClient(options)
      : freshConnectionClient(options, { url: target, method: cfg.method, headers: cfg.headers.values, body: cfg.body });
    const follows = (hops: number) => cfg.follow_redirects && hops < cfg.max_redirects;
    // What a peer must not get back into /status or the log by echoing our request at us.
    const secretValues = [
      ...Object.entries(cfg.headers.values).filter(([k]) => cfg.headers.secrets.has(k) || CREDENTIAL_HEADER.test(k)).map(([, v]) => v),
      ...(target.password ? [decodeURIComponent(target.password)] : []),
    ].filter((v) => v.length >= 4);

    return {
      name: cfg.name,
      type: 'http',
      run: (signal) => timed(async (): Promise<ProbeOutcome> => {
        if (!cfg.keepalive) certExpiry = undefined;
        const observations: Observation[] = [];
        try {
          let url = target;
          let method: string = cfg.method;
          let body = cfg.body;
          let headers: Readonly<Record<string, string>> = cfg.headers.values;
          let res = await client.send(url, method, headers, body, follows(0), signal);
          for (let redirects = 0; follows(redirects) && res.location !== undefined && isRedirectStatus(res.status); redirects++) {
            const next = new URL(res.location, url);
            if (next.protocol !== 'http:' && next.protocol !== 'https:') {
              observations.push({ name: 'http_status_code', value: res.status });
              return fail('protocol', `${cfg.method} ${shown}: redirected (${res.status}) to a ${next.protocol} URL; only http and https redirects are followed`, observations);
            }
            // As fetch does: 303 (and 301/302 after a POST) continue as GET without a body;
            // credentials are not sent on to another origin.
            if (res.status === 303 ? method !== 'HEAD' : (res.status === 301 || res.status === 302) && method === 'POST') {
              method = 'GET';
              body = undefined;
            }
            if (next.origin !== url.origin) headers = withoutCredentials(headers, cfg.headers.secrets);
            url = next;
            res = await client.send(url, method, headers, body, follows(redirects + 1), signal);
          }
          observations.push({ name: 'http_status_code', value: res.status });
          if (certExpiry !== undefined) observations.push({ name: 'tls_cert_expiry_timestamp_seconds', value: certExpiry });
          if (cfg.fail_if_not_ssl && (url.protocol !== 'https:' || certExpiry === undefined)) {
            return fail('tls', `${shown} was not served over TLS`, observations);
          }
          if (!isValid(res.status)) {
            return fail('status', `${cfg.method} ${shown} returned status ${res.status}`, observations);
          }
          // Cut off without body checks is not a failure: nothing needed the rest.
          if (needBody && res.truncated) return fail('body', `body larger than body_size_limit (${cfg.body_size_limit} bytes)`, observations);
          const text = res.body ?? '';
          const bad = cfg.fail_if_body_matches_regexp.find((re) => re.test(text));
          if (bad) return fail('body', `body matches ${bad.source}`, observations);
          const missing = cfg.fail_if_body_not_matches_regexp.find((re) => !re.test(text));
          if (missing) return fail('body', `body does not match ${missing.source}`, observations);
          return { ok: true, message: `${cfg.method} ${shown} returned ${res.status}`, observations };
        } catch (err) {
          const { reason, message } = classifyNetworkError(err, signal.aborted);
          // The status when the head arrived and the body failed; else 0 (no response), as blackbox_exporter reports.
          if (!observations.some((o) => o.name === 'http_status_code')) observations.push({ name: 'http_status_code', value: statusOf(err) });
          if (certExpiry !== undefined) observations.push({ name: 'tls_cert_expiry_timestamp_seconds', value: certExpiry });
          return fail(reason, `${cfg.method} ${shown}: ${redactEcho(message, secretValues)}`, observations);
        }
      }),
      close: async () => { client.close(); },
    };
  },
});

function statusOf(err: unknown): number {
  const status = (err as { httpStatus?: unknown } | undefined)?.httpStatus;
  return typeof status === 'number' ? status : 0;
}

const CREDENTIAL_HEADER = /^(authorization|proxy-authorization|cookie)$/i;

/**
 * Peer text that may echo the request (a server that answers with our own
 * request line or headers): query strings, credential header values and every
 * secret value (also where a message cut it short) become "…".
 */
export function redactEcho(message: string, secrets: readonly string[]): string {
  let out = message.replace(/\?[^\s"]*/g, '?…')
    .replace(/((?:proxy-)?authorization|cookie|set-cookie)(\s*:\s*)[^"\r\n]*/gi, '$1$2…');
  for (const v of secrets) {
    out = out.split(v).join('…');
    // A quoted excerpt cut at 64 characters may end in the middle of a secret.
    for (let n = v.length - 1; n >= 4; n--) {
      const head = `${v.slice(0, n)}…`;
      if (out.includes(head)) { out = out.split(head).join('…'); break; }
    }
  }
  return out;
}

/** What may follow a redirect to another origin: no credential header, and no header whose value was configured as a secret. */
function withoutCredentials(headers: Readonly<Record<string, string>>, secrets: ReadonlySet<string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([k]) => !secrets.has(k) && !CREDENTIAL_HEADER.test(k)));
}
