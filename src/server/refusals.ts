// Every way a listener refuses a request before a route runs, in one table:
// the status, the stable code, what to do, and the `reason` label of
// vigil_listener_requests_refused_total. Documented in docs/listeners.md.
import type { FastifyReply } from 'fastify';

export const REFUSALS = {
  host_not_allowed: {
    status: 403, code: 'VIGIL_E_HOST_NOT_ALLOWED',
    message: 'this Host is not one the listener serves: use an address listed in allowed_hosts, or add this one there',
  },
  unauthorized: {
    status: 401, code: 'VIGIL_E_UNAUTHORIZED',
    message: 'send a user and password from the listener\'s web config file (basic_auth_users) as HTTP basic auth',
  },
  auth_busy: {
    status: 503, code: 'VIGIL_E_AUTH_BUSY',
    message: 'too many password checks are waiting; retry in a second',
  },
  auth_unavailable: {
    status: 503, code: 'VIGIL_E_AUTH_UNAVAILABLE',
    message: 'the password could not be checked (the agent\'s password-checking worker failed; its log says why); retry',
  },
  rate_limited: {
    status: 429, code: 'VIGIL_E_RATE_LIMITED',
    message: 'more requests than the web config file\'s rate_limit allows; retry later',
  },
  cross_site: {
    status: 403, code: 'VIGIL_E_CROSS_SITE',
    message: 'a browser sent this from another site (Origin or Sec-Fetch-Site): vigil does not take commands from web pages; use curl or another non-browser client',
  },
  form_content_type: {
    status: 415, code: 'VIGIL_E_FORM_CONTENT_TYPE',
    message: 'a form or text/plain body is what a web page can send anywhere, so it is refused here: send no body, or Content-Type: application/json',
  },
} as const satisfies Record<string, { status: number; code: `VIGIL_E_${string}`; message: string }>;

export type RefusalReason = keyof typeof REFUSALS;

export function refuse(reply: FastifyReply, reason: RefusalReason, headers: Record<string, string> = {}): FastifyReply {
  const r = REFUSALS[reason];
  return reply.code(r.status).headers(headers).send({ code: r.code, message: r.message });
}
