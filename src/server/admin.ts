// The admin API: a separate listener (admin.listen) for operator commands on
// remediation — pause, resume, reset a breaker, run a rule now. Every request
// needs `Authorization: Bearer <token>` (token read from admin.token_file);
// anything else gets 401 before a route runs, so it changes nothing.
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { bearerToken, type SecretValue } from './admin-token.js';
import { OPERATOR_HOLDS, type OperatorHold } from '../remediation/types.js';
import { groupAdminRoutes, type GroupControl } from './admin-groups.js';
import { guardApp } from './guard.js';
import type { Listener } from './listener.js';

export interface RemediationControl {
  status(): Record<string, unknown>;
  ruleNames(): string[];
  setPaused(paused: boolean, note?: string): Promise<{ paused: boolean; since?: number; note?: string }>;
  resetBreaker(rule: string): Promise<boolean>;
  runNow(rule: string, force: boolean, override?: readonly OperatorHold[]): Promise<{ decision: { kind: string; reason?: string; detail: string }; id?: string; outcome?: string; detail?: string } | undefined>;
}

/** Operator commands on cluster memberships (mysql_promote); absent without `coordination:`. */
export interface ClusterControl {
  status(): Record<string, unknown>;
  acknowledge(cluster: string, by: string, comment: string | undefined): Promise<{ known: boolean; acknowledged: boolean; block?: unknown }>;
}

interface RuleParams { name: string }
interface RunQuery { force?: string; override?: string }
interface NoteBody { note?: string }

const MAX_NOTE = 200;

function noteOf(body: unknown, query: unknown): string | undefined {
  const raw = (body as NoteBody | undefined)?.note ?? (query as NoteBody | undefined)?.note;
  return typeof raw === 'string' && raw.trim() ? raw.trim().slice(0, MAX_NOTE) : undefined;
}

export function buildAdminApp(control: RemediationControl, token: () => SecretValue | undefined, logger: Logger, clusters?: ClusterControl, listener?: Listener, groups?: GroupControl): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 4096, ...listener?.fastifyOptions() });
  guardApp(app, listener, 'all');
  // An empty POST with a JSON content type is fine here: every body is optional.
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body).trim();
    if (!text) { done(null, undefined); return; }
    try { done(null, JSON.parse(text)); } catch { done(Object.assign(new Error('body is not JSON'), { statusCode: 400 }), undefined); }
  });

  app.addHook('onRequest', async (req, reply) => {
    const secret = token();
    const given = bearerToken(req.headers.authorization);
    if (secret && given !== undefined && secret.matches(given)) return;
    logger.warn({ method: req.method, url: req.url.split('?')[0], remote: req.ip, had_token: given !== undefined }, 'admin API: request without a valid token refused');
    // Returning the reply ends the request here: no route runs, nothing changes.
    return reply.code(401).header('www-authenticate', 'Bearer realm="vigil-admin"').send({
      code: 'VIGIL_E_ADMIN_UNAUTHORIZED',
      message: 'send the token from admin.token_file as `Authorization: Bearer <token>`',
    });
  });

  const unknownRule = (name: string) => ({
    code: 'VIGIL_E_ADMIN_NO_RULE', message: `no remediation rule named "${name}" (rules: ${control.ruleNames().join(', ') || 'none'})`,
  });

  app.get('/v1/remediation', async () => control.status());

  app.post('/v1/remediation/pause', async (req) => {
    const note = noteOf(req.body, req.query);
    const p = await control.setPaused(true, note);
    logger.warn({ remote: req.ip, note }, 'admin API: remediation paused');
    return { paused: p.paused, since: p.since ? new Date(p.since).toISOString() : null, note: p.note ?? null };
  });

  app.post('/v1/remediation/resume', async (req) => {
    const p = await control.setPaused(false);
    logger.warn({ remote: req.ip }, 'admin API: remediation resumed');
    return { paused: p.paused };
  });

  app.post<{ Params: RuleParams }>('/v1/remediation/rules/:name/reset', async (req, reply) => {
    if (!(await control.resetBreaker(req.params.name))) return reply.code(404).send(unknownRule(req.params.name));
    return { rule: req.params.name, breaker: 'reset' };
  });

  app.post<{ Params: RuleParams; Querystring: RunQuery }>('/v1/remediation/rules/:name/run', async (req, reply) => {
    const force = req.query.force === 'true' || req.query.force === '1';
    const asked = (req.query.override ?? '').split(',').map((x) => x.trim()).filter(Boolean);
    const unknown = asked.filter((x) => !(OPERATOR_HOLDS as readonly string[]).includes(x));
    if (unknown.length > 0) {
      return reply.code(400).send({ code: 'VIGIL_E_ADMIN_BAD_OVERRIDE', message: `override takes ${OPERATOR_HOLDS.join(' and/or ')} (comma-separated), with force=true; not ${unknown.join(', ')}` });
    }
    const override = asked as OperatorHold[];
    logger.warn({ remote: req.ip, rule: req.params.name, force, override }, 'admin API: rule run requested');
    const res = await control.runNow(req.params.name, force, override);
    if (!res) return reply.code(404).send(unknownRule(req.params.name));
    return {
      rule: req.params.name, force, override, acted: res.outcome !== undefined,
      decision: res.decision, id: res.id ?? null, outcome: res.outcome ?? null, detail: res.detail ?? null,
    };
  });

  if (clusters) {
    app.get('/v1/clusters', async () => clusters.status());
    // Lifts a cluster's recovery block early (orchestrator's "acknowledge recovery"): the next failure may fail over again.
    app.post<{ Params: { cluster: string } }>('/v1/clusters/:cluster/acknowledge', async (req, reply) => {
      const body = (req.body ?? {}) as { by?: unknown };
      const by = typeof body.by === 'string' && body.by.trim() ? body.by.trim().slice(0, 100) : `admin-api@${req.ip}`;
      const comment = noteOf(req.body, req.query);
      let res;
      try {
        res = await clusters.acknowledge(req.params.cluster, by, comment);
      } catch (err) {
        return reply.code(503).send({ code: 'VIGIL_E_ETCD_UNAVAILABLE', message: `etcd did not answer (${(err as Error).message.slice(0, 200)}); try again` });
      }
      if (!res.known) {
        return reply.code(404).send({ code: 'VIGIL_E_ADMIN_NO_CLUSTER', message: `no recovery block and no membership for cluster "${req.params.cluster}"` });
      }
      logger.warn({ remote: req.ip, cluster: req.params.cluster, by, comment, acknowledged: res.acknowledged }, 'admin API: recovery block acknowledgement');
      return { cluster: req.params.cluster, acknowledged: res.acknowledged, block: res.block ?? null,
        ...(res.acknowledged ? {} : { message: res.block ? 'the block was already acknowledged' : 'no recovery block to acknowledge' }) };
    });
  }

  if (groups) groupAdminRoutes(app, groups, logger);

  app.setNotFoundHandler(async (req, reply) => reply.code(404).send({
    code: 'VIGIL_E_ADMIN_NOT_FOUND', message: `${req.method} ${req.url.split('?')[0]} is not an admin route (see docs/remediation.md)`,
  }));
  return app;
}
