// Role endpoints for load balancers (HAProxy `option httpchk`, an AWS target
// group, a Kubernetes readiness check): 200 when this host has the role, 503
// when it does not, 404 when it takes no part in that group or cluster. The
// body says why, for the operator reading the check's log.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { parseDuration } from '../../config/durations.js';
import type { AgentView, RoleAnswer } from '../view.js';

function send(reply: FastifyReply, a: RoleAnswer | undefined, what: string): FastifyReply {
  if (!a) return reply.code(404).send({ code: 'VIGIL_E_NO_ROLE', message: `this agent takes no part in ${what}` });
  return reply.code(a.ok ? 200 : 503).header('cache-control', 'no-store').send(a.body);
}

export function roleRoutes(app: FastifyInstance, view: AgentView): void {
  app.get<{ Params: { group: string } }>('/role/:group', async (req, reply) =>
    send(reply, view.groupRole(req.params.group, 'active'), `a group named "${req.params.group}"`));
  app.get<{ Params: { group: string } }>('/role/:group/standby', async (req, reply) =>
    send(reply, view.groupRole(req.params.group, 'standby'), `a group named "${req.params.group}"`));
  app.get<{ Params: { cluster: string; role: string }; Querystring: { max_lag?: string } }>('/mysql/:cluster/:role', async (req, reply) => {
    const { cluster, role } = req.params;
    if (role !== 'primary' && role !== 'replica') {
      return reply.code(404).send({ code: 'VIGIL_E_NO_ROLE', message: `no role "${role}": ask /mysql/${cluster}/primary or /mysql/${cluster}/replica` });
    }
    let maxLag: number | undefined;
    if (req.query.max_lag !== undefined) {
      maxLag = parseDuration(req.query.max_lag);
      if (maxLag === undefined) return reply.code(400).send({ code: 'VIGIL_E_BAD_QUERY', message: `max_lag "${req.query.max_lag.slice(0, 50)}" is not a duration like 5s` });
    }
    return send(reply, view.mysqlRole(cluster, role, maxLag), `a MySQL cluster named "${cluster}"`);
  });
}
