// What a remediation action is, to the engine. An action never decides
// whether to act: the engine does. It only says whether it is safe right now
// (precheck), does the one thing (execute), and, after the agent died
// mid-action, tells what the world looks like (reconcile).
import type { z } from 'zod';
import type { Logger } from 'pino';
import type { SchemaContext } from '../probes/definition.js';

/**
 * `host`: changes only this host (restart a unit, mark this instance).
 * `cluster`: changes state other hosts depend on (promote a database). The
 * runner runs at most one cluster-scoped action at a time on this agent, and
 * such an action is expected to take a coordination lock in precheck,
 * re-check the problem after locking (as VTOrc does), and hand back `release`.
 */
export type ActionScope = 'host' | 'cluster';

/** The block reasons an action's own precheck may give (a subset of the engine's fixed set). */
export const PRECHECK_REASONS = ['precheck_failed', 'lock_unavailable', 'not_corroborated'] as const;
export type PrecheckReason = (typeof PRECHECK_REASONS)[number];

export interface ActionContext {
  readonly rule: string;
  /** The probe whose failure triggered the rule (the rule's first probe for a manual run). */
  readonly probe: string;
  /** The probe's failure reason (a FailureReason), or "manual". */
  readonly reason: string;
  readonly message?: string;
  /** Journal id of the intent; absent in precheck and dry runs. */
  readonly intentId?: string;
  /** In dry-run an action must not change anything, not even take a lock. */
  readonly dryRun: boolean;
  readonly forced: boolean;
  readonly signal: AbortSignal;
  readonly logger: Logger;
}

export type PrecheckResult =
  | { readonly ok: true; readonly detail?: string; readonly release?: () => Promise<void> }
  | { readonly ok: false; readonly reason: PrecheckReason; readonly detail: string };

export interface ExecuteResult {
  readonly outcome: 'succeeded' | 'failed';
  /** One line for logs, /status and the journal; no secrets. */
  readonly detail: string;
  /** Captured output (bounded by the action), journalled with the outcome. */
  readonly output?: string;
}

export const RECONCILED_OUTCOMES = ['reconciled_succeeded', 'reconciled_failed', 'reconciled_unknown'] as const;
export type ReconciledOutcome = (typeof RECONCILED_OUTCOMES)[number];
export interface ReconcileResult { readonly outcome: ReconciledOutcome; readonly detail: string }

/** An intent found in the journal without an outcome: the agent died mid-action. */
export interface PendingIntent {
  readonly id: string;
  readonly rule: string;
  readonly action: string;
  readonly target: string;
  /** Epoch ms the intent was written. */
  readonly at: number;
}

export interface Action {
  readonly type: string;
  readonly scope: ActionScope;
  /** What it acts on (unit, instance, program), for logs, journal and /status. Never a secret. */
  readonly target: string;
  precheck(ctx: ActionContext): Promise<PrecheckResult>;
  execute(ctx: ActionContext): Promise<ExecuteResult>;
  /** Asks the world whether an interrupted intent took effect. Never repeats the action. */
  reconcile?(ctx: ActionContext, intent: PendingIntent): Promise<ReconcileResult>;
  close?(): Promise<void>;
}

export interface ActionDeps {
  readonly logger: Logger;
  /** The agent's environment (bus addresses, AWS credentials); never process.env directly. */
  readonly env: NodeJS.ProcessEnv;
}

export type IssueReporter = (path: ReadonlyArray<string | number>, message: string) => void;

/**
 * An action type: its config fields (under a rule's `action:`), optional
 * type-wide settings (under top-level `actions.<type>:`, e.g. an allowlist),
 * a check that sees both, and a factory. Adding a type = one file + one
 * registry line.
 */
export interface ActionDefinition<S extends z.ZodRawShape, T extends z.ZodRawShape = z.ZodRawShape> {
  readonly type: string;
  readonly scope: ActionScope;
  fields(ctx: SchemaContext): S;
  settings?(ctx: SchemaContext): T;
  /** Cross-field checks and derived values within the action's own fields. */
  normalize?(cfg: z.output<z.ZodObject<S>>, ctx: z.RefinementCtx): z.output<z.ZodObject<S>>;
  /** Checks against the type-wide settings; `report` paths are relative to the rule's `action`. */
  validate?(cfg: z.output<z.ZodObject<S>>, settings: z.output<z.ZodObject<T>>, report: IssueReporter): void;
  create(cfg: z.output<z.ZodObject<S>>, deps: ActionDeps, settings: z.output<z.ZodObject<T>>): Action;
}

export function defineAction<S extends z.ZodRawShape, T extends z.ZodRawShape = z.ZodRawShape>(
  def: ActionDefinition<S, T>,
): ActionDefinition<S, T> {
  return def;
}
