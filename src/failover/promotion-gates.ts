// The gates of a promotion, in order, each a refusal with its reason:
//   1 corroboration  our IO thread and every live replica lost the primary   → not_corroborated
//   2 candidate      we are the most advanced eligible replica               → precheck_failed
//   3 lock, recheck  the cluster lock (lease-bound), then everything again   → lock_unavailable / not_corroborated / precheck_failed
//   4 data           lag ≤ max_lag_on_failover, relay log applied            → precheck_failed
// precheck() runs them and keeps the lock; execute() records the intent in
// etcd, runs pre_promote, promotes, claims the record, fences the old
// primary and runs post_promote.
import type { MemberView } from './view.js';
import { checkLag, chooseCandidate, corroborate, type PrimaryRef } from './candidate.js';
import { blockActive, takePrimaryLeaseForPromotion, type PrimaryRecord, type RecoveryBlock, type Versioned } from '../coordination/cluster-records.js';
import { tryLock, type HeldLock } from '../coordination/lock.js';
import { waitApplied } from '../mysql/promote-replica.js';
import type { PrecheckResult, PrecheckReason } from '../actions/types.js';
import type { FailoverDeps } from './deps.js';
import type { ClusterMember } from './member.js';

export type GateName = 'corroboration' | 'candidate' | 'lock' | 'recheck' | 'recovery_block' | 'data' | 'promotion' | 'reconcile';
export interface GateNote { readonly gate: GateName; readonly ok: boolean; readonly detail: string; readonly at: string }

export interface Prepared {
  readonly lock: HeldLock;
  readonly base: Versioned<PrimaryRecord> | undefined;
  readonly primary: PrimaryRef;
  readonly self: MemberView;
}

type Evaluation =
  | { readonly ok: false; readonly reason: PrecheckReason; readonly detail: string }
  | { readonly ok: true; readonly base: Versioned<PrimaryRecord> | undefined; readonly primary: PrimaryRef; readonly self: MemberView; readonly block: RecoveryBlock | undefined };

export class GateLog {
  private notes: GateNote[] = [];
  private decidedAt = 0;
  constructor(private readonly now: () => number) {}
  reset(): void { this.notes = []; this.decidedAt = this.now(); }
  add(gate: GateName, ok: boolean, detail: string): void {
    this.notes.push({ gate, ok, detail, at: new Date(this.now()).toISOString() });
  }
  snapshot(): { at: string | null; gates: readonly GateNote[] } {
    return { at: this.decidedAt ? new Date(this.decidedAt).toISOString() : null, gates: [...this.notes] };
  }
}

function refuse(log: GateLog, gate: GateName, reason: PrecheckReason, detail: string): { ok: false; reason: PrecheckReason; detail: string } {
  log.add(gate, false, detail);
  return { ok: false, reason, detail };
}

/**
 * Gates 1 and 2 on fresh data: the member loop's own measurement and its
 * one snapshot of the cluster, taken just now (one etcd read, so an etcd
 * that is away costs one deadline and is named as the reason at once).
 */
export async function evaluate(member: ClusterMember, d: FailoverDeps, log: GateLog): Promise<Evaluation> {
  await member.tick();
  const self = member.latestView();
  const read = member.latestRead();
  if (!self) return refuse(log, 'corroboration', 'not_corroborated', 'the local server has not been measured yet');
  if (!read || 'error' in read) {
    return refuse(log, 'corroboration', 'lock_unavailable', `${read?.error ?? 'etcd not read yet'}: without etcd this member can neither hear the others, `
      + 'nor see the primary lease, nor take the lock, and it never promotes blind (the primary, cut off the same way, fences itself)');
  }
  const conflict = member.identityConflict();
  if (conflict) return refuse(log, 'corroboration', 'precheck_failed', conflict);
  const snap = read.snapshot;
  const base = snap.primary;
  const views: MemberView[] = [self, ...member.parseViews(snap).filter((v) => v.name !== member.name)];
  const primary: PrimaryRef | undefined = base ? { name: base.value.name, host: base.value.host, port: base.value.port }
    : self.source ? { host: self.source.host, port: self.source.port } : undefined;
  if (!primary) return refuse(log, 'corroboration', 'not_corroborated', 'no primary record and the local server is not a replica: no primary to replace');
  const lease = snap.primaryLease;
  const c = corroborate({ self: member.name, views, primary, now: d.now(), staleAfterMs: member.settings.viewStaleAfterMs, leaseGone: !lease });
  if (lease) {
    const l = lease.value;
    return refuse(log, 'corroboration', 'not_corroborated', `the primary lease is held by ${l.member} (epoch ${l.epoch}): its agent is alive and fences its server `
      + `before the lease can expire, so a promotion waits until the lease is released or expires (ttl ${l.ttl_ms / 1000}s); ${c.ok ? 'every replica lost the primary' : c.detail}`);
  }
  if (!c.ok) return refuse(log, 'corroboration', 'not_corroborated', `${c.detail} (the primary lease is gone: expired or released)`);
  const grace = member.settings.viewStaleAfterMs;
  const away = member.roster.waitingFor(d.now(), grace, [member.name, ...(primary.name ? [primary.name] : [])]);
  if (away.length > 0) {
    return refuse(log, 'corroboration', 'not_corroborated', `waiting for the view of ${away.map((a) => `${a.name} (missing for ${(a.missingForMs / 1000).toFixed(1)}s)`).join(', ')}: `
      + `a replica is left out only after ${grace / 1000}s (view_stale_after), in case its agent or etcd is just coming back`);
  }
  log.add('corroboration', true, `${c.detail}; no primary lease (expired or released)`);
  const choice = chooseCandidate({ self: member.name, views, primary, now: d.now(), staleAfterMs: member.settings.viewStaleAfterMs });
  if (!choice.candidate) return refuse(log, 'candidate', 'precheck_failed', `no candidate: ${choice.detail}`);
  if (choice.candidate.name !== member.name) {
    return refuse(log, 'candidate', 'precheck_failed', `standing by: ${choice.candidate.name} is the candidate (${choice.detail}); this member follows it once promoted`);
  }
  log.add('candidate', true, choice.detail);
  return { ok: true, base, primary, self, block: snap.recoveryBlock?.value };
}

