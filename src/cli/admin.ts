// The operator commands, through the admin API with the token from the
// config's admin.token_file: pause/resume remediation, reset a rule's
// breaker, run a rule now, acknowledge a cluster's recovery block, switch a
// group over, pause/resume a group. Exit 0 when done, 1 when the agent said
// no (its code and message printed), 2 when it could not be asked.
import { readFile } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { CliError, reportError } from './errors.js';
import { configFile, flag, parse, positionals, str, type Parsed } from './options.js';
import { readClientConfig } from './client-config.js';
import { request, type Answer } from './http.js';

type Options = Parameters<typeof parse>[1];

interface Target { readonly url: string; readonly token: string }

async function adminTarget(p: Parsed, env: NodeJS.ProcessEnv): Promise<Target> {
  const { file } = configFile(p);
  const cfg = await readClientConfig(file, env);
  const url = str(p, 'admin')?.replace(/\/+$/, '') ?? cfg.admin?.url;
  const tokenFile = str(p, 'token-file') ?? cfg.admin?.tokenFile;
  if (!url || !tokenFile) {
    throw new CliError('VIGIL_E_ADMIN_OFF', `the admin API is off in ${file} (no admin.token_file): add \`admin: { token_file: /etc/vigil/admin.token }\``
      + ` (create it with \`openssl rand -hex 32 > /etc/vigil/admin.token; chmod 600 /etc/vigil/admin.token\`) and restart the agent`);
  }
  let token: string;
  try {
    token = (await readFile(tokenFile, 'utf8')).trim();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new CliError('VIGIL_E_TOKEN_FILE', `cannot read the admin token file ${tokenFile} (${code}): ${code === 'EACCES' ? 'run as root or as the agent\'s user' : 'is admin.token_file right?'}`);
  }
  return { url, token };
}

/** Who asked, for the agent's log and etcd's records. */
const operator = () => `${userInfo().username}@${hostname()} (vigil cli)`;

function refused(a: Answer, target: Target): CliError {
  const body = (a.body ?? {}) as { code?: unknown; message?: unknown };
  const code = typeof body.code === 'string' ? body.code : `HTTP ${a.status}`;
  const message = typeof body.message === 'string' ? body.message : a.text.slice(0, 200);
  if (a.status === 401) {
    return new CliError('VIGIL_E_ADMIN_REFUSED', `${code}: the agent at ${target.url} refused the token; is it the one the agent read at its last start or reload (after rewriting the token file, reload it: kill -HUP)?`, 1);
  }
  return new CliError('VIGIL_E_ADMIN_REFUSED', `${code}: ${message}`, 1);
}

interface Call {
  readonly path: string;
  readonly body?: Record<string, unknown>;
  readonly timeoutMs?: number;
  /** The sentence printed on success. */
  readonly done: (body: Record<string, unknown>) => string;
  /** When the answer, though 2xx, means "did not happen" (a blocked run): exit 1. */
  readonly failed?: (body: Record<string, unknown>) => boolean;
}

async function call(p: Parsed, env: NodeJS.ProcessEnv, c: Call): Promise<number> {
  const target = await adminTarget(p, env);
  const a = await request(`${target.url}${c.path}`, {
    method: 'POST', token: target.token, body: c.body ?? {}, timeoutMs: c.timeoutMs,
    hint: `is the agent running, with its admin API at ${target.url} (admin.listen)? Name another with --admin URL`,
  });
  if (a.status < 200 || a.status >= 300) throw refused(a, target);
  const body = (a.body ?? {}) as Record<string, unknown>;
  process.stdout.write(flag(p, 'json') ? `${JSON.stringify(body, null, 2)}\n` : `${c.done(body)}\n`);
  return c.failed?.(body) ? 1 : 0;
}

const COMMON: Options = { json: { type: 'boolean' }, admin: { type: 'string' }, 'token-file': { type: 'string' } };
const seg = encodeURIComponent;
const text = (v: unknown) => (typeof v === 'string' ? v : v === null || v === undefined ? '' : JSON.stringify(v));

export const ADMIN_USAGE = {
  pause: 'vigil pause [--note TEXT] [--config FILE]',
  resume: 'vigil resume [--config FILE]',
  reset: 'vigil rule reset NAME [--config FILE]',
  run: 'vigil rule run NAME [--force [--override paused,maintenance]] [--config FILE]',
  acknowledge: 'vigil cluster acknowledge NAME [--note TEXT] [--config FILE]',
  switchover: 'vigil group switchover GROUP [--to MEMBER] [--config FILE]',
  groupPause: 'vigil group pause GROUP [--note TEXT] [--config FILE]',
  groupResume: 'vigil group resume GROUP [--config FILE]',
} as const;

async function guarded(name: string, f: () => Promise<number>): Promise<number> {
  try { return await f(); } catch (err) { return reportError(name, err); }
}

