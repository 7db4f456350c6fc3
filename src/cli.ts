// vigil run | check-config | probe. Returns an exit code; never prints a
// stack trace for bad input (exit 2 for an invalid config).
import { parseArgs } from 'node:util';
import pino from 'pino';
import { Agent } from './agent.js';
import { formatProblems, loadConfigFile } from './config/load.js';
import { loadWebConfigFile, type WebConfig } from './config/web-config.js';
import { packageVersion } from './version.js';
import { Supervisor } from './supervision/supervisor.js';

const USAGE = `usage:
  vigil run [--config FILE] [--web.config.file WEB]
                                      run the agent (default config /etc/vigil/vigil.yaml); WEB: TLS and
                                      basic auth of the main listener (overrides agent.web_config_file)
  vigil check-config FILE [--web.config.file WEB]
                                      validate a config (and a web config file); exit 0 when valid, 2 when not
  vigil probe FILE NAME               run one probe once and print its result (exit 0 ok, 1 failed)
  vigil --version
`;

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'run': return run(rest, env);
    case 'check-config': return checkConfig(rest, env);
    case 'probe': return probeOnce(rest, env);
    case '--version': case 'version': process.stdout.write(`vigil ${packageVersion()} (node ${process.version})\n`); return 0;
    case undefined: case 'help': case '--help': case '-h': process.stdout.write(USAGE); return command === undefined ? 2 : 0;
    default: process.stderr.write(`vigil: unknown command "${command}"\n${USAGE}`); return 2;
  }
}

/** `--web.config.file WEB` read and checked: undefined when not given, a number (the exit code) when bad. */
function webConfigFlag(web: string | undefined): WebConfig | number | undefined {
  if (web === undefined) return undefined;
  const r = loadWebConfigFile(web);
  if (r.ok) return r.value;
  process.stderr.write(formatProblems(web, r.problems));
  return 2;
}

async function checkConfig(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { 'web.config.file': { type: 'string' } }, allowPositionals: true, strict: true });
  } catch (err) {
    process.stderr.write(`vigil check-config: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const file = parsed.positionals[0];
  if (!file) { process.stderr.write(`vigil check-config: which file?\n${USAGE}`); return 2; }
  const web = webConfigFlag(parsed.values['web.config.file']);
  const loaded = await loadConfigFile(file, Agent.loadOptions(env));
  if (!loaded.ok) { process.stderr.write(formatProblems(file, loaded.problems)); return 2; }
  if (typeof web === 'number') return web;
  process.stdout.write(`${file}: valid (${loaded.config.probes.length} probe${loaded.config.probes.length === 1 ? '' : 's'})\n`);
  return 0;
}

async function probeOnce(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [file, name] = args;
  if (!file || !name) { process.stderr.write(`vigil probe: needs FILE and NAME\n${USAGE}`); return 2; }
  const loaded = await loadConfigFile(file, Agent.loadOptions(env));
  if (!loaded.ok) { process.stderr.write(formatProblems(file, loaded.problems)); return 2; }
  if (!loaded.config.probes.some((p) => p.name === name)) {
    process.stderr.write(`vigil probe: no probe named "${name}" in ${file} (have: ${loaded.config.probes.map((p) => p.name).join(', ') || 'none'})\n`);
    return 2;
  }
  const agent = new Agent({ configFile: file, config: loaded.config, env, logger: pino({ level: 'silent' }), version: packageVersion() });
  const result = await agent.runOnce(name);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  return result?.ok ? 0 : 1;
}

async function run(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let file: string;
  let webFile: string | undefined;
  try {
    const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' }, 'web.config.file': { type: 'string' } }, strict: true });
    file = values.config ?? '/etc/vigil/vigil.yaml';
    webFile = values['web.config.file'];
  } catch (err) {
    process.stderr.write(`vigil run: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const loaded = await loadConfigFile(file, Agent.loadOptions(env));
  if (!loaded.ok) { process.stderr.write(formatProblems(file, loaded.problems)); return 2; }
  const web = webConfigFlag(webFile);
  if (typeof web === 'number') return web;
  const logger = pino({ level: loaded.config.agent.log_level, base: { app: 'vigil' }, timestamp: pino.stdTimeFunctions.isoTime });
  // READY=1/RELOADING=1/STOPPING=1/WATCHDOG=1 when systemd started us (a no-op otherwise).
  const supervisor: Supervisor = new Supervisor({ env, pid: process.pid, logger, liveness: (): string[] => agent.livenessProblems() });
  const agent: Agent = new Agent({ configFile: file, config: loaded.config, env, logger, version: packageVersion(), webConfigOverride: web, reloadObserver: supervisor });
  let address: string;
  try {
    address = await agent.start();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const listen = `${loaded.config.agent.listen.host}:${loaded.config.agent.listen.port}`;
    process.stderr.write(e.code === 'EADDRINUSE' ? `vigil: ${listen} is already in use; set agent.listen to a free address\n`
      : `vigil: cannot start: ${e.message}\n`);
    await agent.stop().catch(() => undefined);
    return 1;
  }
  logger.info({ address, probes: loaded.config.probes.length, config: file },
    `vigil ${packageVersion()} running ${loaded.config.probes.length} probes; look at ${address}/status (also /metrics, /ready, /healthz)`);
  await supervisor.ready(`serving ${address}`);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) { logger.warn({ signal }, 'second signal: exiting now'); resolve(1); return; }
      stopping = true;
      logger.info({ signal }, 'stopping: letting in-flight probes finish');
      supervisor.stopping().then(() => agent.stop()).then(() => { logger.info('stopped'); resolve(0); }, (err: Error) => { logger.error({ err: err.message }, 'error while stopping'); resolve(1); });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => { void agent.reload(); });
    process.on('unhandledRejection', (err) => logger.error({ err: err instanceof Error ? err.message : String(err) }, 'unhandled rejection (kept running)'));
  });
}
