// /healthz: the agent itself is alive and scheduling. /ready: vigil's verdict
// for a load balancer: 503 while any probe that affects readiness is critical
// (affects_ready: false leaves a shared dependency's probe out, so the same
// config on every web host does not drain the whole pool at once).
import type { FastifyInstance } from 'fastify';
import type { AgentView } from '../view.js';

export function healthRoutes(app: FastifyInstance, view: AgentView): void {
  app.get('/healthz', async (_req, reply) => {
    const problems = view.livenessProblems();
    return reply.code(problems.length === 0 ? 200 : 503).send({ status: problems.length === 0 ? 'ok' : 'unhealthy', problems });
  });
  app.get('/ready', async (_req, reply) => {
    const r = view.status.readiness();
    return reply.code(r.blocking.length === 0 ? 200 : 503).send({ ready: r.blocking.length === 0, critical: r.blocking, critical_not_counted: r.ignored });
  });
}
