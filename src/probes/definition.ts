import type { z } from 'zod';
import type { Logger } from 'pino';
import type { Probe } from './types.js';
import type { SecureContexts } from './secure-contexts.js';
import type { SingleFlight } from './single-flight.js';

/** What a schema may depend on besides the YAML itself (no process globals). */
export interface SchemaContext {
  readonly env: NodeJS.ProcessEnv;
}

/** The fields every probe has, already normalised (durations in ms). */
export interface CommonProbeConfig {
  readonly name: string;
  readonly type: string;
  readonly schedule: { readonly kind: 'interval'; readonly everyMs: number } | { readonly kind: 'cron'; readonly expr: string };
  readonly timeoutMs: number;
  readonly intervalWhenFailingMs?: number;
  readonly failures_before_warning: number;
  readonly failures_before_critical: number;
  readonly successes_before_passing: number;
  /** false: a critical state does not turn /ready to 503 (a shared dependency must not drain the whole pool). */
  readonly affects_ready?: boolean;
}

export interface ProbeDeps {
  readonly logger: Logger;
  /** Outlives probe instances (reloads), so a hung call is never duplicated. */
  readonly singleFlight: SingleFlight;
  /** TLS contexts shared with the probes built at the same time (else each probe builds its own). */
  readonly secureContexts?: SecureContexts;
}

/**
 * A probe type: its own config fields, an optional cross-field check, and a
 * factory. Adding a type = one file exporting one of these + one registry line.
 */
export interface ProbeDefinition<S extends z.ZodRawShape> {
  readonly type: string;
  fields(ctx: SchemaContext): S;
  /** Cross-field checks and derived values; report problems on `ctx` with a path. */
  normalize?(cfg: z.output<z.ZodObject<S>>, ctx: z.RefinementCtx): z.output<z.ZodObject<S>>;
  create(cfg: z.output<z.ZodObject<S>> & CommonProbeConfig, deps: ProbeDeps): Probe;
}

export function defineProbe<S extends z.ZodRawShape>(def: ProbeDefinition<S>): ProbeDefinition<S> {
  return def;
}
