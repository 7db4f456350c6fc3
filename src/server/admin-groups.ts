// Admin routes for active/standby groups: look, pause, resume, switch over.
// Registered on the admin app (token already checked); the gates live in
// groups/groups.ts and answer with a stable code and what to do.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Logger } from 'pino';

type Answer =
  | { readonly ok: true; readonly body: Record<string, unknown> }
  | { readonly ok: false; readonly status: number; readonly code: string; readonly message: string };

export interface GroupControl {
  status(): Record<string, unknown>;
  pause(group: string, by: string, note: string | undefined): Promise<Answer>;
  resume(group: string, by: string): Promise<Answer>;
  switchover(group: string, to: string | undefined, by: string): Promise<Answer>;
}

interface Params { group: string }

const MAX_TEXT = 200;

function text(body: unknown, key: string): string | undefined {
  const v = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[key] : undefined;
  return typeof v === 'string' && v.trim() ? v.trim().slice(0, MAX_TEXT) : undefined;
}

async function answer(reply: FastifyReply, run: () => Promise<Answer>, ok = 200): Promise<FastifyReply> {
  let a: Answer;
  try {
    a = await run();
  } catch (err) {
    return reply.code(503).send({ code: 'VIGIL_E_ETCD_UNAVAILABLE', message: `etcd did not answer (${(err as Error).message.slice(0, 200)}); try again` });
  }
  return a.ok ? reply.code(ok).send(a.body) : reply.code(a.status).send({ code: a.code, message: a.message });
}

export function groupAdminRoutes(app: FastifyInstance, groups: GroupControl, logger: Logger): void {
  app.get('/v1/groups', async () => groups.status());

  app.post<{ Params: Params }>('/v1/groups/:group/pause', async (req, reply) => {
    const by = text(req.body, 'by') ?? `admin-api@${req.ip}`;
    logger.warn({ remote: req.ip, group: req.params.group, by }, 'admin API: group pause requested');
    return answer(reply, () => groups.pause(req.params.group, by, text(req.body, 'note')));
  });

  app.post<{ Params: Params }>('/v1/groups/:group/resume', async (req, reply) => {
    const by = text(req.body, 'by') ?? `admin-api@${req.ip}`;
    logger.warn({ remote: req.ip, group: req.params.group, by }, 'admin API: group resume requested');
    return answer(reply, () => groups.resume(req.params.group, by));
  });

  // Body {"to": "<member>"} hands the role to that member; without "to", to any eligible member but the active one.
  app.post<{ Params: Params }>('/v1/groups/:group/switchover', async (req, reply) => {
    const by = text(req.body, 'by') ?? `admin-api@${req.ip}`;
    const to = text(req.body, 'to');
    logger.warn({ remote: req.ip, group: req.params.group, to: to ?? null, by }, 'admin API: group switchover requested');
    return answer(reply, () => groups.switchover(req.params.group, to, by), 202);
  });
}
