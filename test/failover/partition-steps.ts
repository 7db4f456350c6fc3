// Steps on the partition lab (partition-lab.ts) shared by
// test/failover/partition.test.ts and the benches bench/failover-partition.ts
// and bench/failover-chaos.ts, so that what a bench measures is exactly what
// the tests assert on:
//  - ready(): the cluster is settled on a primary that holds the primary
//    lease, its replicas run with vigil's short link timeout (`tune`) and
//    have applied everything;
//  - cutPrimary() / healOld() / repairErrant(): a partition of the primary's
//    host, timed with tight pollers (20 ms) rather than the 100 ms sampler,
//    then the old primary's fate once healed (rejoined by its agent, or kept
//    fenced with errant transactions), and an operator's repair of the latter;
//  - killAndRecover(): one random primary kill (mysqld only, or agent and
//    mysqld together) and the recovery the chaos runs demand.
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { MEMBERS, PRIORITY, sleep, until, type Member } from './lab.js';
import type { PartitionLab } from './partition-lab.js';
import type { ReadOnlyRound, ReadOnlySampler, Writer } from './partition-app.js';
import type { PrimaryRecord } from '../../src/coordination/cluster-records.js';

// The partition agents' primary_lease (partition-agent.ts) and vigil's default replica_net_timeout.
export const TTL_MS = 4000;
export const RENEW_DEADLINE_MS = 2000;
export const FENCE_WITHIN_MS = 1000;
export const REPLICA_NET_TIMEOUT_S = 4;

export const others = (m: Member): Member[] => MEMBERS.filter((x) => x !== m);
/** Replicas of `primary`, the one vigil would promote first. */
export const byPriority = (ms: Member[]): Member[] => [...ms].sort((a, b) => PRIORITY[b] - PRIORITY[a]);

export async function leaseHolder(lab: PartitionLab): Promise<string | null> {
  const v = await lab.client.get(lab.keys().primaryLease).json() as { member?: string } | null;
  return v?.member ?? null;
}

/** @@read_only of `m` (over its socket while its host is cut), undefined when its mysqld is not running. */
export async function readOnly(lab: PartitionLab, m: Member): Promise<number | undefined> {
  const n = lab.node(m);
  if (!n.isRunning()) return undefined;
  const rows = lab.net.isCut(m) ? await n.socketQuery<{ ro: number }>('SELECT @@read_only AS ro') : await n.query<{ ro: number }>('SELECT @@read_only AS ro');
  return Number(rows[0].ro);
}

export async function writable(lab: PartitionLab): Promise<Member[]> {
  const out: Member[] = [];
  for (const m of MEMBERS) if ((await readOnly(lab, m)) === 0) out.push(m);
  return out;
}

export async function replicatesFrom(lab: PartitionLab, replica: Member, source: Member): Promise<boolean> {
  const [s] = await lab.node(replica).socketQuery<Record<string, unknown>>('SHOW REPLICA STATUS');
  return !!s && s.Master_Host === lab.addr(source) && s.Slave_IO_Running === 'Yes' && s.Slave_SQL_Running === 'Yes';
}

export async function orders(lab: PartitionLab, m: Member): Promise<any> {
  return (await lab.agentStatus(m)).failover.clusters.orders;
}

/** Settled on `primary`, which holds the primary lease; replicas tuned by vigil (slave_net_timeout 4 s) and caught up. */
export async function ready(lab: PartitionLab, primary: Member, timeoutMs = 30_000): Promise<PrimaryRecord> {
  const rec = await lab.settled(primary, timeoutMs);
  await until(`${primary} holds the primary lease`, async () => (await leaseHolder(lab)) === primary, timeoutMs);
  for (const r of others(primary)) {
    await until(`${r} tuned to slave_net_timeout ${REPLICA_NET_TIMEOUT_S}`, async () =>
      Number((await lab.node(r).socketQuery<{ t: number }>('SELECT @@slave_net_timeout AS t'))[0].t) === REPLICA_NET_TIMEOUT_S
      && replicatesFrom(lab, r, primary), timeoutMs);
    await lab.topo.waitReplicaCaughtUp(lab.node(r), timeoutMs);
  }
  await until(`${primary} writable`, async () => (await readOnly(lab, primary)) === 0, timeoutMs);
  return rec;
}

/**
 * Polls one server's @@read_only every `everyMs` on a kept connection and
 * remembers when it first answered 0 and 1. For a server whose host is cut,
 * connect over its unix socket: that is the server's own view, as an
 * application inside its namespace sees it.
 */
export class ReadOnlyWatch {
  private readonly first: Partial<Record<0 | 1, number>> = {};
  private conn: mysql.Connection | undefined;
  private running = true;
  private readonly loop: Promise<void>;

