// Builds the HTTP app (without listening) so tests can inject() or listen on port 0.
import Fastify, { type FastifyInstance } from 'fastify';
import type { AgentView } from './view.js';
import { metricsRoute } from './routes/metrics.js';
import { statusRoute } from './routes/status.js';
import { healthRoutes } from './routes/health.js';
import { reloadRoute } from './routes/reload.js';
import { roleRoutes } from './routes/roles.js';
import { guardApp } from './guard.js';
import type { Listener } from './listener.js';
import { pageRoute } from './routes/page.js';

export function buildApp(view: AgentView, listener?: Listener): FastifyInstance {
  const app = Fastify({ logger: false, ...listener?.fastifyOptions() });
  guardApp(app, listener, 'unsafe-methods');
  metricsRoute(app, view);
  statusRoute(app, view);
  healthRoutes(app, view);
  reloadRoute(app, view);
  roleRoutes(app, view);
  pageRoute(app, view);
  return app;
}
