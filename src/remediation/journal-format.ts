// The journal's record types and line parsing. One JSON object per line,
// snake_case, with both epoch ms (`ts`, what replay uses) and ISO time
// (`time`, what people read).
import type { ActionOutcome } from './types.js';

export const JOURNAL_VERSION = 1;

interface Base { readonly v: number; readonly time: string; readonly ts: number }

export interface IntentRecord extends Base {
  readonly event: 'intent';
  readonly id: string;
  readonly rule: string;
  readonly action: string;
  readonly target: string;
  readonly scope: 'host' | 'cluster';
  readonly probe: string;
  readonly reason: string;
  readonly forced: boolean;
}
export interface OutcomeRecord extends Base {
  readonly event: 'outcome';
  readonly id: string;
  readonly rule: string;
  readonly action: string;
  readonly outcome: ActionOutcome;
  readonly detail: string;
  readonly output?: string;
  readonly duration_seconds?: number;
}
export interface DryRunRecord extends Base {
  readonly event: 'dry_run';
  readonly id: string;
  readonly rule: string;
  readonly action: string;
  readonly target: string;
  readonly probe: string;
  readonly reason: string;
  readonly detail: string;
}
export interface ResetRecord extends Base { readonly event: 'breaker_reset'; readonly rule: string }
export interface PauseRecord extends Base { readonly event: 'pause' | 'resume'; readonly note?: string }
/**
 * A write a failover member loop made or withheld on its own server or in
 * etcd (fence, follow, rejoin, …): an audit trail, not replayed (the record in
 * etcd is the state), dropped at compaction.
 */
export interface ClusterWriteRecord extends Base {
  readonly event: 'cluster_write';
  readonly cluster: string;
  readonly kind: string;
  readonly outcome: 'started' | 'done' | 'failed' | 'withheld';
  readonly detail: string;
}

/**
 * An active/standby group's hook (on_active, on_standby): journalled before it
 * starts and when it ends, like an action; an audit trail, not replayed (a
 * restarted agent runs on_standby first whatever it finds), dropped at compaction.
 */
export interface GroupHookRecord extends Base {
  readonly event: 'group_hook';
  readonly group: string;
  readonly hook: string;
  /** Why it runs: elected, switchover, unhealthy, lease_lost, startup, shutdown, … */
  readonly cause: string;
  /** The term's fencing token ('' when none). */
  readonly token: string;
  readonly outcome: 'started' | 'done' | 'failed' | 'withheld';
  readonly detail: string;
}

export type JournalRecord = IntentRecord | OutcomeRecord | DryRunRecord | ResetRecord | PauseRecord | ClusterWriteRecord | GroupHookRecord;

/** A record without the envelope; the journal adds v, time and ts. */
export type JournalEntry =
  | Omit<IntentRecord, keyof Base> | Omit<OutcomeRecord, keyof Base> | Omit<DryRunRecord, keyof Base>
  | Omit<ResetRecord, keyof Base> | Omit<PauseRecord, keyof Base> | Omit<ClusterWriteRecord, keyof Base> | Omit<GroupHookRecord, keyof Base>;

export type JournalProblemKind = 'torn_line' | 'corrupt_line' | 'implausible_time' | 'write_failed' | 'rotate_failed';
export interface JournalProblem {
  readonly kind: JournalProblemKind;
  readonly line?: number;
  readonly detail: string;
  readonly time: string;
}

const EVENTS = new Set(['intent', 'outcome', 'dry_run', 'breaker_reset', 'pause', 'resume', 'cluster_write', 'group_hook']);

const OUTCOMES = new Set(['succeeded', 'failed', 'dry_run', 'reconciled_succeeded', 'reconciled_failed', 'reconciled_unknown']);
const WRITE_OUTCOMES = new Set(['started', 'done', 'failed', 'withheld']);
/** A record stamped further ahead than this is not believed: it would hold a cooldown or a breaker until then. */
export const MAX_CLOCK_AHEAD_MS = 24 * 3600_000;

type Fields = Record<string, unknown>;
const str = (r: Fields, ...keys: string[]) => keys.every((k) => typeof r[k] === 'string');

