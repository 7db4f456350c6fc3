// Steps on the group lab that active-standby.test.ts asserts on and
// bench/groups-takeover.ts measures with: wait for a settled group, take the
// active member's service or host away, read the takeover from the hooks'
// marks and from requests through HAProxy, and put the world back.
//
// Every wait is bounded polling (a loaded 2-core machine runs late timers):
// the bounds are generous, none of them is what a test asserts on.
import { HOOK_KILL_GRACE_MS } from '../../src/groups/settings.js';
import { sleep } from '../helpers/wait.js';
import { LAB_TIMING } from './group-agent.js';
import { GROUP, MEMBERS, PRIORITY, type GroupLab, type Member } from './group-lab.js';
import { activeIntervals, overlapWithin, type Mark } from './marks.js';
import type { ThroughWatch } from './through-watch.js';

export const T = LAB_TIMING;
/** The longest a holder that stopped hearing from etcd may still act: renew_deadline + on_standby's timeout + the kill grace (settings.ts). */
export const STEP_DOWN_BOUND_MS = T.renewDeadlineMs + T.onStandbyTimeoutMs + HOOK_KILL_GRACE_MS;

export const others = (m: Member): Member[] => MEMBERS.filter((x) => x !== m);
export const byPriority = (ms: readonly Member[]): Member[] => [...ms].sort((a, b) => PRIORITY[b] - PRIORITY[a]);

type Answer = number | 'unreachable';

/** Polls `check` until it returns a value; on timeout the error carries the last thing `check` said. */
export async function poll<V>(what: string, timeoutMs: number, check: (say: (s: string) => void) => Promise<V | undefined>, everyMs = 50): Promise<V> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  const say = (s: string): void => { last = s; };
  for (;;) {
    const v = await check(say).catch((err: Error) => { last = `error: ${err.message}`; return undefined; });
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last: ${last})` : ''}`);
    await sleep(everyMs);
  }
}

export async function roles(lab: GroupLab): Promise<Record<Member, Answer>> {
  const rs = await Promise.all(MEMBERS.map((m) => lab.role(m)));
  return Object.fromEntries(MEMBERS.map((m, i) => [m, rs[i]])) as Record<Member, Answer>;
}

/** The `web` group's section of `m`'s /status. */
export async function groupStatus(lab: GroupLab, m: Member): Promise<any> {
  return (await lab.agent(m).status()).groups.groups[GROUP];
}

/**
 * Waits until the group is settled and returns its active member: exactly one
 * member answers 200 on /role/web, the others 503 there and 200 on
 * /role/web/standby (eligible standbys), the active member's view lists all
 * three member records, HAProxy has only the active member UP, and a request
 * through it is answered by the active member's app.
 */
export function settle(lab: GroupLab, timeoutMs = 40_000): Promise<Member> {
  return poll('the group to settle (one active member, two eligible standbys, HAProxy on the active one)', timeoutMs, async (say) => {
    const r = await roles(lab);
    const active = MEMBERS.filter((m) => r[m] === 200);
    say(`roles ${JSON.stringify(r)}`);
    if (active.length !== 1) return undefined;
    const a = active[0];
    for (const m of others(a)) {
      if (r[m] !== 503) return undefined;
      const sb = await lab.standbyRole(m);
      if (sb !== 200) { say(`${m} /role/web/standby ${sb}`); return undefined; }
    }
    const members = ((await groupStatus(lab, a)).members as Array<{ member: string }>).map((x) => x.member).sort();
    if (members.join() !== MEMBERS.join()) { say(`${a} sees member records of ${members.join(', ') || 'nobody'}`); return undefined; }
    const st = await lab.haproxy.serverStates();
    if (st[a] !== 'UP' || others(a).some((m) => st[m] !== 'DOWN')) { say(`haproxy ${JSON.stringify(st)}`); return undefined; }
    const t = await lab.through();
    if (!t.ok || t.member !== a) { say(`through haproxy: ${JSON.stringify(t)}`); return undefined; }
    return a;
  }, 100);
}

/** The first mark (file order) matching `pred`, waiting for it. */
export function waitMark(lab: GroupLab, what: string, pred: (m: Mark) => boolean, timeoutMs = 40_000): Promise<Mark> {
  return poll(what, timeoutMs, async () => (await lab.marks()).find(pred));
}

