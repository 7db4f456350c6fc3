// /healthz: the agent itself is alive and scheduling. /ready: vigil's verdict
// for a load balancer: 503 while any probe is critical.
import type { FastifyInstance } from 'fastify';
import type { AgentView } from '../view.js';

export function healthRoutes(app: FastifyInstance, view: AgentView): void {
  app.get('/healthz', async (_req, reply) => {
    const problems = view.livenessProblems();
    return reply.code(problems.length === 0 ? 200 : 503).send({ status: problems.length === 0 ? 'ok' : 'unhealthy', problems });
  });
  app.get('/ready', async (_req, reply) => {
    const critical = view.status.critical();
    return reply.code(critical.length === 0 ? 200 : 503).send({ ready: critical.length === 0, critical });
  });
}
