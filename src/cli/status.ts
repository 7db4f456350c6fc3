// vigil status [--json] [--watch] [--all] [--agent URL] [--config FILE]:
// the agent's /status as one screen. Exit 0 when ready with nothing to look
// at, 1 when something is warning or critical, 2 when the agent cannot be
// reached (or the config that names it cannot be read).
import { parseDuration } from '../config/durations.js';
import type { StatusDoc } from '../status/shape.js';
import { CliError, reportError } from './errors.js';
import { configFile, flag, parse, positionals, str } from './options.js';
import { DEFAULT_AGENT_URL, readClientConfig } from './client-config.js';
import { request } from './http.js';
import { renderScreen } from './status-screen.js';
import { terminalStyle } from './style.js';

export const STATUS_USAGE = 'vigil status [--json] [--watch [--interval 2s]] [--all] [--agent URL] [--config FILE]';

/** The agent's URL: --agent, else the config's agent.listen (the default config only when it exists), else 127.0.0.1:9817. */
async function agentUrl(p: ReturnType<typeof parse>, env: NodeJS.ProcessEnv): Promise<string> {
  const given = str(p, 'agent');
  if (given) return given.replace(/\/+$/, '').replace(/^(?!https?:\/\/)/, 'http://');
  const { file, explicit } = configFile(p);
  try {
    return (await readClientConfig(file, env)).agentUrl;
  } catch (err) {
    if (!explicit && err instanceof CliError && /does not exist/.test(err.message)) return DEFAULT_AGENT_URL;
    throw err;
  }
}

async function fetchStatus(url: string): Promise<StatusDoc> {
  const a = await request(`${url}/status`, { hint: 'is the agent running (systemctl status vigil)? Name its address with --agent http://HOST:PORT or its config with --config FILE', timeoutMs: 5000 });
  const doc = a.body as StatusDoc | undefined; // validated just below, as far as this command reads it
  if (a.status !== 200 || !doc || typeof doc !== 'object' || !doc.verdict || !doc.probes) {
    throw new CliError('VIGIL_E_AGENT_ANSWER', `${url}/status answered ${a.status} with ${a.text.slice(0, 120) || 'nothing'}; is ${url} a vigil agent (of this version or newer)?`);
  }
  return doc;
}

const exitOf = (doc: StatusDoc) => (doc.verdict.level === 'ok' ? 0 : 1);

export async function statusCommand(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  try {
    const p = parse(args, { json: { type: 'boolean' }, watch: { type: 'boolean', short: 'w' }, all: { type: 'boolean', short: 'a' },
      agent: { type: 'string' }, interval: { type: 'string' } }, STATUS_USAGE);
    positionals(p, [], STATUS_USAGE);
    const url = await agentUrl(p, env);
    const show = async (header = ''): Promise<number> => {
      const doc = await fetchStatus(url);
      // The frame's header goes out with its body in one write: a reader never sees a header without its screen.
      process.stdout.write(header + (flag(p, 'json') ? `${JSON.stringify(doc, null, 2)}\n`
        : renderScreen(doc, terminalStyle(process.stdout, env), { now: Date.now(), all: flag(p, 'all'), agentUrl: url })));
      return exitOf(doc);
    };
    if (!flag(p, 'watch')) return await show();
    const every = parseDuration(str(p, 'interval') ?? '2s');
    if (every === undefined || every < 500) throw new CliError('VIGIL_E_CLI_USAGE', `--interval takes a duration of at least 500ms, like 2s\nusage: ${STATUS_USAGE}`);
    return await watch(show, every);
  } catch (err) {
    return reportError('status', err);
  }
}

/** Re-draws every `every` ms until SIGINT/SIGTERM; an unreachable agent is shown and asked again (it may be restarting). */
function watch(show: (header: string) => Promise<number>, every: number): Promise<number> {
  const tty = process.stdout.isTTY === true;
  return new Promise<number>((resolve) => {
    let last = 2;
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    const stop = () => { stopped = true; clearTimeout(timer); resolve(last); };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const frame = async () => {
      // A terminal is redrawn in place; a pipe gets one frame after another, each starting with its time.
      const header = tty ? '\x1b[H\x1b[2J' : `--- ${new Date().toISOString()}\n`;
      try {
        last = await show(header);
      } catch (err) {
        process.stdout.write(header);
        last = reportError('status', err);
      }
      if (!stopped) timer = setTimeout(() => void frame(), every);
    };
    void frame();
  });
}
