// One read of a whole fleet in one etcd transaction (as groups/snapshot.ts
// does for a group): every member record and every slot, at one revision, so
// the share and the free slots are judged on the same moment.
import type { Etcd3 } from 'etcd3';
import { parseOr, prefixRange } from '../coordination/etcd-read.js';
import { fleetMemberSchema, slotRecordSchema, type FleetKeys, type FleetMemberRecord, type SlotRecord } from './records.js';

export interface SlotView {
  /** -1 for a key under slots/ that is not a number (it still counts as held: never assume a slot is free). */
  readonly index: number;
  /** undefined when the key holds something that is not a slot record (it still counts as held). */
  readonly record: SlotRecord | undefined;
  readonly lease: string;
}

export interface FleetSnapshot {
  readonly revision: string;
  readonly members: readonly FleetMemberRecord[];
  readonly slots: readonly SlotView[];
}


export async function readFleet(client: Etcd3, keys: FleetKeys): Promise<FleetSnapshot> {
  const res = await client.kv.txn({ compare: [], success: [prefixRange(keys.membersPrefix), prefixRange(keys.slotsPrefix)], failure: [] });
  const kvs = (i: number) => res.responses[i]?.response_range?.kvs ?? [];
  const members: FleetMemberRecord[] = [];
  for (const kv of kvs(0)) {
    const m = parseOr(fleetMemberSchema, kv.value);
    // A record filed under another member's name is not believed.
    if (m && kv.key.toString('utf8') === keys.member(m.member)) members.push(m);
  }
  const slots: SlotView[] = kvs(1).map((kv) => {
    const suffix = kv.key.toString('utf8').slice(keys.slotsPrefix.length);
    return { index: /^\d+$/.test(suffix) ? Number(suffix) : -1, record: parseOr(slotRecordSchema, kv.value), lease: String(kv.lease) };
  });
  return { revision: res.header.revision, members, slots };
}
