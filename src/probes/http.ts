// HTTP(S) probe: a fresh connection per run by default (as kubelet and
// blackbox_exporter do, so a dead backend behind a kept-alive socket is seen),
// status and body checks, and the peer certificate's earliest expiry.
//
// Built on node:http/https rather than undici: a fresh connection per run is
// the common case, and undici builds a Pool and a Client for every new
// connection and an error object (with its stack) for every reset, ~1 ms of
// CPU per run against ~0.3 ms here. That was the agent's main cost at 1000
// probes a second.
import http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { z } from 'zod';
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
    const tls = tlsOptions(cfg.tls);
    // keepalive: one socket kept per probe; otherwise no agent at all, which
    // makes node open a new connection and send `Connection: close`.
    const agents = cfg.keepalive
      ? { http: new http.Agent({ keepAlive: true, maxSockets: 1 }), https: new https.Agent({ keepAlive: true, maxSockets: 1, ...tls }) }
      : undefined;
    let certExpiry: number | undefined;
    // Sockets whose handshake is already watched (a kept-alive socket is handed to many requests).
    const watched = new WeakSet<object>();
    const target = new URL(cfg.url);

    const send = (url: URL, method: string, headers: Record<string, string>, body: string | undefined, signal: AbortSignal) =>
      new Promise<http.IncomingMessage>((resolve, reject) => {
        const secure = url.protocol === 'https:';
        const req = (secure ? https : http).request(url, {
          method, headers, signal,
          agent: agents ? (secure ? agents.https : agents.http) : false,
          ...(secure ? tls : {}),
        }, resolve);
        req.on('error', reject);
        if (secure) {
          req.on('socket', (socket) => {
            if (watched.has(socket)) return;
            watched.add(socket);
            // Captured at the handshake: once verification failed there is no certificate to read.
            socket.once('secureConnect', () => { certExpiry = earliestExpiry((socket as TLSSocket).getPeerCertificate(true)); });
          });
        }
        req.end(body);
      });

    return {
      name: cfg.name,
      type: 'http',
      run: (signal) => timed(async (): Promise<ProbeOutcome> => {
        if (!agents) certExpiry = undefined;
        const observations: Observation[] = [];
        try {
          let url = target;
          let method: string = cfg.method;
          let body = cfg.body;
          let headers: Record<string, string> = cfg.headers;
          let res = await send(url, method, headers, body, signal);
          for (let redirects = 0; cfg.follow_redirects && isRedirect(res) && redirects < cfg.max_redirects; redirects++) {
            res.resume();
            const next = new URL(res.headers.location as string, url);
            // As fetch does: 303 (and 301/302 after a POST) continue as GET without a body;
            // credentials are not sent on to another origin.
            if (res.statusCode === 303 ? method !== 'HEAD' : (res.statusCode === 301 || res.statusCode === 302) && method === 'POST') {
              method = 'GET';
              body = undefined;
            }
            if (next.origin !== url.origin) headers = withoutCredentials(headers);
            url = next;
            res = await send(url, method, headers, body, signal);
          }
          observations.push({ name: 'http_status_code', value: res.statusCode ?? 0 });
          const text = await readBody(res, cfg.body_size_limit, needBody);
          if (certExpiry !== undefined) observations.push({ name: 'tls_cert_expiry_timestamp_seconds', value: certExpiry });
          if (cfg.fail_if_not_ssl && (url.protocol !== 'https:' || certExpiry === undefined)) {
            return fail('tls', `${shown} was not served over TLS`, observations);
          }
          if (!isValid(res.statusCode ?? 0)) {
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
        }
      }),
      close: async () => { agents?.http.destroy(); agents?.https.destroy(); },
    };
  },
});

function isRedirect(res: http.IncomingMessage): boolean {
  const code = res.statusCode ?? 0;
  return (code === 301 || code === 302 || code === 303 || code === 307 || code === 308) && typeof res.headers.location === 'string';
}

function withoutCredentials(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([k]) => !/^(authorization|proxy-authorization|cookie)$/i.test(k)));
}

function tlsOptions(tls: TlsOptions | undefined): { ca?: string; cert?: string; key?: string; rejectUnauthorized?: boolean; servername?: string } {
  if (!tls) return {};
  return { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: tls.rejectUnauthorized, servername: tls.servername };
}

/**
 * Reads the body, at most `limit` bytes: its text when `keep`, else ''. Over
 * the limit the response is cut off: undefined when kept (the body checks
 * cannot judge it), '' otherwise (nothing needed it).
 */
function readBody(res: http.IncomingMessage, limit: number, keep: boolean): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    res.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total > limit) {
        resolve(keep ? undefined : '');
        res.destroy();
      } else if (keep) chunks.push(chunk);
    });
    res.on('end', () => resolve(keep ? Buffer.concat(chunks).toString('utf8') : ''));
    res.on('error', reject);
    res.on('close', () => {
      if (!res.complete) reject(Object.assign(new Error('the response ended before its body did'), { code: 'ECONNRESET' }));
    });
  });
}
