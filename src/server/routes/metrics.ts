import type { FastifyInstance } from 'fastify';
import type { AgentView } from '../view.js';

export function metricsRoute(app: FastifyInstance, view: AgentView): void {
  app.get('/metrics', async (_req, reply) => {
    const body = await view.registry.metrics();
    return reply.type(view.registry.contentType).send(body);
  });
}
