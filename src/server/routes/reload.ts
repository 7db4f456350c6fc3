import type { FastifyInstance } from 'fastify';
import type { AgentView } from '../view.js';

export function reloadRoute(app: FastifyInstance, view: AgentView): void {
  app.post('/-/reload', async (_req, reply) => {
    const outcome = await view.reload();
    return reply.code(outcome.ok ? 200 : 400).send(outcome);
  });
}
