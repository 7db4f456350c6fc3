// Requests a web page could make a browser send to vigil (cross-site request
// forgery): any page the operator visits can POST to 127.0.0.1:9817. A
// browser marks such a request (Origin, Sec-Fetch-Site), and without
// JavaScript-visible preflight it can only send the CORS "simple" content
// types; vigil's commands need neither, so both are refused.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { TLSSocket } from 'node:tls';
import { refuse, type RefusalReason } from './refusals.js';

/** Which requests are checked: state-changing methods only (the main listener), or all (the admin API). */
export type CrossSiteScope = 'unsafe-methods' | 'all';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const FORM_TYPES = new Set(['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain']);

interface RequestLike {
  readonly method: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

/** `host[:port]` as a URL of `scheme` writes it (default port dropped), or undefined. */
function normalHost(scheme: string, host: string): string | undefined {
  try { return new URL(`${scheme}://${host}`).host; } catch { return undefined; }
}

/** Why this request must be refused as one a browser could forge, or undefined. */
export function crossSiteReason(req: RequestLike, scheme: 'http' | 'https', scope: CrossSiteScope): RefusalReason | undefined {
  if (scope === 'unsafe-methods' && SAFE_METHODS.has(req.method)) return undefined;
  const type = one(req.headers['content-type'])?.split(';')[0].trim().toLowerCase();
  if (type !== undefined && FORM_TYPES.has(type)) return 'form_content_type';
  // same-origin, or none (typed into the address bar); same-site is another origin too (a neighbour on the domain).
  const site = one(req.headers['sec-fetch-site'])?.toLowerCase();
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return 'cross_site';
  const origin = one(req.headers.origin);
  if (origin === undefined) return undefined;
  let o: URL;
  try { o = new URL(origin); } catch { return 'cross_site'; } // includes "null" (sandboxed frames, file:)
  const host = one(req.headers.host);
  const same = o.protocol === `${scheme}:` && host !== undefined && normalHost(scheme, host) === o.host;
  return same ? undefined : 'cross_site';
}

/** An onRequest hook refusing forgeable requests; `refused` counts them. */
export function refuseCrossSite(scope: CrossSiteScope, refused?: (reason: RefusalReason) => void) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const scheme = (req.raw.socket as TLSSocket | undefined)?.encrypted ? 'https' : 'http';
    const reason = crossSiteReason(req, scheme, scope);
    if (!reason) return undefined;
    refused?.(reason);
    return refuse(reply, reason);
  };
}
