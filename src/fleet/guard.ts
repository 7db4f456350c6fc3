// The fleet step of one action (FleetGate.acquire for one fleet): read the
// fleet → a shared cause stands down, no free slot is busy → take a slot by
// compare-and-swap → with stand_down_share, wait `settle` for members that
// see the same failure a probe interval later, read again and judge again
// under the slot (VTOrc's re-check after locking) → act under the slot.
// etcd unreachable at any step: lock_unavailable, or act alone when the rule
// says `fleet_unavailable: act_alone`.
import type { FleetAnswer, FleetRequest } from '../remediation/fleet-gate.js';
import { countShare, judge, sharedCauseDetail } from './decide.js';
import type { FleetMember } from './member.js';
import type { SlotRecord } from './records.js';
import { errText, takeSlot } from './slots.js';
import type { FleetSnapshot } from './snapshot.js';

/** Resolves true after `ms`, false at once when `signal` aborts. */
function wait(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const t = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(true); }, ms);
    const onAbort = () => { clearTimeout(t); resolve(false); };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function unavailable(req: FleetRequest, why: string): FleetAnswer {
  const name = req.fleet.name;
  if (req.fleet.unavailable === 'act_alone') {
    return { ok: true, hold: undefined, detail: `fleet ${name}: ${why}; acting alone without a slot as fleet_unavailable: act_alone allows (unsafe: other members may act at the same time)` };
  }
  return { ok: false, reason: 'lock_unavailable', detail: `fleet ${name}: ${why}; a rule with fleet: does not act without its slot (fleet_unavailable: act_alone would)` };
}

async function read(m: FleetMember): Promise<{ snap: FleetSnapshot } | { error: string }> {
  try {
    return { snap: await m.read() };
  } catch (err) {
    return { error: `cannot read the fleet from etcd (${errText(err)})` };
  }
}

export async function acquireSlot(m: FleetMember, req: FleetRequest): Promise<FleetAnswer> {
  const f = req.fleet;
  const limits = m.settings;
  const first = await read(m);
  if ('error' in first) return unavailable(req, first.error);
  const v = judge(first.snap, limits, m.selfView(req.probe), req.probe);
  if (v.kind === 'shared_cause') return { ok: false, reason: 'shared_cause', detail: v.detail };
  if (v.kind === 'busy') return { ok: false, reason: 'fleet_busy', detail: v.detail };
  const settle = f.standDownShare !== undefined && f.settleMs > 0;

  if (req.dryRun) {
    // Judged like the real thing, settle included, but nothing is taken: a dry run changes nothing.
    if (settle) {
      if (!(await wait(f.settleMs, req.signal))) return { ok: false, reason: 'lock_unavailable', detail: `fleet ${f.name}: the agent is stopping` };
      const again = await read(m);
      if ('error' in again) return unavailable(req, again.error);
      const c = countShare(again.snap, m.selfView(req.probe), req.probe, limits);
      if (c.standDown) return { ok: false, reason: 'shared_cause', detail: sharedCauseDetail(c, limits) };
    }
    return { ok: true, hold: undefined, detail: `fleet ${f.name}: slot ${v.free[0]} is free (dry run: not taken)` };
  }

  const record: SlotRecord = {
    holder: m.memberName, instance: m.instance, rule: req.rule, action: req.action, probe: req.probe, since: new Date(m.now()).toISOString(),
  };
  const taken = await takeSlot(m.client, m.keys, v.free, record, m.ttlSeconds, (slot) => m.slotLost(slot));
  if (taken.kind === 'error') return unavailable(req, taken.detail);
  if (taken.kind === 'none') {
    // Another member took the free slot(s) between our read and our write: say who holds them now.
    const now = await read(m);
    const busy = 'snap' in now ? judge(now.snap, limits, m.selfView(req.probe), req.probe) : undefined;
    return { ok: false, reason: 'fleet_busy', detail: busy && busy.kind !== 'free' ? busy.detail : `fleet ${f.name}: another member took the free slot at the same moment` };
  }
  const hold = m.hold(req.rule, taken.slot);
  void m.refresh(); // the gauges and /status show the slot now, not at the next refresh
  if (!settle) return { ok: true, hold, detail: `took ${hold.detail}` };

  m.settling.set(req.rule, { since: m.now(), until: m.now() + f.settleMs });
  try {
    if (!(await wait(f.settleMs, req.signal))) { hold.release(0); return { ok: false, reason: 'lock_unavailable', detail: `fleet ${f.name}: the agent is stopping` }; }
    const again = await read(m);
    if ('error' in again) { hold.release(0); return unavailable(req, again.error); }
    const c = countShare(again.snap, m.selfView(req.probe), req.probe, limits);
    if (c.standDown) { hold.release(0); return { ok: false, reason: 'shared_cause', detail: sharedCauseDetail(c, limits) }; }
    return { ok: true, hold, detail: `took ${hold.detail}; ${c.criticalMembers.length} of ${c.live} members have ${req.probe} critical after settling` };
  } finally {
    m.settling.delete(req.rule);
  }
}
