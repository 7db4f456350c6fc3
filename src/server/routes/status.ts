// /status: everything an operator needs to see why a probe is in its state,
// as JSON keyed by probe name. No config values: nothing secret can leak.
import type { FastifyInstance } from 'fastify';
import type { AgentView } from '../view.js';

export function statusRoute(app: FastifyInstance, view: AgentView): void {
  app.get('/status', async () => {
    const info = view.info();
    const probes: Record<string, unknown> = {};
    for (const p of view.status.all()) {
      probes[p.name] = {
        name: p.name,
        type: p.type,
        state: p.health.state,
        consecutive_failures: p.health.consecutiveFailures,
        consecutive_successes: p.health.consecutiveSuccesses,
        last_change: p.lastChange ?? null,
        last_result: p.lastResult ?? null,
        history: [...p.failures, ...p.successes].sort((a, b) => (a.time < b.time ? 1 : -1)),
      };
    }
    return {
      agent: {
        version: info.version,
        started_at: new Date(info.startedAt).toISOString(),
        config_file: info.configFile,
        last_reload: { successful: info.lastReload.ok, time: new Date(info.lastReload.at).toISOString(), problems: info.lastReload.problems },
      },
      probes,
      ...view.statusSections(),
    };
  });
}
