// The etcd key layout of a cluster and the records kept there. Every value is
// JSON. The primary record changes only by a transaction that compares the
// mod revision the writer read, so two writers can never both win, even if
// one of them lost its lock without noticing.
//
//   <prefix>/clusters/<cluster>/primary            {name, host, port, server_id, epoch, promoted_at, promoted_by, previous, fork_gtid}
//   <prefix>/clusters/<cluster>/primary_lease      {member, instance, epoch, host, port, ttl_ms, renew_deadline_ms, acquired_at} (lease-bound)
//   <prefix>/clusters/<cluster>/recovery_block     {until, by, epoch, acknowledged}
//   <prefix>/clusters/<cluster>/lock               {member, purpose, since}          (lease-bound)
//   <prefix>/clusters/<cluster>/members/<name>     the member's view                 (lease-bound)
//   <prefix>/clusters/<cluster>/intents/<name>     {intent_id, base_epoch, at}       (while a promotion runs)
//   <prefix>/clusters/<cluster>/history/<epoch>    the primary record of that epoch
import type { Etcd3 } from 'etcd3';
import { z } from 'zod';

export interface ClusterKeys {
  readonly root: string;
  readonly primary: string;
  /** Held by the primary's agent under its own lease: while it exists, nobody may promote. */
  readonly primaryLease: string;
  readonly recoveryBlock: string;
  readonly lock: string;
  readonly membersPrefix: string;
  readonly intentsPrefix: string;
  member(name: string): string;
  intent(name: string): string;
  history(epoch: number): string;
}

export function clusterKeys(prefix: string, cluster: string): ClusterKeys {
  const root = `${prefix}/clusters/${cluster}`;
  return {
    root,
    primary: `${root}/primary`,
    primaryLease: `${root}/primary_lease`,
    recoveryBlock: `${root}/recovery_block`,
    lock: `${root}/lock`,
    membersPrefix: `${root}/members/`,
    intentsPrefix: `${root}/intents/`,
    member: (name) => `${root}/members/${name}`,
    intent: (name) => `${root}/intents/${name}`,
    // Zero-padded so a prefix listing sorts by epoch.
    history: (epoch) => `${root}/history/${String(epoch).padStart(10, '0')}`,
  };
}

export const primaryRecordSchema = z.object({
  name: z.string(),
  host: z.string(),
  port: z.number().int(),
  server_id: z.number().int().nullable(),
  epoch: z.number().int().min(0),
  promoted_at: z.string(),
  /** Who wrote it: "<member>/<intent id>", or "<member>/bootstrap". */
  promoted_by: z.string(),
  previous: z.object({ name: z.string(), epoch: z.number().int(), host: z.string().optional(), port: z.number().int().optional() }).nullable().default(null),
  /**
   * The GTID position the new primary started from (what it had received from
   * the old one). Anything an old primary holds beyond it was written after
   * the fork: errant. Absent on bootstrap records and records of older agents.
   */
  fork_gtid: z.string().nullable().optional(),
}).passthrough();

export type PrimaryRecord = z.output<typeof primaryRecordSchema>;

export const primaryLeaseSchema = z.object({
  member: z.string(),
  /** Random per agent process: tells a restarted agent's old key from a clone's live one. */
  instance: z.string(),
  epoch: z.number().int(),
  host: z.string(),
  port: z.number().int(),
  ttl_ms: z.number(),
  renew_deadline_ms: z.number(),
  acquired_at: z.string(),
}).passthrough();

export type PrimaryLeaseRecord = z.output<typeof primaryLeaseSchema>;

export const recoveryBlockSchema = z.object({
  /** Epoch ms. */
  until: z.number(),
  by: z.string(),
  epoch: z.number().int(),
  acknowledged: z.object({ by: z.string(), at: z.string(), comment: z.string().optional() }).nullable().default(null),
}).passthrough();

export type RecoveryBlock = z.output<typeof recoveryBlockSchema>;

export const intentSchema = z.object({
  intent_id: z.string(),
  member: z.string(),
  base_epoch: z.number().int(),
  base_primary: z.string().nullable(),
  at: z.number(),
}).passthrough();

export type IntentRecord = z.output<typeof intentSchema>;

export interface Versioned<T> { readonly value: T; readonly modRevision: string }

export class RecordFormatError extends Error {
  readonly code = 'VIGIL_E_ETCD_RECORD';
}

export function parseRecord<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, key: string, raw: Buffer): T {
  let json: unknown;
  try { json = JSON.parse(raw.toString('utf8')); } catch { throw new RecordFormatError(`${key} is not JSON; fix or delete it with etcdctl`); }
  const r = schema.safeParse(json);
  if (!r.success) throw new RecordFormatError(`${key} has an unexpected shape (${r.error.issues[0]?.message ?? 'invalid'}); fix or delete it with etcdctl`);
  return r.data;
}

