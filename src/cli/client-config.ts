// What the commands that talk to a running agent need from its config file:
// the agent's and the admin API's addresses, the admin token file, and the
// etcd settings. Read alone (the YAML checks of config/load.ts, then only
// these keys), so a probe's secret file an operator cannot read, or a
// problem elsewhere in the file, does not stop `vigil status`.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { formatProblems, parseYamlText } from '../config/load.js';
import { hostPort } from '../config/fields.js';
import { coordinationSchema, type CoordinationConfig } from '../coordination/etcd-client.js';
import { CliError } from './errors.js';

export interface ClientConfig {
  readonly file: string;
  /** http://host:port of the agent's listener (agent.listen). */
  readonly agentUrl: string;
  readonly admin: { readonly url: string; readonly tokenFile: string | undefined } | undefined;
  readonly coordination: CoordinationConfig | undefined;
}

export const DEFAULT_AGENT_URL = 'http://127.0.0.1:9817';
const DEFAULT_ADMIN = '127.0.0.1:9818';

/** A listen address as a URL to connect to: a wildcard address is reached on loopback. */
export function urlOf(listen: { host: string; port: number }): string {
  const host = listen.host === '0.0.0.0' || listen.host === '' ? '127.0.0.1' : listen.host === '::' ? '::1' : listen.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${listen.port}`;
}

const pick = (v: unknown, key: string): unknown => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>)[key] : undefined);

function field<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, value: unknown, path: string, file: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => ({ path: [path, ...i.path].join('.'), message: i.message }));
  throw new CliError('VIGIL_E_CLI_CONFIG', formatProblems(file, problems).trimEnd());
}

export async function readClientConfig(file: string, env: NodeJS.ProcessEnv): Promise<ClientConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new CliError('VIGIL_E_CLI_CONFIG', code === 'ENOENT' ? `config file ${file} does not exist; name the agent's with --config FILE`
      : `cannot read config file ${file} (${code}); run as a user who can, or name another with --config FILE`);
  }
  const y = parseYamlText(text);
  if (!y.ok) throw new CliError('VIGIL_E_CLI_CONFIG', `${formatProblems(file, y.problems).trimEnd()}\n(vigil check-config ${file} lists every problem)`);
  const agent = pick(y.value, 'agent');
  const listen = field(hostPort().default('127.0.0.1:9817'), pick(agent, 'listen'), 'agent.listen', file);
  const admin = pick(y.value, 'admin');
  const adminListen = admin === undefined ? undefined : field(hostPort().default(DEFAULT_ADMIN), pick(admin, 'listen'), 'admin.listen', file);
  const tokenFile = admin === undefined ? undefined : field(z.string().min(1).optional(), pick(admin, 'token_file'), 'admin.token_file', file);
  const coordRaw = pick(y.value, 'coordination');
  const coordination = coordRaw === undefined ? undefined : field(coordinationSchema(env), coordRaw, 'coordination', file);
  return {
    file, agentUrl: urlOf(listen),
    admin: adminListen ? { url: urlOf(adminListen), tokenFile } : undefined,
    coordination,
  };
}