/** Gates 1-4. On success the lock is held: the caller keeps `prepared` and must release it. */
export async function runGates(member: ClusterMember, d: FailoverDeps, log: GateLog, dryRun: boolean):
  Promise<{ result: PrecheckResult; prepared?: Prepared }> {
  log.reset();
  const first = await evaluate(member, d, log);
  if (!first.ok) return { result: first };
  if (dryRun) return { result: { ok: true, detail: `would lock ${member.keys.lock} and promote ${member.name}` } };

  const holder = { member: member.name, purpose: `promote ${member.settings.cluster}`, since: new Date(d.now()).toISOString() };
  const got = await tryLock(d.client, member.keys.lock, holder, d.leaseTtlSeconds, () => d.lockHeld(member.keys.lock, false));
  if (!got.ok) return { result: refuse(log, 'lock', 'lock_unavailable', `cannot take ${member.keys.lock}: ${got.detail}`) };
  d.lockHeld(member.keys.lock, true);
  log.add('lock', true, `holding ${member.keys.lock} (lease ${d.leaseTtlSeconds}s)`);
  const fail = async (r: { ok: false; reason: PrecheckReason; detail: string }) => {
    await got.lock.release();
    d.lockHeld(member.keys.lock, false);
    return { result: r };
  };

  // VTOrc's rule: after locking, read everything again; someone may have fixed it meanwhile.
  const again = await evaluate(member, d, log);
  if (!again.ok) return fail(again);
  if (again.base?.modRevision !== first.base?.modRevision) {
    const r = again.base?.value;
    return fail(refuse(log, 'recheck', 'not_corroborated', `the primary record changed while locking (now ${r ? `${r.name} at epoch ${r.epoch}` : 'none'}): already handled`));
  }
  log.add('recheck', true, 'primary still dead, record unchanged, still the candidate');
  const b = again.block;
  if (blockActive(b, d.now())) {
    return fail(refuse(log, 'recovery_block', 'precheck_failed', `recovery block active until ${new Date(b!.until).toISOString()} (set by ${b!.by} at epoch ${b!.epoch}); `
      + `an operator lifts it with POST /v1/clusters/${member.settings.cluster}/acknowledge`));
  }
  log.add('recovery_block', true, b ? (b.acknowledged ? `acknowledged by ${b.acknowledged.by}` : 'expired') : 'none');
  // The primary lease, bound to our lock: from here on the old primary's agent cannot take it back and unfence.
  const claimed = await takePrimaryLeaseForPromotion(d.client, member.keys, got.lock.leaseId, again.base?.modRevision, {
    member: member.name, instance: member.guard.instance, epoch: (again.base?.value.epoch ?? 0) + 1,
    host: member.settings.advertise.host, port: member.settings.advertise.port,
    ttl_ms: member.settings.primaryLease.ttlMs, renew_deadline_ms: member.settings.primaryLease.renewDeadlineMs, acquired_at: new Date(d.now()).toISOString(),
  }).catch((err: Error) => `etcd: ${err.message.slice(0, 200)}`);
  if (claimed !== true) {
    return fail(refuse(log, 'recheck', claimed === false ? 'not_corroborated' : 'lock_unavailable',
      claimed === false ? 'the primary lease or record changed while locking: the primary\'s agent is back' : `cannot take the primary lease: ${claimed}`));
  }
  log.add('recheck', true, `holding ${member.keys.primaryLease} under the lock's lease`);

  const self = again.self;
  const lag = checkLag(self, member.settings.maxLagMs, d.now());
  if (!lag.ok) return fail(refuse(log, 'data', 'precheck_failed', lag.detail));
  if (self.sql_running !== 'Yes') return fail(refuse(log, 'data', 'precheck_failed', `the local SQL thread is not running (Last_SQL_Errno ${self.last_sql_errno}): the relay log cannot be applied`));
  const timeout = member.settings.catchupTimeoutMs;
  const caught = await member.local.change(timeout + 5000, (link) => waitApplied(link, self.flavor!, self.gtid_received ?? '', timeout));
  if (!caught.ok) return fail(refuse(log, 'data', 'precheck_failed', `catch-up failed: ${caught.error}`));
  if (!caught.value.ok) return fail(refuse(log, 'data', 'precheck_failed', `${caught.value.detail} (applied ${self.gtid_applied}, received ${self.gtid_received})`));
  log.add('data', true, `${lag.detail}; ${caught.value.detail}`);
  return {
    result: { ok: true, detail: `${member.name} is the candidate; lock held` },
    prepared: { lock: got.lock, base: again.base, primary: again.primary, self },
  };
}
