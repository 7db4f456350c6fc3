// One read of a whole group per loop, in one etcd transaction (as
// coordination/cluster-snapshot.ts does for a MySQL cluster): the active key
// with its lease and revisions, every member record, the pause, a pending
// switchover and the last clean hand-over.
import type { Etcd3 } from 'etcd3';
import { parseOr, prefixRange } from '../coordination/etcd-read.js';
import {
  activeRecordSchema, memberRecordSchema, pauseRecordSchema, releasedSchema, switchoverSchema,
  type ActiveRecord, type GroupKeys, type MemberRecord, type PauseRecord, type ReleasedRecord, type SwitchoverRecord,
} from './records.js';

export interface ActiveHolder {
  /** undefined when the key holds something that is not an active record (it still blocks the election). */
  readonly record: ActiveRecord | undefined;
  /** The fencing token of the term: the revision of the write that created the key. */
  readonly token: string;
  readonly modRevision: string;
  readonly lease: string;
}

export interface GroupSnapshot {
  readonly revision: string;
  readonly active: ActiveHolder | undefined;
  readonly members: readonly MemberRecord[];
  readonly paused: PauseRecord | undefined;
  readonly switchover: (SwitchoverRecord & { readonly modRevision: string }) | undefined;
  readonly released: ReleasedRecord | undefined;
}


export async function readGroup(client: Etcd3, keys: GroupKeys): Promise<GroupSnapshot> {
  const one = (key: string) => ({ request_range: { key: Buffer.from(key) } });
  const res = await client.kv.txn({
    compare: [],
    success: [one(keys.active), prefixRange(keys.membersPrefix),
      one(keys.paused), one(keys.switchover), one(keys.released)],
    failure: [],
  });
  const kvs = (i: number) => res.responses[i]?.response_range?.kvs ?? [];
  const a = kvs(0)[0];
  const sw = kvs(3)[0];
  const switchover = parseOr(switchoverSchema, sw?.value);
  const members: MemberRecord[] = [];
  for (const kv of kvs(1)) {
    const m = parseOr(memberRecordSchema, kv.value);
    // A record filed under another member's name is not believed.
    if (m && kv.key.toString('utf8') === keys.member(m.member)) members.push(m);
  }
  return {
    revision: res.header.revision,
    active: a ? { record: parseOr(activeRecordSchema, a.value), token: a.create_revision, modRevision: a.mod_revision, lease: String(a.lease) } : undefined,
    members,
    paused: kvs(2)[0] ? (parseOr(pauseRecordSchema, kvs(2)[0].value) ?? { by: 'unknown', at: '', note: 'unreadable pause record' }) : undefined,
    switchover: switchover && sw ? { ...switchover, modRevision: sw.mod_revision } : undefined,
    released: parseOr(releasedSchema, kvs(4)[0]?.value),
  };
}
