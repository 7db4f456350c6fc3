// /status: everything an operator needs to see why a probe is in its state,
// as JSON keyed by probe name (built by ../status-document.ts, which the
// status page shares). No config values: nothing secret can leak.
import type { FastifyInstance } from 'fastify';
import type { AgentView } from '../view.js';
import { statusDocument } from '../status-document.js';

export function statusRoute(app: FastifyInstance, view: AgentView): void {
  app.get('/status', async () => statusDocument(view));
}
