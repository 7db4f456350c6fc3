// Command-line parsing shared by the subcommands: node:util parseArgs with
// --config/-c on every one, an error that names the subcommand's usage, and
// the config path (the flag, else a positional where the old form had one,
// else /etc/vigil/vigil.yaml).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliError } from './errors.js';

export const DEFAULT_CONFIG = '/etc/vigil/vigil.yaml';

type Options = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  readonly values: Readonly<Record<string, string | boolean | undefined>>;
  readonly positionals: readonly string[];
}

/** Parses `args` with `--config` added; a bad flag is a usage error quoting `usage`. */
export function parse(args: readonly string[], options: Options, usage: string): Parsed {
  try {
    const { values, positionals } = parseArgs({
      args: [...args], options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' }, ...options },
      allowPositionals: true, strict: true,
    });
    return { values: values as Parsed['values'], positionals };
  } catch (err) {
    throw new CliError('VIGIL_E_CLI_USAGE', `${(err as Error).message}\nusage: ${usage}`);
  }
}

export function str(p: Parsed, key: string): string | undefined {
  const v = p.values[key];
  return typeof v === 'string' ? v : undefined;
}

export function flag(p: Parsed, key: string): boolean {
  return p.values[key] === true;
}

/** Exactly `n` positionals, or a usage error naming what is missing. */
export function positionals(p: Parsed, names: readonly string[], usage: string): string[] {
  if (p.positionals.length < names.length) throw new CliError('VIGIL_E_CLI_USAGE', `needs ${names.slice(p.positionals.length).join(' and ')}\nusage: ${usage}`);
  if (p.positionals.length > names.length) throw new CliError('VIGIL_E_CLI_USAGE', `unexpected ${p.positionals.slice(names.length).map((x) => `"${x}"`).join(' ')}\nusage: ${usage}`);
  return [...p.positionals];
}

/** --config FILE, or the default; `explicit` tells whether the operator named it. */
export function configFile(p: Parsed): { file: string; explicit: boolean } {
  const file = str(p, 'config');
  return file !== undefined ? { file, explicit: true } : { file: DEFAULT_CONFIG, explicit: false };
}
