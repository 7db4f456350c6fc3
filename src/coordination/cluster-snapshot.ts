// One read of a whole cluster per member loop (Patroni's get_cluster()): the
// primary record, the primary's lease key, the recovery block, the lock, every
// member view and every intent, in a single etcd transaction, so the loop and
// the promotion gates decide over one consistent moment instead of five reads
// at five moments (and five deadlines when etcd is away).
import type { Etcd3 } from 'etcd3';
import {
  intentSchema, parseRecord, primaryLeaseSchema, primaryRecordSchema, recoveryBlockSchema,
  type ClusterKeys, type IntentRecord, type PrimaryLeaseRecord, type PrimaryRecord, type RecoveryBlock, type Versioned,
} from './cluster-records.js';
import { parseHolder, type LockHolder } from './lock.js';
import { prefixRange } from './etcd-read.js';

export interface ClusterSnapshot {
  /** etcd's revision at the moment of the read. */
  readonly revision: string;
  readonly primary: Versioned<PrimaryRecord> | undefined;
  readonly primaryLease: (Versioned<PrimaryLeaseRecord> & { readonly lease: string }) | undefined;
  readonly recoveryBlock: Versioned<RecoveryBlock> | undefined;
  readonly lockHolder: LockHolder | undefined;
  /** Member views as published, JSON-parsed but not validated (the caller knows their shape). */
  readonly members: ReadonlyArray<{ readonly name: string; readonly value: unknown; readonly modRevision: string }>;
  readonly intents: ReadonlyMap<string, Versioned<IntentRecord>>;
}


export async function readCluster(client: Etcd3, keys: ClusterKeys): Promise<ClusterSnapshot> {
  const one = (key: string) => ({ request_range: { key: Buffer.from(key) } });
  const res = await client.kv.txn({
    compare: [],
    success: [one(keys.primary), one(keys.primaryLease), one(keys.recoveryBlock), one(keys.lock), prefixRange(keys.membersPrefix), prefixRange(keys.intentsPrefix)],
    failure: [],
  });
  const kvs = (i: number) => res.responses[i]?.response_range?.kvs ?? [];
  const first = (i: number) => kvs(i)[0];
  const p = first(0);
  const l = first(1);
  const b = first(2);
  const intents = new Map<string, Versioned<IntentRecord>>();
  for (const kv of kvs(5)) {
    const key = kv.key.toString('utf8');
    intents.set(key.slice(keys.intentsPrefix.length), { value: parseRecord(intentSchema, key, kv.value), modRevision: kv.mod_revision });
  }
  return {
    revision: res.header.revision,
    primary: p ? { value: parseRecord(primaryRecordSchema, keys.primary, p.value), modRevision: p.mod_revision } : undefined,
    primaryLease: l ? { value: parseRecord(primaryLeaseSchema, keys.primaryLease, l.value), modRevision: l.mod_revision, lease: String(l.lease) } : undefined,
    recoveryBlock: b ? { value: parseRecord(recoveryBlockSchema, keys.recoveryBlock, b.value), modRevision: b.mod_revision } : undefined,
    lockHolder: parseHolder(first(3)?.value),
    members: kvs(4).map((kv) => {
      const name = kv.key.toString('utf8').slice(keys.membersPrefix.length);
      let value: unknown;
      try { value = JSON.parse(kv.value.toString('utf8')); } catch { value = undefined; }
      return { name, value, modRevision: kv.mod_revision };
    }),
    intents,
  };
}
