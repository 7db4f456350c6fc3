// on_active / on_standby: operator programs run without a shell, one at a
// time per group (a new one waits for the running one, never overlaps it),
// journalled before and after like an action, with a timeout, bounded
// output and the term's context in VIGIL_* variables, so a downstream system
// can reject a stale leader by its fencing token.
import { basename } from 'node:path';
import { describeEnd, runCommand } from '../actions/run-command.js';
import { HOOK_KILL_GRACE_MS, type GroupHookSpec } from './settings.js';

export type HookName = 'on_active' | 'on_standby';

export interface HookContext {
  readonly group: string;
  readonly member: string;
  readonly cause: string;
  /** '' when there is no term (a startup on_standby). */
  readonly token: string;
  /** The member active before this one, '' when unknown. */
  readonly previousActive: string;
}

export interface HookOutcome { readonly ok: boolean; readonly ran: boolean; readonly detail: string; readonly output: string; readonly durationMs: number }

export interface HookJournal {
  (w: { group: string; hook: string; cause: string; token: string; outcome: 'started' | 'done' | 'failed'; detail: string }): Promise<boolean>;
}

const OUTPUT_LIMIT = 4096;
const TAIL = 500;

/** A failed hook's last words, on one line, for its failure's detail (log, /status events, journal). */
export function withOutputTail(detail: string, output: string): string {
  const tail = output.trim().slice(-TAIL).replace(/\s+/g, ' ');
  return tail ? `${detail}; output: ${tail}` : detail;
}

export function hookEnv(base: NodeJS.ProcessEnv, hook: HookName, c: HookContext): NodeJS.ProcessEnv {
  return {
    ...base,
    VIGIL_GROUP: c.group,
    VIGIL_MEMBER: c.member,
    VIGIL_ROLE: hook === 'on_active' ? 'active' : 'standby',
    VIGIL_HOOK: hook,
    VIGIL_CAUSE: c.cause,
    VIGIL_FENCING_TOKEN: c.token,
    VIGIL_PREVIOUS_ACTIVE: c.previousActive,
  };
}

/** Runs one group's hooks strictly one after another. */
export class HookQueue {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: { env: NodeJS.ProcessEnv; journal: HookJournal; counted: (hook: HookName, ok: boolean) => void }) {}

  /** Queues `hook` behind the running one; resolves when it has ended (or at once when it is not configured). */
  run(hook: HookName, spec: GroupHookSpec | undefined, c: HookContext, signal?: AbortSignal): Promise<HookOutcome> {
    const next = this.tail.then(() => this.runNow(hook, spec, c, signal));
    this.tail = next.catch(() => undefined);
    return next;
  }

  private async runNow(hook: HookName, spec: GroupHookSpec | undefined, c: HookContext, signal?: AbortSignal): Promise<HookOutcome> {
    if (!spec) return { ok: true, ran: false, detail: `${hook} not configured`, output: '', durationMs: 0 };
    if (signal?.aborted) return { ok: false, ran: false, detail: `${hook} not started: its reason was gone before its turn`, output: '', durationMs: 0 };
    const j = { group: c.group, hook, cause: c.cause, token: c.token };
    // A hook that changes the world is journalled first; an unwritable journal is said, not a reason to leave a VIP behind.
    const journalled = await this.o.journal({ ...j, outcome: 'started', detail: spec.command.join(' ').slice(0, 300) });
    const r = await runCommand(spec.command, {
      env: hookEnv(this.o.env, hook, c), timeoutMs: spec.timeoutMs, limitBytes: OUTPUT_LIMIT, killGraceMs: HOOK_KILL_GRACE_MS, signal,
    });
    const ok = !r.spawnError && !r.timedOut && !r.aborted && r.code === 0;
    const detail = `${hook} ${describeEnd(basename(spec.command[0]), r, spec.timeoutMs)} in ${(r.durationMs / 1000).toFixed(1)}s${journalled ? '' : ' (the journal could not be written)'}`;
    this.o.counted(hook, ok);
    await this.o.journal({ ...j, outcome: ok ? 'done' : 'failed', detail: ok ? detail : withOutputTail(detail, r.output) });
    return { ok, ran: true, detail, output: r.output, durationMs: r.durationMs };
  }
}