export const describeMarks = (marks: readonly Mark[], t0: number): string =>
  marks.map((m) => `${m.at - t0} ms ${m.member} ${m.role} ${m.phase} token ${m.token ?? '-'} cause ${m.cause ?? '-'}`).join('\n');

export interface Takeover {
  readonly kind: 'service death' | 'partition';
  readonly old: Member;
  readonly next: Member;
  /** Just before the kill or the cut. */
  readonly t0: number;
  /** The old member's first on_standby end after t0 (undefined: none yet). */
  readonly oldStandbyEnd: Mark | undefined;
  /** The new member's on_active start and end. */
  readonly nextStart: Mark;
  readonly nextDone: Mark;
  /** t0 → the new member's on_active done. */
  readonly takeoverMs: number;
  /** Two members active at once, by the marks, from t0 to when the run was read. */
  readonly overlapMs: number;
  /** t0 → the first request through HAProxy sent after t0 that the new member's app answered. */
  readonly haproxyMs: number;
  /** Requests through HAProxy sent after t0 that no app answered. */
  readonly failedRequests: number;
  /** Every mark from t0 on, for messages. */
  readonly marks: readonly Mark[];
}

/**
 * `act` takes the active member `old` out (kills its app, cuts its host);
 * resolves once another member's on_active is done and HAProxy sends
 * traffic to it. `watch` must be running.
 */
async function takeover(lab: GroupLab, kind: Takeover['kind'], old: Member, watch: ThroughWatch, act: () => Promise<void>): Promise<Takeover> {
  const t0 = Date.now();
  await act();
  const nextDone = await waitMark(lab, `another member's on_active done after the ${kind} of ${old}`,
    (m) => m.at >= t0 && m.member !== old && m.role === 'active' && m.phase === 'end');
  const next = nextDone.member as Member;
  const served = await poll(`a request through HAProxy answered by ${next}`, 20_000, async () => watch.firstServedBy(next, t0));
  await watch.answeredBefore(served.sentAt);
  const now = Date.now();
  const marks = (await lab.marks()).filter((m) => m.at >= t0);
  const nextStart = [...marks].reverse().find((m) => m.member === next && m.role === 'active' && m.phase === 'start' && m.line < nextDone.line);
  if (!nextStart) throw new Error(`${next}'s on_active end without a start:\n${describeMarks(marks, t0)}`);
  return {
    kind, old, next, t0, nextStart, nextDone, marks,
    oldStandbyEnd: marks.find((m) => m.member === old && m.role === 'standby' && m.phase === 'end'),
    takeoverMs: nextDone.at - t0,
    overlapMs: overlapWithin(activeIntervals(await lab.marks(), now), t0, now),
    haproxyMs: served.sentAt - t0,
    failedRequests: watch.failedBetween(t0, served.sentAt).length,
  };
}

/** The active member's service dies (SIGKILL of its app): its probe goes critical, another member takes over. */
export function killActiveService(lab: GroupLab, old: Member, watch: ThroughWatch): Promise<Takeover> {
  return takeover(lab, 'service death', old, watch, () => lab.killApp(old));
}

/** The active member's host is cut off (its bridge port down): its lease runs out, another member takes over. */
export function cutActiveHost(lab: GroupLab, old: Member, watch: ThroughWatch): Promise<Takeover> {
  return takeover(lab, 'partition', old, watch, () => lab.cut(old));
}

/** `m` answers 503 on /role/web and 200 on /role/web/standby: an eligible standby again. */
export function eligibleStandby(lab: GroupLab, m: Member, timeoutMs = 30_000): Promise<true> {
  return poll(`${m} an eligible standby`, timeoutMs, async (say) => {
    const [r, s] = [await lab.role(m), await lab.standbyRole(m)];
    say(`/role/web ${r}, /role/web/standby ${s}`);
    return r === 503 && s === 200 ? true : undefined;
  }, 100);
}

/** After killActiveService: the app back, its member an eligible standby (preempt is off: it stays one). */
export async function restoreService(lab: GroupLab, m: Member): Promise<void> {
  if (!lab.appRunning(m)) await lab.startApp(m);
  await eligibleStandby(lab, m);
}

/** After cutActiveHost: the host back, its member an eligible standby. */
export async function healHost(lab: GroupLab, m: Member): Promise<void> {
  if (lab.net.isCut(m)) await lab.heal(m);
  await eligibleStandby(lab, m);
}
