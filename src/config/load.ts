// Reads vigil.yaml, validates it, and reports every problem with its YAML
// path and line. Nothing here throws for bad input: callers get a list.
import { readFile, stat } from 'node:fs/promises';
import { z } from 'zod';
import { buildConfigSchema, type VigilConfig } from './schema.js';
import { MAX_CONFIG_BYTES, parseYamlWith, tooLarge, type ConfigProblem } from './yaml.js';
import type { SchemaContext } from '../probes/definition.js';
import type { AnyProbeDefinition } from '../probes/registry.js';
import type { AnyActionDefinition } from '../actions/registry.js';

export { formatPath, formatProblems, MAX_CONFIG_BYTES, type ConfigProblem } from './yaml.js';

export type LoadResult =
  | { readonly ok: true; readonly config: VigilConfig }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[] };

export interface LoadOptions {
  readonly probeTypes: readonly AnyProbeDefinition[];
  /** Defaults to every registered action type. */
  readonly actionTypes?: readonly AnyActionDefinition[];
  readonly schema: SchemaContext;
}

export async function loadConfigFile(file: string, opts: LoadOptions): Promise<LoadResult> {
  let text: string;
  try {
    const st = await stat(file);
    if (st.isFile() && st.size > MAX_CONFIG_BYTES) return { ok: false, problems: [tooLarge(file, st.size)] };
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const message = code === 'ENOENT' ? `config file ${file} does not exist`
      : code === 'EACCES' ? `config file ${file} is not readable (permission denied)`
      : code === 'EISDIR' ? `${file} is a directory, not a config file`
      : `cannot read config file ${file}: ${(err as Error).message}`;
    return { ok: false, problems: [{ path: '', message }] };
  }
  return parseConfigText(text, opts);
}

export function parseConfigText(text: string, opts: LoadOptions): LoadResult {
  const r = parseYamlWith(text, buildConfigSchema(opts.probeTypes, opts.schema, opts.actionTypes), {
    empty: 'config file is empty: it needs at least a `probes:` list (see examples/vigil.yaml)',
    notMapping: 'the top level must be a mapping with keys like agent: and probes:',
  });
  return r.ok ? { ok: true, config: r.value } : r;
}


/**
 * The config's YAML as a plain value, with every check that does not need the
 * schema (size, nesting, syntax, keys, aliases): the CLI reads an agent's
 * coordination and admin keys from it without building the whole schema.
 */
export function parseYamlText(text: string): { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly problems: readonly ConfigProblem[] } {
  return parseYamlWith(text, z.unknown(), {
    empty: 'config file is empty: it needs at least a `probes:` list (see examples/vigil.yaml)',
    notMapping: 'the top level must be a mapping with keys like agent: and probes:',
  });
}
