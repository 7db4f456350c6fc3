// A try-once, lease-bound lock: the key exists only while its lease lives, so
// a SIGKILLed holder frees it one TTL later. It is what etcd3's Lock does
// (create-if-absent under a lease), done here so that the holder is written
// into the key (who holds it shows in /status and in a refusal) and so the
// lease's renewals are visible: a holder asks `valid()` right before it acts
// and never acts on a lock it may already have lost.
import type { Etcd3, Lease } from 'etcd3';

export interface LockHolder {
  readonly member: string;
  readonly purpose: string;
  readonly since: string;
}

export interface HeldLock {
  readonly key: string;
  readonly holder: LockHolder;
  /** The lease the lock key is bound to: other keys bound to it go when the lock does. */
  readonly leaseId: string;
  /** Local time until which the lease is certainly alive (last renewal sent + TTL). */
  validUntil(): number;
  /** true while the lease is alive for at least `marginMs` more. */
  valid(marginMs?: number): boolean;
  /** Revokes the lease (deleting the key); resolves even when etcd is unreachable. */
  release(): Promise<void>;
}

export type LockAttempt =
  | { readonly ok: true; readonly lock: HeldLock }
  | { readonly ok: false; readonly heldBy?: LockHolder; readonly detail: string };

function errText(err: unknown): string {
  return err instanceof Error ? err.message.replace(/\s+/g, ' ').slice(0, 200) : String(err);
}

export function parseHolder(raw: Buffer | undefined): LockHolder | undefined {
  if (!raw) return undefined;
  try {
    const v = JSON.parse(raw.toString('utf8')) as Partial<LockHolder>;
    return typeof v.member === 'string' ? { member: v.member, purpose: String(v.purpose ?? ''), since: String(v.since ?? '') } : undefined;
  } catch {
    return undefined;
  }
}

/** Tries once to take `key`. Never throws: etcd down or without quorum is `{ ok: false }`. */
export async function tryLock(client: Etcd3, key: string, holder: LockHolder, ttlSeconds: number, onLost?: () => void): Promise<LockAttempt> {
  const lease: Lease = client.lease(ttlSeconds, { autoKeepAlive: true });
  const grantSentAt = Date.now();
  let renewedFrom = grantSentAt;
  let pendingFrom = grantSentAt;
  let lost = false;
  lease.on('keepaliveFired', () => { pendingFrom = Date.now(); });
  lease.on('keepaliveSucceeded', () => { renewedFrom = pendingFrom; });
  lease.on('lost', () => {
    if (lost) return;
    lost = true;
    onLost?.();
  });
  let leaseId: string;
  try {
    leaseId = await lease.grant();
  } catch (err) {
    lease.release();
    return { ok: false, detail: `cannot get a lease from etcd: ${errText(err)}` };
  }
  try {
    const res = await client.if(key, 'Create', '==', 0)
      .then(client.put(key).value(JSON.stringify(holder)).lease(leaseId))
      .else(client.get(key))
      .commit();
    if (res.succeeded) {
      const lock: HeldLock = {
        key,
        holder,
        leaseId,
        validUntil: () => (lost ? 0 : renewedFrom + ttlSeconds * 1000),
        valid: (marginMs = 0) => !lost && renewedFrom + ttlSeconds * 1000 - marginMs > Date.now(),
        release: async () => {
          lost = true;
          await lease.revoke().catch(() => lease.release());
        },
      };
      return { ok: true, lock };
    }
    await lease.revoke().catch(() => lease.release());
    const heldBy = parseHolder(res.responses[0]?.response_range?.kvs[0]?.value);
    return { ok: false, heldBy, detail: heldBy ? `held by ${heldBy.member} (${heldBy.purpose}) since ${heldBy.since}` : `${key} is held` };
  } catch (err) {
    // The put may have landed even though the answer was lost: revoking the lease deletes it either way.
    await lease.revoke().catch(() => lease.release());
    return { ok: false, detail: `etcd did not answer the lock request: ${errText(err)}` };
  }
}

/** Who holds `key` now, if anyone (for /status). */
export async function lockHolder(client: Etcd3, key: string): Promise<LockHolder | undefined> {
  return parseHolder((await client.get(key).exec()).kvs[0]?.value);
}
