// Writing "I am the primary now" into etcd: the new record, its history entry
// and the recovery block in one compare-and-swap on the record's revision.
// A lost answer is not a lost race: on any failure the record is read again,
// and if it already carries this promotion's signature it was ours.
import type { Etcd3 } from 'etcd3';
import {
  publishPrimary, readPrimary, type ClusterKeys, type PrimaryRecord, type RecoveryBlock, type Versioned,
} from '../coordination/cluster-records.js';

export interface ClaimInput {
  readonly client: Etcd3;
  readonly keys: ClusterKeys;
  readonly base: Versioned<PrimaryRecord> | undefined;
  readonly me: string;
  readonly intentId: string;
  readonly endpoint: { readonly host: string; readonly port: number };
  readonly serverId: number | null;
  /** What the new primary had received from the old one when it took over (see PrimaryRecord.fork_gtid). */
  readonly forkGtid: string | null;
  readonly recoveryBlockMs: number;
  readonly now: number;
  /** Retry transport failures until then (the lock's validity): after it, the claim is given up. */
  readonly deadline: number;
}

export type ClaimOutcome =
  | { readonly kind: 'won'; readonly record: PrimaryRecord }
  | { readonly kind: 'lost'; readonly winner: PrimaryRecord | undefined }
  | { readonly kind: 'unreachable'; readonly detail: string };

export function signature(me: string, intentId: string): string {
  return `${me}/${intentId}`;
}

export async function claimPrimary(c: ClaimInput): Promise<ClaimOutcome> {
  const prev = c.base?.value;
  const record: PrimaryRecord = {
    name: c.me, host: c.endpoint.host, port: c.endpoint.port, server_id: c.serverId,
    epoch: (prev?.epoch ?? 0) + 1, promoted_at: new Date(c.now).toISOString(), promoted_by: signature(c.me, c.intentId),
    previous: prev ? { name: prev.name, epoch: prev.epoch, host: prev.host, port: prev.port } : null,
    fork_gtid: c.forkGtid,
  };
  const block: RecoveryBlock | undefined = c.recoveryBlockMs > 0
    ? { until: c.now + c.recoveryBlockMs, by: c.me, epoch: record.epoch, acknowledged: null } : undefined;
  let lastError = 'no attempt';
  while (Date.now() < c.deadline) {
    try {
      if (await publishPrimary(c.client, c.keys, c.base?.modRevision, record, block)) return { kind: 'won', record };
    } catch (err) {
      lastError = (err as Error).message.slice(0, 200);
    }
    try {
      const now = await readPrimary(c.client, c.keys);
      if (now?.value.promoted_by === record.promoted_by) return { kind: 'won', record: now.value };
      if (now?.modRevision !== c.base?.modRevision) return { kind: 'lost', winner: now?.value };
    } catch (err) {
      lastError = (err as Error).message.slice(0, 200);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { kind: 'unreachable', detail: lastError };
}
