// After a crash mid-promotion: look at the world, then complete or record —
// never repeat. The etcd intent (written before any SQL) says which epoch the
// promotion started from; the local server and the primary record say how
// far it got:
//   record carries our signature            → it completed; only the intent was left
//   record moved on to someone else         → superseded; the member loop fences/follows
//   record unchanged, server still a replica → it never started; nothing to undo
//   record unchanged, server promoted        → finish it: lock, claim the record, writable
//                                              (or, losing the lock/race, fence it)
import type { ReconcileResult } from '../actions/types.js';
import { clearIntent, readIntent, readPrimary, takePrimaryLeaseForPromotion, type PrimaryRecord } from '../coordination/cluster-records.js';
import { tryLock } from '../coordination/lock.js';
import { fenceLocal } from '../mysql/fencing.js';
import { claimPrimary, signature } from './claim.js';
import type { FailoverDeps } from './deps.js';
import type { ClusterMember } from './member.js';

export interface Resolution extends ReconcileResult {
  readonly intentId: string;
  /** The record this agent's promotion produced, when it completed (post_promote still owed). */
  readonly completed?: PrimaryRecord;
}

const SQL_TIMEOUT_MS = 15_000;

function text(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').slice(0, 200);
}

/**
 * Resolves this member's intent in etcd, if there is one. Returns undefined when
 * there is none, and `reconciled_unknown` (intent kept, tried again next loop)
 * when etcd or the local server cannot tell yet.
 */
export async function resolveOwnIntent(member: ClusterMember, d: FailoverDeps): Promise<Resolution | undefined> {
  const keys = member.keys;
  const me = member.name;
  const intent = await readIntent(d.client, keys, me);
  if (!intent) return undefined;
  const it = intent.value;
  const done = async (r: Omit<Resolution, 'intentId'>): Promise<Resolution> => {
    if (r.outcome !== 'reconciled_unknown') await clearIntent(d.client, keys, me);
    const res = { ...r, intentId: it.intent_id };
    member.note('reconcile', r.outcome !== 'reconciled_unknown', `${r.outcome}: ${r.detail}`);
    return res;
  };
  const record = (await readPrimary(d.client, keys))?.value;
  if (record?.promoted_by === signature(me, it.intent_id)) {
    return done({ outcome: 'reconciled_succeeded', detail: `the promotion had completed: ${me} is primary at epoch ${record.epoch}`, completed: record });
  }
  if (record && record.epoch > it.base_epoch) {
    return done({ outcome: 'reconciled_failed', detail: `superseded: ${record.name} became primary at epoch ${record.epoch}; this member follows or is fenced` });
  }
  const m = await member.local.measure();
  if (!m.state) return done({ outcome: 'reconciled_unknown', detail: `local server unreachable (${m.error}); asked again on the next loop` });
  if (m.state.replica) {
    return done({ outcome: 'reconciled_failed', detail: 'the promotion had not started: the local server is still a replica; nothing changed' });
  }
  // Half done: the server stopped being a replica but the record was never written.
  const flavor = m.state.flavor;
  const got = await tryLock(d.client, keys.lock, { member: me, purpose: `complete promotion ${it.intent_id}`, since: new Date(d.now()).toISOString() },
    d.leaseTtlSeconds, () => d.lockHeld(keys.lock, false));
  if (!got.ok && !got.heldBy) return done({ outcome: 'reconciled_unknown', detail: `cannot take the lock to finish the promotion (${got.detail}); asked again on the next loop` });
  if (!got.ok) {
    const back = await member.local.change(SQL_TIMEOUT_MS, (link) => fenceLocal(link, flavor));
    return done({ outcome: 'reconciled_failed', detail: `half-done promotion abandoned (${got.detail}); local server ${back.ok ? 'set read_only' : `NOT set read_only: ${back.error}`}` });
  }
  d.lockHeld(keys.lock, true);
  try {
    const base = await readPrimary(d.client, keys);
    const leaseTaken = base?.value.epoch === it.base_epoch && await takePrimaryLeaseForPromotion(d.client, keys, got.lock.leaseId, base?.modRevision, {
      member: me, instance: member.guard.instance, epoch: it.base_epoch + 1, host: member.settings.advertise.host, port: member.settings.advertise.port,
      ttl_ms: member.settings.primaryLease.ttlMs, renew_deadline_ms: member.settings.primaryLease.renewDeadlineMs, acquired_at: new Date(d.now()).toISOString(),
    });
    if (!leaseTaken) {
      const back = await member.local.change(SQL_TIMEOUT_MS, (link) => fenceLocal(link, flavor));
      return done({ outcome: 'reconciled_failed', detail: `superseded while locking (the record or the primary lease changed); local server ${back.ok ? 'set read_only' : `NOT set read_only: ${back.error}`}` });
    }
    const claim = await claimPrimary({
      client: d.client, keys, base, me, intentId: it.intent_id, endpoint: member.settings.advertise, serverId: m.state.serverId, forkGtid: m.state.applied,
      recoveryBlockMs: member.settings.recoveryBlockMs, now: d.now(), deadline: got.lock.validUntil(),
    });
    if (claim.kind !== 'won') {
      const back = await member.local.change(SQL_TIMEOUT_MS, (link) => fenceLocal(link, flavor));
      if (claim.kind === 'unreachable') return done({ outcome: 'reconciled_unknown', detail: `cannot write the record (${claim.detail}); local server ${back.ok ? 'read_only' : 'NOT read_only'} until etcd answers` });
      return done({ outcome: 'reconciled_failed', detail: `lost the record to ${claim.winner?.name}; local server ${back.ok ? 'set read_only' : 'NOT set read_only'}` });
    }
    d.setEpoch(member.settings.cluster, claim.record.epoch);
    // The crash may have come between RESET REPLICA ALL and read_only=OFF, or we fenced it while etcd was away.
    const open = await member.local.change(SQL_TIMEOUT_MS, async (link) => {
      if (flavor === 'mysql') await link.execute('SET GLOBAL super_read_only = OFF');
      await link.execute('SET GLOBAL read_only = OFF');
    });
    return done({
      outcome: 'reconciled_succeeded', completed: claim.record,
      detail: `finished the interrupted promotion: ${me} is primary at epoch ${claim.record.epoch}${open.ok ? '' : ` but read_only could not be lifted (${open.error})`}`,
    });
  } catch (err) {
    return done({ outcome: 'reconciled_unknown', detail: `etcd failed while finishing the promotion (${text(err)})` });
  } finally {
    await got.lock.release();
    d.lockHeld(keys.lock, false);
  }
}
