// GET /: the status page (server-rendered HTML, no scripts, no external
// assets). The policy headers make that a rule the browser enforces too: a
// value that somehow escaped escaping still could not run or load anything.
// Gzipped for clients that accept it: at 1000 probes the page is ~50x smaller so.
import { gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import type { AgentView } from '../view.js';
import { statusDocument } from '../status-document.js';
import { refreshSeconds, renderStatusPage } from '../page/render.js';
import { STRIP_LENGTH } from '../page/probes.js';

const POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";
/** Below this a page is sent as it is: compressing costs more than it saves. */
const GZIP_OVER_BYTES = 16 * 1024;

/** The page as GET / renders it now (the benchmark times exactly this). */
export function statusPageHtml(view: AgentView, refresh: number | undefined): string {
  return renderStatusPage(statusDocument(view, { historyLimit: STRIP_LENGTH }), { now: Date.now(), refresh });
}

export function pageRoute(app: FastifyInstance, view: AgentView): void {
  app.get<{ Querystring: { refresh?: string } }>('/', async (req, reply) => {
    const body = statusPageHtml(view, refreshSeconds(req.query.refresh));
    reply.type('text/html; charset=utf-8')
      .header('content-security-policy', POLICY)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', 'no-store')
      .header('vary', 'accept-encoding');
    if (body.length > GZIP_OVER_BYTES && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
      return reply.header('content-encoding', 'gzip').send(gzipSync(body, { level: 6 }));
    }
    return reply.send(body);
  });
}