async function readKey<T>(client: Etcd3, key: string, schema: z.ZodType<T, z.ZodTypeDef, unknown>): Promise<Versioned<T> | undefined> {
  const kv = (await client.get(key).exec()).kvs[0];
  return kv ? { value: parseRecord(schema, key, kv.value), modRevision: kv.mod_revision } : undefined;
}

export function readPrimary(client: Etcd3, keys: ClusterKeys): Promise<Versioned<PrimaryRecord> | undefined> {
  return readKey(client, keys.primary, primaryRecordSchema);
}

export function readRecoveryBlock(client: Etcd3, keys: ClusterKeys): Promise<Versioned<RecoveryBlock> | undefined> {
  return readKey(client, keys.recoveryBlock, recoveryBlockSchema);
}

export function readIntent(client: Etcd3, keys: ClusterKeys, member: string): Promise<Versioned<IntentRecord> | undefined> {
  return readKey(client, keys.intent(member), intentSchema);
}

/** Every member's raw view (JSON-parsed, not validated: the caller knows the shape). */
export async function readMemberValues(client: Etcd3, keys: ClusterKeys): Promise<Array<{ name: string; value: unknown }>> {
  const res = await client.getAll().prefix(keys.membersPrefix).exec();
  const out: Array<{ name: string; value: unknown }> = [];
  for (const kv of res.kvs) {
    const name = kv.key.toString('utf8').slice(keys.membersPrefix.length);
    try { out.push({ name, value: JSON.parse(kv.value.toString('utf8')) }); } catch { out.push({ name, value: undefined }); }
  }
  return out;
}

/** Is the block in force at `now`? (An acknowledged block is lifted early.) */
export function blockActive(b: RecoveryBlock | undefined, now: number): boolean {
  return !!b && b.acknowledged === null && b.until > now;
}

/**
 * Writes the new primary record, its history entry and the recovery block in
 * one transaction, only if the record is still what the writer read
 * (`expected`: its mod revision, or undefined when there was none).
 */
export async function publishPrimary(client: Etcd3, keys: ClusterKeys, expected: string | undefined,
  record: PrimaryRecord, block: RecoveryBlock | undefined): Promise<boolean> {
  const ops = [
    client.put(keys.primary).value(JSON.stringify(record)),
    client.put(keys.history(record.epoch)).value(JSON.stringify(record)),
    ...(block ? [client.put(keys.recoveryBlock).value(JSON.stringify(block))] : []),
  ];
  const txn = expected === undefined ? client.if(keys.primary, 'Create', '==', 0) : client.if(keys.primary, 'Mod', '==', expected);
  return (await txn.then(...ops).commit()).succeeded;
}

export async function writeIntent(client: Etcd3, keys: ClusterKeys, intent: IntentRecord): Promise<void> {
  await client.put(keys.intent(intent.member)).value(JSON.stringify(intent));
}

export async function clearIntent(client: Etcd3, keys: ClusterKeys, member: string): Promise<void> {
  await client.delete().key(keys.intent(member));
}

/** Lifts the recovery block early; retried compare-and-swap so a concurrent write is never lost. */
export async function acknowledgeRecoveryBlock(client: Etcd3, keys: ClusterKeys, by: string, comment: string | undefined,
  now: number): Promise<{ acknowledged: boolean; block?: RecoveryBlock }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const cur = await readRecoveryBlock(client, keys);
    if (!cur) return { acknowledged: false };
    if (cur.value.acknowledged) return { acknowledged: false, block: cur.value };
    const next: RecoveryBlock = { ...cur.value, acknowledged: { by, at: new Date(now).toISOString(), ...(comment ? { comment } : {}) } };
    const res = await client.if(keys.recoveryBlock, 'Mod', '==', cur.modRevision)
      .then(client.put(keys.recoveryBlock).value(JSON.stringify(next))).commit();
    if (res.succeeded) return { acknowledged: true, block: next };
  }
  throw new Error(`${keys.recoveryBlock} kept changing while it was acknowledged; try again`);
}

/**
 * A promoting candidate takes the primary lease key under its lock's lease,
 * if the key is absent and the record is still at the revision it read: the
 * old primary's agent can then no longer take it and unfence. Resolves false
 * when either changed.
 */
export async function takePrimaryLeaseForPromotion(client: Etcd3, keys: ClusterKeys, leaseId: string, recordRevision: string | undefined,
  value: PrimaryLeaseRecord): Promise<boolean> {
  const txn = client.if(keys.primaryLease, 'Create', '==', 0);
  if (recordRevision === undefined) txn.and(keys.primary, 'Create', '==', 0);
  else txn.and(keys.primary, 'Mod', '==', recordRevision);
  return (await txn.then(client.put(keys.primaryLease).value(JSON.stringify(value)).lease(leaseId)).commit()).succeeded;
}
