// GET /: the status page (server-rendered HTML, no scripts, no external
// assets). The policy headers make that a rule the browser enforces too: a
// value that somehow escaped escaping still could not run or load anything.
import type { FastifyInstance } from 'fastify';
import type { AgentView } from '../view.js';
import { statusDocument } from '../status-document.js';
import { refreshSeconds, renderStatusPage } from '../page/render.js';

const POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

export function pageRoute(app: FastifyInstance, view: AgentView): void {
  app.get<{ Querystring: { refresh?: string } }>('/', async (req, reply) => {
    const body = renderStatusPage(statusDocument(view), { now: Date.now(), refresh: refreshSeconds(req.query.refresh) });
    return reply.type('text/html; charset=utf-8')
      .header('content-security-policy', POLICY)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', 'no-store')
      .send(body);
  });
}
