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

export type JournalRecord = IntentRecord | OutcomeRecord | DryRunRecord | ResetRecord | PauseRecord | ClusterWriteRecord;

/** A record without the envelope; the journal adds v, time and ts. */
export type JournalEntry =
  | Omit<IntentRecord, keyof Base> | Omit<OutcomeRecord, keyof Base> | Omit<DryRunRecord, keyof Base>
  | Omit<ResetRecord, keyof Base> | Omit<PauseRecord, keyof Base> | Omit<ClusterWriteRecord, keyof Base>;

export type JournalProblemKind = 'torn_line' | 'corrupt_line' | 'write_failed' | 'rotate_failed';
export interface JournalProblem {
  readonly kind: JournalProblemKind;
  readonly line?: number;
  readonly detail: string;
  readonly time: string;
}

const EVENTS = new Set(['intent', 'outcome', 'dry_run', 'breaker_reset', 'pause', 'resume', 'cluster_write']);

/** A parsed record, or undefined when the line is not one of ours. */
export function parseRecord(line: string): JournalRecord | undefined {
  let obj: unknown;
  try {
    obj = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof obj !== 'object' || obj === null) return undefined;
  const r = obj as Record<string, unknown>;
  if (typeof r.event !== 'string' || !EVENTS.has(r.event) || typeof r.ts !== 'number') return undefined;
  if ((r.event === 'intent' || r.event === 'outcome' || r.event === 'dry_run') && (typeof r.id !== 'string' || typeof r.rule !== 'string')) return undefined;
  if (r.event === 'breaker_reset' && typeof r.rule !== 'string') return undefined;
  return r as unknown as JournalRecord;
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
    const rec = parseRecord(line);
    if (rec) {
      records.push(rec);
      offset += bytes;
      // A complete record missing only its newline is kept; the caller adds the newline.
      goodLength = offset;
      return;
    }
    if (isTail) {
      problems.push({ kind: 'torn_line', line: i + 1, detail: `last line (${Buffer.byteLength(line)} bytes) is incomplete, probably a write cut off by a crash or power loss; ignored and truncated`, time });
      return;
    }
    offset += bytes;
    goodLength = offset;
    problems.push({ kind: 'corrupt_line', line: i + 1, detail: `line ${i + 1} is not a journal record; skipped`, time });
  });
  return { records, problems, goodLength };
}
