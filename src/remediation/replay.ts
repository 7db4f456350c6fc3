// Rebuilds remediation state from journal records (pure): each rule's
// actions (cooldown, breaker, escalation all derive from them), breaker
// resets, the pause switch, and intents that never got an outcome.
import type { PendingIntent } from '../actions/types.js';
import type { IntentRecord, JournalRecord } from './journal-format.js';
import { beginAction, completeAction, resetBreaker } from './rule-state.js';
import { EMPTY_RULE_STATE, type RuleState } from './types.js';

export interface PauseState { readonly paused: boolean; readonly since?: number; readonly note?: string }

export interface Replayed {
  readonly states: Map<string, RuleState>;
  /** Intents without an outcome, oldest first: the agent died mid-action. */
  readonly pending: PendingIntent[];
  readonly pause: PauseState;
  /** Outcomes whose intent is nowhere in the journal: written by hand, or a journal pieced together. Reported, not used. */
  readonly orphans: ReadonlyArray<{ readonly id: string; readonly rule: string }>;
}

export function replay(records: readonly JournalRecord[]): Replayed {
  const states = new Map<string, RuleState>();
  const intents = new Map<string, IntentRecord>();
  let pause: PauseState = { paused: false };
  const orphans: Array<{ id: string; rule: string }> = [];
  const get = (rule: string) => states.get(rule) ?? EMPTY_RULE_STATE;
  for (const r of records) {
    switch (r.event) {
      case 'intent':
        intents.set(r.id, r);
        states.set(r.rule, beginAction(get(r.rule), { id: r.id, startedAt: r.ts, dryRun: false, forced: r.forced === true }));
        break;
      case 'outcome': {
        const intent = intents.get(r.id);
        intents.delete(r.id);
        // A reconciled intent's cooldown counts from the intent: when it really ran is unknown.
        const at = r.outcome.startsWith('reconciled_') && intent ? intent.ts : r.ts;
        if (intent) states.set(r.rule, completeAction(get(r.rule), r.id, r.outcome, at, r.detail));
        else orphans.push({ id: r.id, rule: r.rule });
        break;
      }
      case 'dry_run':
        states.set(r.rule, beginAction(get(r.rule), { id: r.id, startedAt: r.ts, completedAt: r.ts, outcome: 'dry_run', detail: r.detail, dryRun: true, forced: false }));
        break;
      case 'breaker_reset':
        states.set(r.rule, resetBreaker(get(r.rule), r.ts));
        break;
      case 'pause':
        pause = { paused: true, since: r.ts, note: r.note };
        break;
      case 'resume':
        pause = { paused: false };
        break;
    }
  }
  const pending = [...intents.values()].map((i) => ({ id: i.id, rule: i.rule, action: i.action, target: i.target, at: i.ts }));
  return { states, pending, pause, orphans };
}

/**
 * The records a compaction keeps: every action record still inside its rule's
 * retention, the newest action of each rule (escalation and /status need it),
 * intents still without an outcome, the newest breaker reset of each rule, and
 * the newest pause/resume. Order is preserved.
 */
export function keepForReplay(records: readonly JournalRecord[], now: number, retentionMs: (rule: string) => number): JournalRecord[] {
  const keepIds = new Set<string>();
  const lastIdOf = new Map<string, string>();
  const answered = new Set<string>();
  const lastResetOf = new Map<string, JournalRecord>();
  let lastPause: JournalRecord | undefined;
  for (const r of records) {
    if (r.event === 'outcome') answered.add(r.id);
    if (r.event === 'intent' || r.event === 'dry_run') {
      lastIdOf.set(r.rule, r.id);
      if (r.ts > now - retentionMs(r.rule)) keepIds.add(r.id);
    }
    if (r.event === 'breaker_reset') lastResetOf.set(r.rule, r);
    if (r.event === 'pause' || r.event === 'resume') lastPause = r;
  }
  for (const id of lastIdOf.values()) keepIds.add(id);
  for (const r of records) if (r.event === 'intent' && !answered.has(r.id)) keepIds.add(r.id);
  const resets = new Set(lastResetOf.values());
  return records.filter((r) => {
    if (r.event === 'intent' || r.event === 'outcome' || r.event === 'dry_run') return keepIds.has(r.id);
    if (r.event === 'breaker_reset') return resets.has(r);
    if (r.event === 'cluster_write' || r.event === 'group_hook') return false;
    return r === lastPause;
  });
}
