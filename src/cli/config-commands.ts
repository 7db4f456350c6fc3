// vigil check-config and vigil probe: the config file, validated whole, by
// `--config FILE` as every subcommand takes it (or the positional FILE of the
// older form, still accepted).
import pino from 'pino';
import { Agent } from '../agent.js';
import { formatProblems, loadConfigFile } from '../config/load.js';
import { formatSize } from '../config/durations.js';
import { packageVersion } from '../version.js';
import type { ProbeResult } from '../probes/types.js';
import { CliError, reportError } from './errors.js';
import { configFile, flag, parse, str } from './options.js';
import { webConfigFlag } from './web-config-flag.js';

export const CHECK_USAGE = 'vigil check-config [--config] FILE [--web.config.file WEB]';
export const PROBE_USAGE = 'vigil probe [--json] [--config FILE] NAME   (or: vigil probe FILE NAME)';

/** `--config FILE`, else the one positional FILE (the older form); both at once must agree. */
function fileOf(p: ReturnType<typeof parse>, rest: readonly string[], usage: string): { file: string; rest: string[] } {
  const flagged = configFile(p);
  if (flagged.explicit) return { file: flagged.file, rest: [...rest] };
  if (rest.length === 0) throw new CliError('VIGIL_E_CLI_USAGE', `which file?\nusage: ${usage}`);
  return { file: rest[0], rest: rest.slice(1) };
}

export async function checkConfigCommand(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  try {
    const p = parse(args, { 'web.config.file': { type: 'string' } }, CHECK_USAGE);
    const { file, rest } = fileOf(p, p.positionals, CHECK_USAGE);
    if (rest.length > 0) throw new CliError('VIGIL_E_CLI_USAGE', `unexpected ${rest.map((x) => `"${x}"`).join(' ')}\nusage: ${CHECK_USAGE}`);
    const loaded = await loadConfigFile(file, Agent.loadOptions(env));
    const web = webConfigFlag(str(p, 'web.config.file'));
    if (!loaded.ok) { process.stderr.write(formatProblems(file, loaded.problems)); return 2; }
    if (typeof web === 'number') return web;
    process.stdout.write(`${file}: valid (${loaded.config.probes.length} probe${loaded.config.probes.length === 1 ? '' : 's'})\n`);
    return 0;
  } catch (err) {
    return reportError('check-config', err);
  }
}

/** A result in /status's words (snake_case), observations as the metrics they become. */
export function resultJson(name: string, type: string, r: ProbeResult, at: number): Record<string, unknown> {
  return {
    name, type, time: new Date(at).toISOString(), ok: r.ok, ...(r.reason ? { reason: r.reason } : {}), ...(r.message ? { message: r.message } : {}),
    duration_seconds: Math.round(r.durationSeconds * 1e6) / 1e6,
    observations: r.observations.map((o) => ({ metric: `vigil_${o.name}`, labels: o.labels ?? {}, value: Number.isNaN(o.value) ? 'NaN' : o.value })),
  };
}

function human(name: string, type: string, r: ProbeResult): string {
  const ms = r.durationSeconds < 1 ? `${(r.durationSeconds * 1000).toFixed(1)}ms` : `${r.durationSeconds.toFixed(2)}s`;
  const lines = [`${name} (${type}): ${r.ok ? 'ok' : `FAILED (${r.reason ?? 'unknown'})`} in ${ms}`];
  if (r.message) lines.push(`  ${r.message}`);
  for (const o of r.observations) {
    const labels = Object.entries(o.labels ?? {}).map(([k, v]) => `${k}="${v}"`).join(',');
    const size = o.name.endsWith('_bytes') && Number.isFinite(o.value) ? ` (${formatSize(o.value)})` : '';
    lines.push(`  vigil_${o.name}${labels ? `{${labels}}` : ''} ${o.value}${size}`);
  }
  return `${lines.join('\n')}\n`;
}

export async function probeCommand(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  try {
    const p = parse(args, { json: { type: 'boolean' } }, PROBE_USAGE);
    const pos = p.positionals;
    // `vigil probe FILE NAME` (the older form) or `vigil probe [--config FILE] NAME`.
    const { file, rest } = pos.length === 2 && !configFile(p).explicit ? { file: pos[0], rest: [pos[1]] } : { file: configFile(p).file, rest: [...pos] };
    if (rest.length !== 1) throw new CliError('VIGIL_E_CLI_USAGE', `${rest.length === 0 ? 'which probe?' : `unexpected ${rest.slice(1).map((x) => `"${x}"`).join(' ')}`}\nusage: ${PROBE_USAGE}`);
    const name = rest[0];
    const loaded = await loadConfigFile(file, Agent.loadOptions(env));
    if (!loaded.ok) { process.stderr.write(formatProblems(file, loaded.problems)); return 2; }
    const cfg = loaded.config.probes.find((x) => x.name === name);
    if (!cfg) {
      throw new CliError('VIGIL_E_CLI_USAGE', `no probe named "${name}" in ${file} (have: ${loaded.config.probes.map((x) => x.name).join(', ') || 'none'})`);
    }
    const agent = new Agent({ configFile: file, config: loaded.config, env, logger: pino({ level: 'silent' }), version: packageVersion() });
    const result = await agent.runOnce(name);
    if (!result) return 2;
    process.stdout.write(flag(p, 'json') ? `${JSON.stringify(resultJson(name, cfg.type, result, Date.now()), null, 2)}\n` : human(name, cfg.type, result));
    return result.ok ? 0 : 1;
  } catch (err) {
    return reportError('probe', err);
  }
}
