import type { FastifyInstance } from 'fastify';
import { renderExposition } from '../../metrics/exposition.js';
import type { AgentView } from '../view.js';

export function metricsRoute(app: FastifyInstance, view: AgentView): void {
  app.get('/metrics', async (_req, reply) => {
    const body = await renderExposition(view.registry);
    return reply.type(view.registry.contentType).send(body);
  });
}
