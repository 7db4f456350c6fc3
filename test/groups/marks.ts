// Reads the marks that mark-hook.sh leaves and turns them into what a group
// test asserts on: when each member was active, and for how long two members
// were active at once (the split-brain window, which must be zero, or bounded
// where a test proves a bound). Pure code: no files except readMarks().
//
// A member's active interval starts when its on_active hook STARTS (from then
// on it may be serving) and ends when its on_standby hook ENDS successfully
// (only then has it stopped); an interval still open ends at `now`. That is
// deliberately the widest reading, so overlap is never under-counted:
//   - a failed or killed on_standby does not end the interval (the member may
//     still be serving);
//   - a failed on_active still starts one (it may have half-started);
//   - a second `active start` while open (a retried on_active) continues it.
import { readFile } from 'node:fs/promises';

export type Role = 'active' | 'standby';
export type Phase = 'start' | 'end' | 'fail' | 'killed';

export interface Mark {
  /** Epoch ms (date +%s%3N in the hook). */
  readonly at: number;
  readonly member: string;
  readonly role: Role;
  readonly phase: Phase;
  /** VIGIL_FENCING_TOKEN, undefined when the agent passed none ("-"). */
  readonly token: string | undefined;
  /** VIGIL_CAUSE, undefined when none. */
  readonly cause: string | undefined;
  /** 1-based line in the marks file, for failure messages. */
  readonly line: number;
}

export interface Interval {
  readonly member: string;
  readonly start: number;
  readonly end: number;
  /** No standby end yet: `end` is the `now` the intervals were computed at. */
  readonly open: boolean;
  /** The fencing token of the active start that opened it. */
  readonly token: string | undefined;
}

const LINE_RE = /^(\d{13}) (\S+) (active|standby) (start|end|fail|killed) (\S+) (.*)$/;
const orNone = (v: string): string | undefined => (v === '-' ? undefined : v);

/**
 * Parses a marks file's text. A malformed line throws (the hook or the file
 * is broken); an unterminated last line is a write in progress and is skipped.
 */
export function parseMarks(text: string): Mark[] {
  // The element after the last '\n' is '' or a line still being written: never a complete line.
  return text.split('\n').slice(0, -1).map((l, i) => {
    const m = LINE_RE.exec(l);
    if (!m) throw new Error(`marks line ${i + 1} is malformed: ${JSON.stringify(l)}`);
    return { at: Number(m[1]), member: m[2], role: m[3] as Role, phase: m[4] as Phase, token: orNone(m[5]), cause: orNone(m[6]), line: i + 1 };
  });
}

/** The marks file's marks; none if it does not exist yet (no hook ran). */
export async function readMarks(file: string): Promise<Mark[]> {
  try {
    return parseMarks(await readFile(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/**
 * Every member's active intervals, in file order per member (one member's
 * hooks run one after the other, so its file order is its time order).
 */
export function activeIntervals(marks: readonly Mark[], now: number = Date.now()): Interval[] {
  const open = new Map<string, { start: number; token: string | undefined }>();
  const out: Interval[] = [];
  for (const m of marks) {
    if (m.role === 'active' && m.phase === 'start') {
      if (!open.has(m.member)) open.set(m.member, { start: m.at, token: m.token });
    } else if (m.role === 'standby' && m.phase === 'end') {
      const o = open.get(m.member);
      if (o) { out.push({ member: m.member, start: o.start, end: m.at, open: false, token: o.token }); open.delete(m.member); }
    }
  }
  for (const [member, o] of open) out.push({ member, start: o.start, end: Math.max(now, o.start), open: true, token: o.token });
  return out.sort((a, b) => a.start - b.start);
}

export interface Overlap { readonly start: number; readonly end: number; readonly members: readonly string[] }

/** The windows in which two or more members were active at once (sweep over start/end events). */
export function overlaps(intervals: readonly Interval[]): Overlap[] {
  const events = intervals.flatMap((iv) => [{ at: iv.start, d: 1, iv }, { at: iv.end, d: -1, iv }])
    // At equal times ends go first: [0,5] and [5,9] touch, they do not overlap.
    .sort((a, b) => a.at - b.at || a.d - b.d);
  const active = new Set<Interval>();
  const out: Overlap[] = [];
  let since = 0;
  for (const e of events) {
    const before = active.size;
    if (e.d > 0) active.add(e.iv); else active.delete(e.iv);
    if (before < 2 && active.size >= 2) since = e.at;
    if (before >= 2 && active.size < 2 && e.at > since) {
      out.push({ start: since, end: e.at, members: [] });
    }
  }
  // Name the members of each window: everyone whose interval covers part of it.
  return out.map((w) => ({ ...w, members: [...new Set(intervals.filter((iv) => iv.start < w.end && iv.end > w.start).map((iv) => iv.member))].sort() }));
}

/** Total ms during which two or more members were active at once. */
export function overlapMs(intervals: readonly Interval[]): number {
  return overlaps(intervals).reduce((sum, w) => sum + (w.end - w.start), 0);
}

/** Total ms within [from, to) during which two or more members were active at once (one run of a benchmark or test). */
export function overlapWithin(intervals: readonly Interval[], from: number, to: number): number {
  const clipped = intervals.map((iv) => ({ ...iv, start: Math.max(iv.start, from), end: Math.min(iv.end, to) })).filter((iv) => iv.end > iv.start);
  return overlapMs(clipped);
}

/** The members active at time `t` (start <= t < end). */
export function activeAt(intervals: readonly Interval[], t: number): string[] {
  return intervals.filter((iv) => iv.start <= t && t < iv.end).map((iv) => iv.member).sort();
}

/** The last mark matching every given field, or undefined. */
export function lastMark(marks: readonly Mark[], where: Partial<Pick<Mark, 'member' | 'role' | 'phase'>>): Mark | undefined {
  for (let i = marks.length - 1; i >= 0; i--) {
    const m = marks[i];
    if ((where.member === undefined || m.member === where.member) && (where.role === undefined || m.role === where.role)
      && (where.phase === undefined || m.phase === where.phase)) return m;
  }
  return undefined;
}

/** When `member`'s last on_active finished successfully (it is fully serving), or undefined. */
export function lastActiveDone(marks: readonly Mark[], member: string): number | undefined {
  return lastMark(marks, { member, role: 'active', phase: 'end' })?.at;
}

/** When `member`'s last on_standby finished successfully (it has fully stopped), or undefined. */
export function lastStandbyDone(marks: readonly Mark[], member: string): number | undefined {
  return lastMark(marks, { member, role: 'standby', phase: 'end' })?.at;
}

/** The first mark after `t` (exclusive) matching the fields: e.g. the takeover's `active end` after a kill. */
export function firstMarkAfter(marks: readonly Mark[], t: number, where: Partial<Pick<Mark, 'member' | 'role' | 'phase'>>): Mark | undefined {
  return marks.filter((m) => m.at > t).sort((a, b) => a.at - b.at)
    .find((m) => (where.member === undefined || m.member === where.member) && (where.role === undefined || m.role === where.role)
      && (where.phase === undefined || m.phase === where.phase));
}

/** One line per interval, for assertion messages. */
export function describeIntervals(intervals: readonly Interval[]): string {
  return intervals.map((iv) => `${iv.member} ${iv.start}..${iv.end}${iv.open ? ' (open)' : ''} token ${iv.token ?? '-'}`).join('\n');
}
