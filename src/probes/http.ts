// HTTP(S) probe: a fresh connection per run by default (as kubelet and
// blackbox_exporter do, so a dead backend behind a kept-alive socket is seen),
// status and body checks, and the peer certificate's earliest expiry.
import type { TLSSocket } from 'node:tls';
import { z } from 'zod';
import { Agent, buildConnector, interceptors, type Dispatcher } from 'undici';
import { secret, size } from '../config/fields.js';
import { tlsConfig, earliestExpiry, type TlsOptions } from '../config/tls.js';
import { defineProbe } from './definition.js';
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
    headers: z.record(secret(ctx.env)).default({}),
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
  create(cfg) {
    const isValid = statusMatcher(cfg.valid_status_codes);
    const shown = displayUrl(cfg.url);
    const needBody = cfg.fail_if_body_matches_regexp.length + cfg.fail_if_body_not_matches_regexp.length > 0;
    let certExpiry: number | undefined;
    const dispatcherFor = (timeoutMs: number): Dispatcher => {
      const connect = buildConnector({ ...tlsOptions(cfg.tls), timeout: timeoutMs });
      const agent = new Agent({
        // Capture the certificate at handshake; undici does not expose the socket later.
        connect: (opts, cb) => connect(opts, (err, socket) => {
          if (socket && (socket as TLSSocket).encrypted) certExpiry = earliestExpiry((socket as TLSSocket).getPeerCertificate(true));
          cb(err as Error, socket as never);
        }),
        keepAliveTimeout: cfg.keepalive ? 30_000 : 1,
        connections: cfg.keepalive ? 1 : undefined,
      });
      return cfg.follow_redirects ? agent.compose(interceptors.redirect({ maxRedirections: cfg.max_redirects })) : agent;
    };
    // With keepalive one dispatcher lives as long as the probe; otherwise one per run.
    const shared = cfg.keepalive ? dispatcherFor(cfg.timeoutMs) : undefined;

    return {
      name: cfg.name,
      type: 'http',
      run: (signal) => timed(async (): Promise<ProbeOutcome> => {
        const dispatcher = shared ?? dispatcherFor(cfg.timeoutMs);
        if (!shared) certExpiry = undefined;
        const observations: Observation[] = [];
        try {
          const res = await dispatcher.request({
            origin: new URL(cfg.url).origin,
            path: new URL(cfg.url).pathname + new URL(cfg.url).search,
            method: cfg.method,
            headers: cfg.headers,
            body: cfg.body,
            signal,
            headersTimeout: cfg.timeoutMs,
            bodyTimeout: cfg.timeoutMs,
          });
          observations.push({ name: 'http_status_code', value: res.statusCode });
          if (certExpiry !== undefined) observations.push({ name: 'tls_cert_expiry_timestamp_seconds', value: certExpiry });
          const text = needBody ? await readCapped(res.body, cfg.body_size_limit) : (await res.body.dump({ limit: cfg.body_size_limit }), '');
          if (cfg.fail_if_not_ssl && certExpiry === undefined) {
            return fail('tls', `${shown} was not served over TLS`, observations);
          }
          if (!isValid(res.statusCode)) {
            return fail('status', `${cfg.method} ${shown} returned status ${res.statusCode}`, observations);
          }
          if (text === undefined) return fail('body', `body larger than body_size_limit (${cfg.body_size_limit} bytes)`, observations);
          const bad = cfg.fail_if_body_matches_regexp.find((re) => re.test(text));
          if (bad) return fail('body', `body matches ${bad.source}`, observations);
          const missing = cfg.fail_if_body_not_matches_regexp.find((re) => !re.test(text));
          if (missing) return fail('body', `body does not match ${missing.source}`, observations);
          return { ok: true, message: `${cfg.method} ${shown} returned ${res.statusCode}`, observations };
        } catch (err) {
          const { reason, message } = classifyNetworkError(err, signal.aborted);
          // No response: 0, as blackbox_exporter reports, rather than a stale code.
          if (!observations.some((o) => o.name === 'http_status_code')) observations.push({ name: 'http_status_code', value: 0 });
          if (certExpiry !== undefined) observations.push({ name: 'tls_cert_expiry_timestamp_seconds', value: certExpiry });
          return fail(reason, `${cfg.method} ${shown}: ${message}`, observations);
        } finally {
          if (!shared) void dispatcher.destroy().catch(() => undefined);
        }
      }),
      close: async () => { await shared?.close(); },
    };
  },
});

function tlsOptions(tls: TlsOptions | undefined): Record<string, unknown> {
  if (!tls) return {};
  return { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: tls.rejectUnauthorized, servername: tls.servername };
}

/** The body as text, or undefined when it is longer than the limit. */
async function readCapped(body: AsyncIterable<Buffer> & { destroy(): unknown }, limit: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.length;
    if (total > limit) { body.destroy(); return undefined; }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