export function pauseCommand(args: readonly string[], env: NodeJS.ProcessEnv, paused: boolean): Promise<number> {
  const usage = paused ? ADMIN_USAGE.pause : ADMIN_USAGE.resume;
  return guarded(paused ? 'pause' : 'resume', async () => {
    const p = parse(args, { ...COMMON, ...(paused ? { note: { type: 'string' } } : {}) }, usage);
    positionals(p, [], usage);
    const note = str(p, 'note');
    return call(p, env, {
      path: `/v1/remediation/${paused ? 'pause' : 'resume'}`, body: note ? { note } : {},
      done: (b) => (b.paused ? `remediation paused on this host${b.note ? ` (${text(b.note)})` : ''}: no rule acts until \`vigil resume\`` : 'remediation resumed: rules act again when their gates pass'),
    });
  });
}

export function ruleCommand(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [verb, ...rest] = args;
  if (verb === 'reset') {
    return guarded('rule reset', async () => {
      const p = parse(rest, COMMON, ADMIN_USAGE.reset);
      const [name] = positionals(p, ['NAME'], ADMIN_USAGE.reset);
      return call(p, env, { path: `/v1/remediation/rules/${seg(name)}/reset`, done: () => `rule ${name}: breaker reset; the rule may act again when its other gates pass` });
    });
  }
  if (verb === 'run') {
    return guarded('rule run', async () => {
      const p = parse(rest, { ...COMMON, force: { type: 'boolean' }, override: { type: 'string' } }, ADMIN_USAGE.run);
      const [name] = positionals(p, ['NAME'], ADMIN_USAGE.run);
      const q = new URLSearchParams();
      if (flag(p, 'force')) q.set('force', 'true');
      if (str(p, 'override')) q.set('override', str(p, 'override')!);
      return call(p, env, {
        path: `/v1/remediation/rules/${seg(name)}/run${q.size ? `?${q}` : ''}`,
        timeoutMs: 10 * 60_000, // the answer comes when the action has finished
        done: (b) => {
          const d = (b.decision ?? {}) as { kind?: string; reason?: string; detail?: string };
          if (!b.acted) return `rule ${name}: did not act — ${d.kind === 'blocked' ? `blocked by ${d.reason}` : d.kind ?? 'no decision'}: ${text(d.detail)}`
            + `${d.kind === 'blocked' && !flag(p, 'force') ? ' (--force skips the rule\'s own gates)' : ''}`;
          return `rule ${name}: acted (${text(b.id)}): ${text(b.outcome)}${b.detail ? ` — ${text(b.detail)}` : ''}`;
        },
        failed: (b) => !b.acted || b.outcome === 'failed',
      });
    });
  }
  return Promise.resolve(reportError('rule', new CliError('VIGIL_E_CLI_USAGE', `which? \n  ${ADMIN_USAGE.reset}\n  ${ADMIN_USAGE.run}`)));
}

export function acknowledgeCommand(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  return guarded('cluster acknowledge', async () => {
    const p = parse(args, { ...COMMON, note: { type: 'string' } }, ADMIN_USAGE.acknowledge);
    const [name] = positionals(p, ['NAME'], ADMIN_USAGE.acknowledge);
    const note = str(p, 'note');
    return call(p, env, {
      path: `/v1/clusters/${seg(name)}/acknowledge`, body: { by: operator(), ...(note ? { note } : {}) },
      done: (b) => (b.acknowledged ? `cluster ${name}: recovery block lifted; the next failure may fail over again` : `cluster ${name}: ${text(b.message)}`),
    });
  });
}

export function groupAdminCommand(verb: 'switchover' | 'pause' | 'resume', args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const usage = verb === 'switchover' ? ADMIN_USAGE.switchover : verb === 'pause' ? ADMIN_USAGE.groupPause : ADMIN_USAGE.groupResume;
  return guarded(`group ${verb}`, async () => {
    const p = parse(args, { ...COMMON, ...(verb === 'switchover' ? { to: { type: 'string' } } : verb === 'pause' ? { note: { type: 'string' } } : {}) }, usage);
    const [group] = positionals(p, ['GROUP'], usage);
    const to = str(p, 'to');
    const note = str(p, 'note');
    return call(p, env, {
      path: `/v1/groups/${seg(group)}/${verb}`, body: { by: operator(), ...(to ? { to } : {}), ...(note ? { note } : {}) },
      done: (b) => (verb === 'switchover' ? `group ${group}: switchover from ${text(b.from)} to ${b.to ? text(b.to) : 'any eligible member'} asked (valid ${text(b.expires_in_seconds)}s); \`vigil group list ${group}\` shows who took over`
        : verb === 'pause' ? `group ${group} paused: no elections, no hooks until \`vigil group resume ${group}\`` : `group ${group} resumed`),
    });
  });
}
