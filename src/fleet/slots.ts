// Taking one of a fleet's slots: a compare-and-swap create of slots/<i> under
// a lease of this agent, tried on each free index with the same lease. The
// key exists only while the lease lives, so a SIGKILLed holder frees its slot
// one TTL later and a fleet can never be locked for good (kured's lesson). As
// in coordination/lock.ts, the lease's renewals are tracked so the holder
// can ask, right before it acts, whether the slot is still certainly its own.
import type { Etcd3, Lease } from 'etcd3';
import type { FleetKeys, SlotRecord } from './records.js';

export interface HeldSlot {
  readonly index: number;
  readonly key: string;
  readonly record: SlotRecord;
  /** true while the lease was renewed within its TTL (less `marginMs`). */
  valid(marginMs?: number): boolean;
  /** Revokes the lease (deleting the key); resolves even when etcd is unreachable. */
  release(): Promise<void>;
}

export type TakeResult =
  | { readonly kind: 'taken'; readonly slot: HeldSlot }
  /** Every index tried was taken meanwhile: another member won the race. */
  | { readonly kind: 'none' }
  | { readonly kind: 'error'; readonly detail: string };

export function errText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').slice(0, 200);
}

/** Tries the `free` indexes in order; never throws. `onLost` fires once if the lease is lost while held. */
export async function takeSlot(client: Etcd3, keys: FleetKeys, free: readonly number[], record: SlotRecord, ttlSeconds: number,
  onLost: (slot: HeldSlot) => void): Promise<TakeResult> {
  const lease: Lease = client.lease(ttlSeconds, { autoKeepAlive: true });
  const sentAt = Date.now();
  let renewedFrom = sentAt;
  let pendingFrom = sentAt;
  let lost = false;
  let released = false;
  let slot: HeldSlot | undefined;
  lease.on('keepaliveFired', () => { pendingFrom = Date.now(); });
  // Counted from when the renewal was SENT: etcd's own expiry is never earlier.
  lease.on('keepaliveSucceeded', () => { renewedFrom = pendingFrom; });
  lease.on('lost', () => {
    if (lost) return;
    lost = true;
    if (slot && !released) onLost(slot);
  });
  const drop = () => lease.revoke().then(() => undefined, () => lease.release());
  let leaseId: string;
  try {
    leaseId = await lease.grant();
  } catch (err) {
    lease.release();
    return { kind: 'error', detail: `cannot get a lease from etcd: ${errText(err)}` };
  }
  try {
    for (const index of free) {
      const key = keys.slot(index);
      const res = await client.if(key, 'Create', '==', 0).then(client.put(key).value(JSON.stringify(record)).lease(leaseId)).commit();
      if (!res.succeeded) continue;
      slot = {
        index, key, record,
        valid: (marginMs = 0) => !lost && !released && renewedFrom + ttlSeconds * 1000 - marginMs > Date.now(),
        release: async () => {
          if (released) return;
          released = true;
          await drop();
        },
      };
      return { kind: 'taken', slot };
    }
    await drop();
    return { kind: 'none' };
  } catch (err) {
    // The put may have landed though the answer was lost: revoking the lease deletes it either way.
    await drop();
    return { kind: 'error', detail: `etcd did not answer the slot request: ${errText(err)}` };
  }
}
