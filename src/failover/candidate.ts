// The pure half of failover: is the primary's death corroborated, and which
// replica should replace it. Inputs are member views (from etcd, plus our own
// freshly measured one) and a clock; nothing here does I/O, so each rule is
// tested step by step.
import { compare, parseGtid, type GtidPosition } from '../mysql/gtid.js';
import { describeEndpoint, sameEndpoint, type MemberView } from './view.js';

/**
 * Client errors an IO thread reports when it cannot reach its source at all.
 * 1045 (access denied) or 1236 (binlog error) mean the source answered: alive.
 */
export const CONNECTION_ERRNOS: ReadonlySet<number> = new Set([
  2002, 2003, 2005, 2006, 2013, 2026, 2055, // CR_*: cannot connect / lost connection
  1158, 1159, 1160, 1161, // ER_NET_*: read/write errors on the replication link
]);

export interface PrimaryRef {
  readonly name?: string;
  readonly host: string;
  readonly port: number;
}

export interface Snapshot {
  /** Our member name; views[] holds our freshly measured view under it. */
  readonly self: string;
  readonly views: readonly MemberView[];
  readonly primary: PrimaryRef;
  readonly now: number;
  /** A view older than this says nothing about now (its agent is stuck). */
  readonly staleAfterMs: number;
  /** The primary's lease key is gone (expired or released): its agent has fenced its server or is dead. */
  readonly leaseGone?: boolean;
}

export interface Note { readonly name: string; readonly why: string }

export interface Corroboration {
  readonly ok: boolean;
  readonly detail: string;
  readonly agreeing: readonly string[];
  readonly disagreeing: readonly Note[];
  readonly ignored: readonly Note[];
}

/**
 * true when the view's IO thread lost its source: stopped or reconnecting with
 * a connection error; or, once the primary's lease is gone, reconnecting at
 * all (after slave_net_timeout of silence the thread says Connecting with no
 * error until its next connect attempt times out too: with the lease gone
 * that is the primary host going away, and waiting for the errno would double
 * the detection time).
 */
export function lostSource(v: MemberView, leaseGone = false): boolean {
  if (v.io_running === 'Yes' || v.io_running === null) return false;
  return CONNECTION_ERRNOS.has(v.last_io_errno) || (leaseGone && v.io_running === 'Connecting');
}

function ioText(v: MemberView): string {
  return `IO ${v.io_running ?? 'n/a'}, Last_IO_Errno ${v.last_io_errno}`;
}

/** Judges our own replica: the first half of the DeadMaster rule. */
function judgeSelf(self: MemberView | undefined, primary: PrimaryRef, leaseGone: boolean): string | undefined {
  const where = describeEndpoint(primary);
  if (!self) return 'no local view: the local server has not been measured yet';
  if (!self.reachable) return `the local server is unreachable (${self.server_error ?? 'no answer'}): the problem may be ours`;
  if (!self.source) return 'the local server is not a replica';
  if (!sameEndpoint(self.source, primary)) return `the local server replicates from ${describeEndpoint(self.source)}, not from the primary ${where}`;
  if (self.io_running === 'Yes') return `the local IO thread still replicates from ${where}: the primary is alive and only our path to it is broken`;
  if (!lostSource(self, leaseGone)) return `the local IO thread is not connected but shows no connection error (${ioText(self)}): not evidence that ${where} is dead`;
  return undefined;
}

export function corroborate(s: Snapshot): Corroboration {
  const self = s.views.find((v) => v.name === s.self);
  const leaseGone = s.leaseGone === true;
  const selfProblem = judgeSelf(self, s.primary, leaseGone);
  const agreeing: string[] = [];
  const disagreeing: Note[] = [];
  const ignored: Note[] = [];
  if (!selfProblem) agreeing.push(s.self);

  for (const v of s.views) {
    if (v.name === s.self) continue;
    const age = s.now - v.published_at;
    if (age > s.staleAfterMs) { ignored.push({ name: v.name, why: `view is ${Math.round(age / 1000)}s old` }); continue; }
    const isPrimaryHost = v.name === s.primary.name || (v.source === null && sameEndpoint(v, s.primary));
    if (isPrimaryHost) {
      // The primary's own agent is the best witness there is.
      if (v.reachable) disagreeing.push({ name: v.name, why: 'the primary\'s own agent reaches its server' });
      else agreeing.push(v.name);
      continue;
    }
    if (!v.reachable) { ignored.push({ name: v.name, why: 'its agent cannot reach its own server' }); continue; }
    if (!sameEndpoint(v.source, s.primary)) {
      ignored.push({ name: v.name, why: v.source ? `replicates from ${describeEndpoint(v.source)}` : 'is not a replica' });
      continue;
    }
    if (v.io_running === 'Yes') disagreeing.push({ name: v.name, why: `still replicates from ${describeEndpoint(s.primary)} (IO Yes)` });
    else if (lostSource(v, leaseGone)) agreeing.push(v.name);
    else ignored.push({ name: v.name, why: `IO thread down without a connection error (${ioText(v)})` });
  }

  const ok = !selfProblem && disagreeing.length === 0;
  const detail = selfProblem
    ?? (disagreeing.length > 0
      ? `not every replica agrees the primary ${describeEndpoint(s.primary)} is dead: ${disagreeing.map((d) => `${d.name} ${d.why}`).join('; ')}`
      : `primary ${describeEndpoint(s.primary)} lost by ${agreeing.join(', ')}${ignored.length ? ` (ignored: ${ignored.map((i) => `${i.name} ${i.why}`).join('; ')})` : ''}`);
  return { ok, detail, agreeing, disagreeing, ignored };
}

