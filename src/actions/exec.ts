// exec: runs an operator's runbook (a DNS switch, a storage symlink swap…)
// as `command: [program, arg, …]` — no shell unless the operator writes one.
// The exit code decides the outcome. Optional `precheck_command` can veto
// (non-zero exit → precheck_failed) and `reconcile_command` tells, after the
// agent died mid-action, whether the runbook's effect is in place.
import { basename } from 'node:path';
import { z } from 'zod';
import { positiveDuration, secret, size } from '../config/fields.js';
import { formatDuration } from '../config/durations.js';
import { defineAction, type ActionContext } from './types.js';
import { describeEnd, runCommand, type CommandResult } from './run-command.js';

const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const argv = () => z.array(z.string().min(1, 'must not be empty')).min(1, 'needs at least the program, e.g. [/usr/local/bin/switch-dns, --to, standby]');

/** Lines of a failed run's output that go into its one-line detail (the journal keeps it all). */
const TAIL_LINES = 3;
const TAIL_CHARS = 300;

/**
 * The last lines a failed runbook printed, on one line: the reason an
 * operator looks for is nearly always at the end of stderr, and the detail is
 * what the log line and /status show (the full output is only journalled).
 */
export function outputTail(output: string): string | undefined {
  const lines = output.split('\n').map((l) => l.trim()).filter(Boolean).slice(-TAIL_LINES);
  if (lines.length === 0) return undefined;
  const text = lines.join(' | ');
  return text.length > TAIL_CHARS ? `…${text.slice(-(TAIL_CHARS - 1))}` : text;
}

function outputText(r: CommandResult): string | undefined {
  if (!r.output && !r.truncatedBytes) return undefined;
  return r.truncatedBytes ? `[${r.truncatedBytes} earlier bytes dropped]\n${r.output}` : r.output;
}

export const execAction = defineAction({
  type: 'exec',
  scope: 'host',
  fields: (ctx) => ({
    command: argv(),
    timeout: positiveDuration().default('1m'),
    env: z.record(secret(ctx.env)).default({}),
    cwd: z.string().optional(),
    output_limit: size().default('4KiB'),
    precheck_command: argv().optional(),
    reconcile_command: argv().optional(),
  }),
  normalize(cfg, ctx) {
    for (const key of Object.keys(cfg.env)) {
      if (!ENV_NAME_RE.test(key)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['env', key], message: 'is not a valid environment variable name' });
      else if (key.startsWith('VIGIL_')) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['env', key], message: 'VIGIL_* variables are set by vigil itself' });
    }
    return cfg;
  },
  create(cfg, deps) {
    const program = cfg.command[0];
    const target = cfg.command.join(' ').slice(0, 200);
    const envFor = (ctx: ActionContext, phase: string): NodeJS.ProcessEnv => ({
      ...deps.env,
      ...cfg.env,
      VIGIL_RULE: ctx.rule,
      VIGIL_PROBE: ctx.probe,
      VIGIL_REASON: ctx.reason,
      VIGIL_MESSAGE: ctx.message ?? '',
      VIGIL_ACTION: 'exec',
      VIGIL_PHASE: phase,
      VIGIL_INTENT_ID: ctx.intentId ?? '',
      VIGIL_FORCED: ctx.forced ? '1' : '0',
      VIGIL_DRY_RUN: ctx.dryRun ? '1' : '0',
    });
    const run = (args: readonly string[], ctx: ActionContext, phase: string) =>
      runCommand(args, { env: envFor(ctx, phase), cwd: cfg.cwd, timeoutMs: cfg.timeout, limitBytes: cfg.output_limit });

    return {
      type: 'exec',
      scope: 'host',
      target,
      async precheck(ctx) {
        if (!cfg.precheck_command) return { ok: true };
        const r = await run(cfg.precheck_command, ctx, 'precheck');
        if (r.code === 0) return { ok: true, detail: `${basename(cfg.precheck_command[0])} said go` };
        const tail = r.output.trim().split('\n').pop()?.slice(0, 200) ?? '';
        return { ok: false, reason: 'precheck_failed', detail: `precheck_command: ${describeEnd(basename(cfg.precheck_command[0]), r, cfg.timeout)}${tail ? `: ${tail}` : ''}` };
      },
      async execute(ctx) {
        const r = await run(cfg.command, ctx, 'execute');
        const ok = r.code === 0 && !r.timedOut;
        const tail = ok ? undefined : outputTail(r.output);
        return {
          outcome: ok ? 'succeeded' : 'failed',
          detail: `${describeEnd(basename(program), r, cfg.timeout)} after ${formatDuration(r.durationMs) || '0ms'}${tail ? `: ${tail}` : ''}`,
          output: outputText(r),
        };
      },
      async reconcile(ctx, intent) {
        if (!cfg.reconcile_command) {
          return { outcome: 'reconciled_unknown', detail: `exec cannot be checked after the fact without reconcile_command; intent ${intent.id} was not repeated` };
        }
        const r = await run(cfg.reconcile_command, { ...ctx, intentId: intent.id }, 'reconcile');
        const end = describeEnd(basename(cfg.reconcile_command[0]), r, cfg.timeout);
        if (r.code === 0) return { outcome: 'reconciled_succeeded', detail: `reconcile_command: ${end} (effect in place)` };
        if (r.code === 1) return { outcome: 'reconciled_failed', detail: `reconcile_command: ${end} (effect not in place)` };
        return { outcome: 'reconciled_unknown', detail: `reconcile_command: ${end}` };
      },
    };
  },
});