/** Why a JSON object is not a record of its event, or undefined when it is. */
function shapeProblem(r: Fields): string | undefined {
  if (typeof r.event !== 'string' || !EVENTS.has(r.event)) return 'not a journal record';
  if (typeof r.ts !== 'number' || !Number.isFinite(r.ts)) return `${r.event} record without a valid ts`;
  switch (r.event) {
    case 'intent':
      if (!str(r, 'id', 'rule', 'action', 'target', 'probe', 'reason') || (r.scope !== 'host' && r.scope !== 'cluster')) return 'intent record without id, rule, action, target, scope, probe and reason';
      if (r.forced !== undefined && typeof r.forced !== 'boolean') return 'intent record with a non-boolean forced';
      return undefined;
    case 'outcome':
      if (!str(r, 'id', 'rule', 'action')) return 'outcome record without id, rule and action';
      if (typeof r.outcome !== 'string' || !OUTCOMES.has(r.outcome)) return 'outcome record without a valid outcome';
      if (r.detail !== undefined && typeof r.detail !== 'string') return 'outcome record with a non-text detail';
      return undefined;
    case 'dry_run':
      return str(r, 'id', 'rule', 'action') ? undefined : 'dry_run record without id, rule and action';
    case 'breaker_reset':
      return str(r, 'rule') ? undefined : 'breaker_reset record without a rule';
    case 'pause':
    case 'resume':
      return r.note === undefined || typeof r.note === 'string' ? undefined : `${r.event} record with a non-text note`;
    case 'cluster_write':
      return str(r, 'cluster', 'kind', 'detail') && typeof r.outcome === 'string' && WRITE_OUTCOMES.has(r.outcome) ? undefined
        : 'cluster_write record without cluster, kind, outcome and detail';
    case 'group_hook':
      return str(r, 'group', 'hook', 'cause', 'token', 'detail') && typeof r.outcome === 'string' && WRITE_OUTCOMES.has(r.outcome) ? undefined
        : 'group_hook record without group, hook, cause, token, outcome and detail';
    default:
      return 'not a journal record';
  }
}

/**
 * A parsed record, or why the line is not one: every record is checked
 * against the fields of its event (a journal is read back by a root agent
 * at start; a line someone edited must not crash it nor steer it).
 */
export function checkRecord(line: string, now: number): { record: JournalRecord } | { problem: string; kind: JournalProblemKind } {
  let obj: unknown;
  try {
    obj = JSON.parse(line);
  } catch {
    return { problem: 'not JSON', kind: 'corrupt_line' };
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return { problem: 'not a journal record', kind: 'corrupt_line' };
  const r = obj as Fields;
  const why = shapeProblem(r);
  if (why) return { problem: why, kind: 'corrupt_line' };
  if ((r.ts as number) > now + MAX_CLOCK_AHEAD_MS) {
    return { problem: `stamped ${new Date(r.ts as number).toISOString()}, which is more than 1 day ahead of this host's clock`, kind: 'implausible_time' };
  }
  return { record: r as unknown as JournalRecord };
}

/** A parsed record, or undefined when the line is not one of ours. */
export function parseRecord(line: string, now = Date.now()): JournalRecord | undefined {
  const c = checkRecord(line, now);
  return 'record' in c ? c.record : undefined;
}

export interface ParsedJournal {
  readonly records: JournalRecord[];
  readonly problems: JournalProblem[];
  /** Byte length of the content that ends with the last complete line (where appending may resume). */
  readonly goodLength: number;
}

/**
 * Parses the file's text. A last line without its newline that does not parse
 * is a torn write (power loss mid-append): tolerated, reported, and cut off
 * by the caller. A bad line in the middle is skipped and reported.
 */
export function parseJournal(text: string, now: number): ParsedJournal {
  const records: JournalRecord[] = [];
  const problems: JournalProblem[] = [];
  const time = new Date(now).toISOString();
  const lines = text.split('\n');
  const endsClean = text.endsWith('\n') || text.length === 0;
  let offset = 0;
  let goodLength = 0;
  lines.forEach((line, i) => {
    const isTail = i === lines.length - 1;
    const bytes = Buffer.byteLength(line) + (isTail ? 0 : 1);
    if (isTail && endsClean) return; // the empty string after the final newline
    if (line.trim() === '') { offset += bytes; goodLength = offset; return; }
    const c = checkRecord(line, now);
    if ('record' in c) {
      records.push(c.record);
      offset += bytes;
      // A complete record missing only its newline is kept; the caller adds the newline.
      goodLength = offset;
      return;
    }
    if (isTail && c.problem === 'not JSON') {
      problems.push({ kind: 'torn_line', line: i + 1, detail: `last line (${Buffer.byteLength(line)} bytes) is incomplete, probably a write cut off by a crash or power loss; ignored and truncated`, time });
      return;
    }
    offset += bytes;
    goodLength = offset;
    problems.push({ kind: c.kind, line: i + 1, detail: `line ${i + 1}: ${c.problem}; skipped`, time });
  });
  return { records, problems, goodLength };
}