export interface Ranked {
  readonly name: string;
  readonly priority: number;
  readonly received: string | null;
  readonly eligible: boolean;
  readonly why?: string;
}

export interface CandidateChoice {
  readonly candidate?: MemberView;
  readonly detail: string;
  readonly ranking: readonly Ranked[];
}

function ineligibility(v: MemberView, s: Snapshot, flavor: string | null): string | undefined {
  if (s.now - v.published_at > s.staleAfterMs) return 'view is stale';
  if (!v.reachable) return 'server unreachable';
  if (!sameEndpoint(v.source, s.primary)) return 'does not replicate from the primary';
  if (v.priority === 0) return 'priority 0 (must not be promoted)';
  if (v.io_running === 'Yes') return 'still replicates (its IO thread is connected)';
  if (v.last_sql_errno !== 0) return `SQL thread failed with error ${v.last_sql_errno}`;
  if (v.flavor === null || v.gtid_received === null) return 'no GTID position';
  if (flavor !== null && v.flavor !== flavor) return `is ${v.flavor}, the local server is ${flavor}`;
  return undefined;
}

/**
 * The most advanced eligible replica by received GTIDs; ties go to the higher
 * priority, then to the smaller name. Refuses to choose when two candidates
 * diverged (each holds a transaction the other lacks): promoting either
 * would lose data and break the other's replication.
 */
export function chooseCandidate(s: Snapshot): CandidateChoice {
  const flavor = s.views.find((v) => v.name === s.self)?.flavor ?? null;
  const ranking: Ranked[] = [];
  const pool: Array<{ v: MemberView; pos: GtidPosition }> = [];
  for (const v of s.views) {
    if (v.name === s.primary.name) continue;
    let why = ineligibility(v, s, flavor);
    let pos: GtidPosition | undefined;
    if (!why) {
      try { pos = parseGtid(v.flavor!, v.gtid_received); } catch (err) { why = `unreadable GTID position (${(err as Error).message})`; }
    }
    ranking.push({ name: v.name, priority: v.priority, received: v.gtid_received, eligible: !why, ...(why ? { why } : {}) });
    if (!why && pos) pool.push({ v, pos });
  }
  if (pool.length === 0) return { detail: 'no eligible replica', ranking };

  let best = pool[0];
  for (const c of pool.slice(1)) {
    const cmp = compare(c.pos, best.pos);
    if (cmp === 'ahead') best = c;
    else if (cmp === 'equal' && (c.v.priority > best.v.priority || (c.v.priority === best.v.priority && c.v.name < best.v.name))) best = c;
  }
  const diverged = pool.filter((c) => c !== best && compare(best.pos, c.pos) !== 'ahead' && compare(best.pos, c.pos) !== 'equal');
  if (diverged.length > 0) {
    return {
      detail: `replicas diverged: ${best.v.name} (${best.v.gtid_received}) lacks transactions of ${diverged.map((d) => `${d.v.name} (${d.v.gtid_received})`).join(', ')}`,
      ranking,
    };
  }
  const others = pool.filter((c) => c !== best).map((c) => `${c.v.name} ${compare(best.pos, c.pos) === 'equal' ? 'equal' : 'behind'}`);
  return {
    candidate: best.v,
    detail: `${best.v.name} at ${best.v.gtid_received} (priority ${best.v.priority})${others.length ? `; ${others.join(', ')}` : ''}`,
    ranking,
  };
}

export interface LagCheck { readonly ok: boolean; readonly detail: string }

/** The candidate's lag as last measured while its IO thread was connected. */
export function checkLag(v: MemberView, maxLagMs: number, now: number): LagCheck {
  const limit = `max_lag_on_failover ${maxLagMs / 1000}s`;
  if (v.lag_seconds === null || v.lag_measured_at === null) {
    return { ok: false, detail: `lag of ${v.name} unknown (never measured while its IO thread was connected); ${limit}` };
  }
  const ago = Math.max(0, Math.round((now - v.lag_measured_at) / 1000));
  const text = `lag of ${v.name} ${v.lag_seconds}s (measured ${ago}s ago)`;
  return v.lag_seconds * 1000 > maxLagMs ? { ok: false, detail: `${text} > ${limit}` } : { ok: true, detail: `${text} <= ${limit}` };
}
