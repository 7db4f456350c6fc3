// vigil run [--config FILE]: the agent in the foreground until SIGTERM or
// SIGINT (SIGHUP reloads). Returns the process's exit code.
import pino from 'pino';
import { Agent } from '../agent.js';
import { formatProblems, loadConfigFile } from '../config/load.js';
import { packageVersion } from '../version.js';
import { reportError } from './errors.js';
import { configFile, parse, positionals, str } from './options.js';
import { webConfigFlag } from './web-config-flag.js';
import { Supervisor } from '../supervision/supervisor.js';

export const RUN_USAGE = 'vigil run [--config FILE] [--web.config.file WEB]';

export async function runCommand(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  let file: string;
  let webFile: string | undefined;
  try {
    const p = parse(args, { 'web.config.file': { type: 'string' } }, RUN_USAGE);
    positionals(p, [], RUN_USAGE);
    file = configFile(p).file;
    webFile = str(p, 'web.config.file');
  } catch (err) {
    return reportError('run', err);
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
    `vigil ${packageVersion()} running ${loaded.config.probes.length} probes; look at ${address}/ (the status page; also /status, /metrics, /ready, /healthz)`);
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
