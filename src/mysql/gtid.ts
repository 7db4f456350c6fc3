// GTID positions of MariaDB (domain-server-seq lists) and MySQL (uuid:interval
// sets), parsed into one comparable shape. Failover ranks replicas by how much
// of the dead primary's stream they received, so comparison must be exact:
// "ahead", "behind", "equal" or "diverged" (each has something the other lacks).
import type { Flavor } from './flavor.js';

export type { Flavor };

/** MariaDB: per replication domain, the last seq_no (and the server that wrote it). */
export interface MariaPosition {
  readonly flavor: 'mariadb';
  readonly domains: ReadonlyMap<number, { readonly serverId: number; readonly seq: bigint }>;
}

/** MySQL: per source uuid, sorted disjoint inclusive intervals of transaction numbers. */
export interface MysqlPosition {
  readonly flavor: 'mysql';
  readonly sets: ReadonlyMap<string, ReadonlyArray<readonly [bigint, bigint]>>;
}

export type GtidPosition = MariaPosition | MysqlPosition;
export type Comparison = 'equal' | 'ahead' | 'behind' | 'diverged';

export class GtidParseError extends Error {
  readonly code = 'VIGIL_E_GTID_PARSE';
}

const MARIA_RE = /^(\d+)-(\d+)-(\d+)$/;

