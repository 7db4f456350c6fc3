// pre_promote / post_promote: operator programs run without a shell. They
// get the promotion's context as VIGIL_* variables (orchestrator passes the
// same through its hooks), so a post hook can move a DNS name or a proxy to
// the new primary. A pre hook's non-zero exit vetoes the promotion.
import { basename } from 'node:path';
import { describeEnd, runCommand } from '../actions/run-command.js';
import type { HookSpec } from './settings.js';

export interface PromotionContext {
  readonly cluster: string;
  readonly rule: string;
  readonly intentId: string;
  readonly epoch: number;
  readonly oldPrimary: { readonly name: string; readonly host: string; readonly port: number } | null;
  readonly newPrimary: { readonly name: string; readonly host: string; readonly port: number };
}

export interface HookOutcome { readonly ok: boolean; readonly detail: string; readonly output: string }

const OUTPUT_LIMIT = 4096;

export function hookEnv(base: NodeJS.ProcessEnv, phase: 'pre_promote' | 'post_promote', c: PromotionContext): NodeJS.ProcessEnv {
  return {
    ...base,
    VIGIL_ACTION: 'mysql_promote',
    VIGIL_PHASE: phase,
    VIGIL_RULE: c.rule,
    VIGIL_INTENT_ID: c.intentId,
    VIGIL_CLUSTER: c.cluster,
    VIGIL_EPOCH: String(c.epoch),
    VIGIL_OLD_PRIMARY_NAME: c.oldPrimary?.name ?? '',
    VIGIL_OLD_PRIMARY_HOST: c.oldPrimary?.host ?? '',
    VIGIL_OLD_PRIMARY_PORT: c.oldPrimary ? String(c.oldPrimary.port) : '',
    VIGIL_NEW_PRIMARY_NAME: c.newPrimary.name,
    VIGIL_NEW_PRIMARY_HOST: c.newPrimary.host,
    VIGIL_NEW_PRIMARY_PORT: String(c.newPrimary.port),
  };
}

export async function runHook(spec: HookSpec, phase: 'pre_promote' | 'post_promote', env: NodeJS.ProcessEnv, c: PromotionContext): Promise<HookOutcome> {
  const r = await runCommand(spec.command, { env: hookEnv(env, phase, c), timeoutMs: spec.timeoutMs, limitBytes: OUTPUT_LIMIT });
  const ok = !r.spawnError && !r.timedOut && r.code === 0;
  return { ok, detail: `${phase} ${describeEnd(basename(spec.command[0]), r, spec.timeoutMs)}`, output: r.output };
}

/** on_fence: told that this member fenced its own server (lost primary lease); the reason is in VIGIL_FENCE_REASON. */
export async function runFenceHook(settings: { readonly cluster: string; readonly onFence?: HookSpec }, env: NodeJS.ProcessEnv, why: string): Promise<HookOutcome | undefined> {
  const spec = settings.onFence;
  if (!spec) return undefined;
  const r = await runCommand(spec.command, {
    env: { ...env, VIGIL_ACTION: 'mysql_promote', VIGIL_PHASE: 'on_fence', VIGIL_CLUSTER: settings.cluster, VIGIL_FENCE_REASON: why },
    timeoutMs: spec.timeoutMs, limitBytes: OUTPUT_LIMIT,
  });
  const ok = !r.spawnError && !r.timedOut && r.code === 0;
  return { ok, detail: `on_fence ${describeEnd(basename(spec.command[0]), r, spec.timeoutMs)}`, output: r.output };
}