  constructor(private readonly target: mysql.ConnectionOptions, private readonly everyMs = 20) {
    this.loop = this.run();
  }

  static socket(lab: PartitionLab, m: Member, everyMs?: number): ReadOnlyWatch {
    return new ReadOnlyWatch({ socketPath: lab.node(m).socket, user: 'root' }, everyMs);
  }

  static tcp(lab: PartitionLab, m: Member, everyMs?: number): ReadOnlyWatch {
    return new ReadOnlyWatch({ host: lab.addr(m), port: lab.node(m).port, ...lab.topo.admin }, everyMs);
  }

  firstAt(v: 0 | 1): number | undefined { return this.first[v]; }

  async when(v: 0 | 1, timeoutMs: number, what: string): Promise<number> {
    return until(what, async () => this.first[v], timeoutMs, 10);
  }

  private async run(): Promise<void> {
    while (this.running) {
      const t = Date.now();
      try {
        if (!this.conn) {
          const c = await mysql.createConnection({ ...this.target, connectTimeout: 300 });
          c.on('error', () => undefined);
          this.conn = c;
        }
        const [rows] = await this.conn.query({ sql: 'SELECT @@read_only AS ro', timeout: 300 });
        const v = Number((rows as Array<{ ro: number }>)[0].ro) === 0 ? 0 : 1;
        this.first[v] ??= Date.now();
      } catch {
        this.conn?.destroy();
        this.conn = undefined;
      }
      await sleep(Math.max(0, t + this.everyMs - Date.now()));
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    this.conn?.destroy();
  }
}

export interface CutRun {
  readonly old: Member;
  readonly promoted: Member;
  readonly before: PrimaryRecord;
  readonly record: PrimaryRecord;
  /** Just before `ip link set down` of the host's bridge port ran... */
  readonly tCut: number;
  /** ...and when it had returned: a write acknowledged in between may or may not have replicated. */
  readonly tCutDone: number;
  /** The old primary first answered read_only = 1 (over its socket, from inside its host). */
  readonly oldReadOnlyAt: number;
  /** The promoted replica first answered read_only = 0. */
  readonly newWritableAt: number;
  /** With `writers`: an application in the old primary's namespace writing to it directly... */
  readonly oldWriter?: Writer;
  /** ...and one in the other replica's namespace writing through the writer endpoint. */
  readonly endpointWriter?: Writer;
}

/**
 * Cuts the primary's host off and waits for a replica to be promoted and
 * writable and for the old primary to have fenced itself. The host stays cut;
 * the writers keep running (the caller stops them).
 */
export async function cutPrimary(lab: PartitionLab, old: Member, o: { writers?: boolean; tag?: string } = {}): Promise<CutRun> {
  const before = await ready(lab, old);
  const tag = o.tag ?? `cut${Date.now() % 100_000}`;
  const [first, second] = byPriority(others(old));
  let oldWriter: Writer | undefined;
  let endpointWriter: Writer | undefined;
  if (o.writers) {
    oldWriter = lab.startWriter(old, old, `${tag}-old`);
    endpointWriter = lab.startWriter(second, lab.writerEndpoint(second), `${tag}-ep`);
    await until('both writers acknowledged by the primary', async () => oldWriter!.acks.length > 0 && endpointWriter!.acks.length > 0, 20_000);
  }
  const oldWatch = ReadOnlyWatch.socket(lab, old);
  const watches = new Map(others(old).map((m) => [m, ReadOnlyWatch.tcp(lab, m)]));
  try {
    await until('the watches see the primary writable, the replicas read-only', async () =>
      oldWatch.firstAt(0) !== undefined && [...watches.values()].every((w) => w.firstAt(1) !== undefined), 5000);
    const tCut = Date.now();
    await lab.cut(old);
    const tCutDone = Date.now();
    const record = await until('a new primary record', async () => {
      const r = await lab.record();
      return r && r.epoch > before.epoch && r;
    }, 40_000, 20).catch(async (err: Error) => { throw new Error(`${err.message}\n${await lab.explain()}`); });
    const promoted = record.name as Member;
    assert.equal(record.epoch, before.epoch + 1, 'exactly one epoch step');
    assert.equal(promoted, first, `the highest-priority replica ${first} is promoted`);
    const newWritableAt = await watches.get(promoted)!.when(0, 20_000, `${promoted} writable`);
    const oldReadOnlyAt = await oldWatch.when(1, 20_000, `${old} read_only`);
    return { old, promoted, before, record, tCut, tCutDone, oldReadOnlyAt, newWritableAt, oldWriter, endpointWriter };
  } finally {
    await oldWatch.stop();
    await Promise.all([...watches.values()].map((w) => w.stop()));
  }
}

export type OldFate =
  | { readonly kind: 'rejoined' }
  | { readonly kind: 'errant'; readonly count: number; readonly transactions: string; readonly metric: number };

/** After a heal or thaw: the old primary (or a replica) stays read_only and its agent either rejoins (repoints) it or reports errant transactions. */
export async function fateOfOld(lab: PartitionLab, old: Member, primary: Member, timeoutMs = 30_000): Promise<OldFate> {
  let writableAt: number | undefined;
  const fate = await until(`${old} rejoined to ${primary} or reported errant`, async () => {
    if ((await readOnly(lab, old)) === 0) writableAt ??= Date.now();
    if (await replicatesFrom(lab, old, primary)) return { kind: 'rejoined' as const };
    const st = await orders(lab, old);
    if (!st.errant) return undefined;
    const metric = await lab.agents[old].metric('vigil_mysql_errant_transactions', { cluster: 'orders' });
    return { kind: 'errant' as const, count: Number(st.errant.count), transactions: String(st.errant.transactions), metric };
  }, timeoutMs, 200);
  assert.equal(writableAt, undefined, `${old} was writable again while its fate was decided`);
  return fate;
}

/** App rows `old` holds that `primary` lacks (the ids), compared in SQL results. */
export async function rowsMissingOn(lab: PartitionLab, old: Member, primary: Member): Promise<string[]> {
  const ids = async (m: Member) => (await lab.node(m).query<{ id: string }>('SELECT id FROM app.writes')).map((r) => r.id);
  const there = new Set(await ids(primary));
  return (await ids(old)).filter((id) => !there.has(id));
}

/**
 * The operator's repair of an old primary holding errant transactions (the
 * runbook's "rebuild"): with its agent's repairs paused, delete the rows the
 * new primary lacks without binlogging, RESET MASTER, start at the record's
 * fork position as a replica of `primary`. Then its agent sees a replica of
 * the right source and leaves it be. Returns how many rows were deleted.
 */
export async function repairErrant(lab: PartitionLab, old: Member, primary: Member): Promise<number> {
  const rec = await lab.record();
  assert.equal(rec?.name, primary);
  const agent = lab.agents[old];
  assert.equal((await agent.admin('POST', '/v1/remediation/pause', { note: 'rebuilding the old primary' })).status, 200);
  const missing = await rowsMissingOn(lab, old, primary);
  const c = await mysql.createConnection({ socketPath: lab.node(old).socket, user: 'root' });
  try {
    await c.query('STOP REPLICA');
    await c.query('SET SESSION sql_log_bin = 0');
    if (missing.length) await c.query('DELETE FROM app.writes WHERE id IN (?)', [missing]);
    await c.query('RESET MASTER');
    await c.query('SET GLOBAL gtid_slave_pos = ?', [rec!.fork_gtid ?? '']);
    await c.query(`CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = ?, MASTER_PASSWORD = ?,
      MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1`, [lab.addr(primary), lab.node(primary).port, lab.topo.repl.user, lab.topo.repl.password]);
    await c.query('START REPLICA');
  } finally {
    c.destroy();
    assert.equal((await agent.admin('POST', '/v1/remediation/resume', {})).status, 200);
  }
  await lab.topo.waitReplicaCaughtUp(lab.node(old), 20_000);
  assert.deepEqual(await rowsMissingOn(lab, old, primary), [], 'no row of the old primary is missing on the new one');
  assert.deepEqual(await rowsMissingOn(lab, primary, old), [], 'and the old primary has every row of the new one');
  await until(`${old}'s agent no longer reports errant transactions`, async () => !(await orders(lab, old)).errant, 15_000);
  return missing.length;
}

/** The agents rejoined `old` to `primary` by themselves: replicating, caught up, no longer reported fenced. */
export async function rejoined(lab: PartitionLab, old: Member, primary: Member): Promise<void> {
  await until(`${old} rejoined to ${primary} by its agent`, () => replicatesFrom(lab, old, primary), 30_000, 200);
  await until(`${old} no longer reported fenced`, async () => (await lab.agents[old].metric('vigil_mysql_fenced', { cluster: 'orders' })) === 0, 15_000);
  await lab.topo.waitReplicaCaughtUp(lab.node(old), 20_000);
}

/**
 * After a heal or thaw: wait for the old primary's fate, repair it if it
 * holds errant transactions, settle on `primary`. The other replica's fate
 * too: one still attached to the old primary when it woke up (a thaw) may
 * have received what it committed before its agent fenced it; its agent
 * reports those as errant instead of repointing it, and it is repaired the
 * same way.
 */
export async function restoreOld(lab: PartitionLab, old: Member, primary: Member): Promise<OldFate & { readonly follower: OldFate }> {
  const fate = await fateOfOld(lab, old, primary);
  const follower = others(old).find((m) => m !== primary)!;
  const followerFate = await fateOfOld(lab, follower, primary);
  if (fate.kind === 'errant') await repairErrant(lab, old, primary);
  else await rejoined(lab, old, primary);
  if (followerFate.kind === 'errant') await repairErrant(lab, follower, primary);
  await ready(lab, primary);
  return { ...fate, follower: followerFate };
}

export type KillMode = 'mysqld' | 'host';

/** `runs` kill modes, half of each (the odd one random), in random order. */
export function chaosModes(runs: number, random: () => number = Math.random): KillMode[] {
  const modes: KillMode[] = Array.from({ length: runs }, (_, i) => (i % 2 === 0 ? 'mysqld' : 'host'));
  if (runs % 2 === 1 && random() < 0.5) modes[runs - 1] = 'host';
  for (let i = modes.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [modes[i], modes[j]] = [modes[j], modes[i]];
  }
  return modes;
}

export interface KillRun {
  readonly mode: KillMode;
  readonly phaseMs: number;
  readonly old: Member;
  readonly promoted: Member;
  readonly epochSteps: number;
  readonly killToRecordMs: number;
  readonly killToWritableMs: number;
  /** Sampler rounds from the kill on with two servers answering read_only = 0. */
  readonly twoWritable: readonly ReadOnlyRound[];
}

const twoOrMore = (r: ReadOnlyRound): boolean => Object.values(r.states).filter((v) => v === 0).length >= 2;

/**
 * One chaos kill of the primary `old`, after `phaseMs` (random against the
 * probe interval and the lease renewals): `mysqld` SIGKILLs its server only,
 * `host` SIGKILLs its server and its agent at once. Then exactly one replica
 * must be promoted (one epoch step, one writable server, the other replica
 * following it); the old mysqld is restarted as docs/failover.md says every
 * server must run (read_only=ON in its config), after its agent in `host`
 * mode, and its agent must rejoin it. (A server restarted writable is fenced
 * by its agent within a member loop: test/failover/steps.ts covers that.)
 * Throws when any of that does not happen.
 */
export async function killAndRecover(lab: PartitionLab, old: Member, o: { mode: KillMode; phaseMs: number; sampler?: ReadOnlySampler }): Promise<KillRun> {
  const before = await ready(lab, old);
  const watches = new Map(others(old).map((m) => [m, ReadOnlyWatch.tcp(lab, m)]));
  await sleep(o.phaseMs);
  const t0 = Date.now();
  let promoted: Member;
  let killToRecordMs: number;
  let killToWritableMs: number;
  try {
    // Both signals are sent in the same tick: a host that dies, not a server and then an agent.
    await Promise.all([lab.node(old).kill('SIGKILL'), o.mode === 'host' ? lab.killAgent(old, 'SIGKILL') : undefined]);
    const rec = await until('a new primary record', async () => {
      const r = await lab.record();
      return r && r.epoch > before.epoch && r;
    }, 40_000, 20).catch(async (err: Error) => { throw new Error(`${err.message}\n${await lab.explain()}`); });
    killToRecordMs = Date.now() - t0;
    promoted = rec.name as Member;
    killToWritableMs = (await watches.get(promoted)!.when(0, 20_000, `${promoted} writable`)) - t0;
  } finally {
    await Promise.all([...watches.values()].map((w) => w.stop()));
  }
  assert.notEqual(promoted, old);
  const follower = others(old).find((m) => m !== promoted)!;
  await until(`${follower} follows ${promoted}`, () => replicatesFrom(lab, follower, promoted), 20_000, 200);
  await sleep(1500); // every chance for a second promoter to show itself
  const rec = (await lab.record())!;
  assert.equal(rec.epoch, before.epoch + 1, `exactly one promotion (epoch ${before.epoch} → ${rec.epoch})`);
  assert.equal(rec.name, promoted);
  assert.deepEqual(await writable(lab), [promoted], 'exactly one writable server');

  // The agent first: a restarted host's agent is up before its server would be, so nothing waits for a login.
  if (o.mode === 'host') await lab.startAgent(old);
  await lab.node(old).start({ readOnly: true });
  await rejoined(lab, old, promoted);
  await ready(lab, promoted);
  const rounds = o.sampler?.rounds.filter((r) => r.t >= t0 && twoOrMore(r)) ?? [];
  return {
    mode: o.mode, phaseMs: o.phaseMs, old, promoted, epochSteps: rec.epoch - before.epoch, killToRecordMs, killToWritableMs, twoWritable: rounds,
  };
}

export function stats(xs: readonly number[]): { min: number; median: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const median = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return { min: s[0], median, max: s[s.length - 1] };
}

export function formatStats(xs: readonly number[]): string {
  if (xs.length === 0) return 'no samples';
  const { min, median, max } = stats(xs);
  const f = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  return `min ${f(min)}  median ${f(median)}  max ${f(max)}`;
}