export function parseMariaGtidList(text: string | null | undefined): MariaPosition {
  const domains = new Map<number, { serverId: number; seq: bigint }>();
  for (const part of (text ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = MARIA_RE.exec(part);
    if (!m) throw new GtidParseError(`"${part}" is not a MariaDB GTID (domain-server-seq)`);
    const domain = Number(m[1]);
    const entry = { serverId: Number(m[2]), seq: BigInt(m[3]) };
    const prev = domains.get(domain);
    // A list may name a domain twice (e.g. Gtid_IO_Pos mid-switch): keep the furthest.
    if (!prev || entry.seq > prev.seq) domains.set(domain, entry);
  }
  return { flavor: 'mariadb', domains };
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function parseMysqlGtidSet(text: string | null | undefined): MysqlPosition {
  const sets = new Map<string, Array<[bigint, bigint]>>();
  for (const part of (text ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const [uuidRaw, ...ranges] = part.split(':');
    const uuid = uuidRaw.toLowerCase();
    if (!UUID_RE.test(uuid) || ranges.length === 0) throw new GtidParseError(`"${part}" is not a MySQL GTID set entry (uuid:n[-m])`);
    const list = sets.get(uuid) ?? [];
    for (const r of ranges) {
      const m = /^(\d+)(?:-(\d+))?$/.exec(r);
      if (!m) throw new GtidParseError(`"${r}" in "${part}" is not an interval`);
      const lo = BigInt(m[1]);
      const hi = BigInt(m[2] ?? m[1]);
      if (hi < lo) throw new GtidParseError(`interval ${r} in "${part}" ends before it starts`);
      list.push([lo, hi]);
    }
    sets.set(uuid, list);
  }
  for (const [uuid, list] of sets) sets.set(uuid, normalize(list));
  return { flavor: 'mysql', sets };
}

function normalize(list: Array<[bigint, bigint]>): Array<[bigint, bigint]> {
  const sorted = [...list].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out: Array<[bigint, bigint]> = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1n) last[1] = hi > last[1] ? hi : last[1];
    else out.push([lo, hi]);
  }
  return out;
}

export function parseGtid(flavor: Flavor, text: string | null | undefined): GtidPosition {
  return flavor === 'mariadb' ? parseMariaGtidList(text) : parseMysqlGtidSet(text);
}

/** The union: per domain the furthest seq (MariaDB), or the set union (MySQL). */
export function mergePositions(a: GtidPosition, b: GtidPosition): GtidPosition {
  if (a.flavor === 'mariadb' && b.flavor === 'mariadb') {
    const domains = new Map(a.domains);
    for (const [d, e] of b.domains) {
      const prev = domains.get(d);
      if (!prev || e.seq > prev.seq) domains.set(d, e);
    }
    return { flavor: 'mariadb', domains };
  }
  if (a.flavor === 'mysql' && b.flavor === 'mysql') {
    const sets = new Map<string, Array<[bigint, bigint]>>();
    for (const src of [a.sets, b.sets]) {
      for (const [uuid, list] of src) sets.set(uuid, [...(sets.get(uuid) ?? []), ...list.map((r) => [r[0], r[1]] as [bigint, bigint])]);
    }
    for (const [uuid, list] of sets) sets.set(uuid, normalize(list));
    return { flavor: 'mysql', sets };
  }
  throw new GtidParseError('cannot merge a MariaDB position with a MySQL one');
}

/** true when `a` holds every transaction `b` holds. */
export function contains(a: GtidPosition, b: GtidPosition): boolean {
  if (a.flavor === 'mariadb' && b.flavor === 'mariadb') {
    for (const [d, e] of b.domains) {
      const mine = a.domains.get(d);
      if (!mine || mine.seq < e.seq) return false;
    }
    return true;
  }
  if (a.flavor === 'mysql' && b.flavor === 'mysql') {
    for (const [uuid, list] of b.sets) {
      const mine = a.sets.get(uuid) ?? [];
      for (const [lo, hi] of list) {
        if (!mine.some(([mlo, mhi]) => mlo <= lo && hi <= mhi)) return false;
      }
    }
    return true;
  }
  throw new GtidParseError('cannot compare a MariaDB position with a MySQL one');
}

export function compare(a: GtidPosition, b: GtidPosition): Comparison {
  const ab = contains(a, b);
  const ba = contains(b, a);
  if (ab && ba) return 'equal';
  if (ab) return 'ahead';
  if (ba) return 'behind';
  return 'diverged';
}

/**
 * What `held` has that `base` lacks, as text (empty when nothing): the errant
 * transactions of an old primary measured against the position its
 * successor started from. MariaDB positions name only the last GTID of each
 * domain; with gtid_strict_mode sequence numbers only grow, so a domain is
 * errant past the base's seq_no, or at the same seq_no from another server.
 */
export function errantPart(held: GtidPosition, base: GtidPosition): { readonly text: string; readonly count: number } {
  let count = 0n;
  if (held.flavor === 'mariadb' && base.flavor === 'mariadb') {
    const out: string[] = [];
    for (const [d, e] of [...held.domains].sort((x, y) => x[0] - y[0])) {
      const b = base.domains.get(d);
      if (!b) { out.push(`domain ${d} up to ${d}-${e.serverId}-${e.seq} (unknown to the new primary)`); count += e.seq; }
      else if (e.seq > b.seq) { out.push(`${d}-${e.serverId}-${b.seq + 1n}..${e.seq}`); count += e.seq - b.seq; }
      else if (e.seq === b.seq && e.serverId !== b.serverId) { out.push(`${d}-${e.serverId}-${e.seq} (the new primary has ${d}-${b.serverId}-${b.seq})`); count += 1n; }
    }
    return { text: out.join(', '), count: Number(count) };
  }
  if (held.flavor === 'mysql' && base.flavor === 'mysql') {
    const out: string[] = [];
    for (const [uuid, list] of held.sets) {
      const have = base.sets.get(uuid) ?? [];
      const parts: string[] = [];
      for (const [lo, hi] of list) {
        let from = lo;
        for (const [blo, bhi] of have) {
          if (bhi < from || blo > hi) continue;
          if (blo > from) { parts.push(blo - 1n === from ? `${from}` : `${from}-${blo - 1n}`); count += blo - from; }
          from = bhi + 1n;
          if (from > hi) break;
        }
        if (from <= hi) { parts.push(from === hi ? `${from}` : `${from}-${hi}`); count += hi - from + 1n; }
      }
      if (parts.length) out.push(`${uuid}:${parts.join(':')}`);
    }
    return { text: out.join(','), count: Number(count) };
  }
  throw new GtidParseError('cannot compare a MariaDB position with a MySQL one');
}

/** Transactions in the position: a scalar used only to order diverged positions in messages. */
export function transactionCount(p: GtidPosition): bigint {
  let n = 0n;
  if (p.flavor === 'mariadb') for (const e of p.domains.values()) n += e.seq;
  else for (const list of p.sets.values()) for (const [lo, hi] of list) n += hi - lo + 1n;
  return n;
}

export function formatPosition(p: GtidPosition): string {
  if (p.flavor === 'mariadb') {
    return [...p.domains].sort((x, y) => x[0] - y[0]).map(([d, e]) => `${d}-${e.serverId}-${e.seq}`).join(',');
  }
  return [...p.sets].sort((x, y) => (x[0] < y[0] ? -1 : 1))
    .map(([uuid, list]) => `${uuid}:${list.map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}-${hi}`)).join(':')}`).join(',');
}
