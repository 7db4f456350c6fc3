// Steps the failover scenarios share: one SIGKILL of the primary and every
// check that must hold after it (exactly one promotion, the follower follows,
// a row gets through, the old primary is fenced when it returns).
import assert from 'node:assert/strict';
import { MEMBERS, sleep, until, type Lab, type Member } from './lab.js';

export const others = (m: Member): Member[] => MEMBERS.filter((x) => x !== m);

export async function write(lab: Lab, m: Member, v: string): Promise<void> {
  const n = lab.node(m);
  await n.query('CREATE DATABASE IF NOT EXISTS lab');
  await n.query('CREATE TABLE IF NOT EXISTS lab.t (id int auto_increment primary key, v varchar(64) NOT NULL, UNIQUE KEY (v))');
  await n.query('INSERT INTO lab.t (v) VALUES (?)', [v]);
}

export async function hasRow(lab: Lab, m: Member, v: string): Promise<boolean> {
  return (await lab.node(m).query('SELECT 1 FROM lab.t WHERE v = ?', [v]).catch(() => [])).length === 1;
}

export async function replicatesFrom(lab: Lab, replica: Member, source: Member): Promise<boolean> {
  const [s] = await lab.node(replica).query<Record<string, unknown>>('SHOW REPLICA STATUS');
  return !!s && Number(s.Master_Port) === lab.node(source).port && s.Slave_IO_Running === 'Yes' && s.Slave_SQL_Running === 'Yes';
}

export async function writable(lab: Lab): Promise<Member[]> {
  const out: Member[] = [];
  for (const m of MEMBERS) if ((await lab.readOnly(m)) === 0) out.push(m);
  return out;
}

/** Every replica has applied everything the primary wrote (so the old primary can rejoin without errant GTIDs). */
export async function caughtUp(lab: Lab, primary: Member): Promise<void> {
  for (const r of others(primary)) await lab.topo.waitReplicaCaughtUp(lab.node(r), 20_000);
}

export async function decision(lab: Lab, m: Member): Promise<{ kind: string; reason?: string; detail: string } | null> {
  return (await lab.agents[m].status()).remediation.rules.failover.last_decision;
}

export interface FailoverResult { readonly promoted: Member; readonly epoch: number; readonly fencedMs: number; readonly tookMs: number }

/**
 * Kills `primary`'s server, waits for exactly one promotion and checks the
 * cluster after it; then restarts the old primary writable, waits for its
 * agent to fence it and to rejoin it as a replica of the new primary.
 */
export async function failover(lab: Lab, primary: Member, expected?: Member, tag = String(Date.now())): Promise<FailoverResult> {
  const before = await lab.record();
  assert.equal(before?.name, primary, 'the record names the primary about to be killed');
  const promotionsBefore = await lab.promotions();
  const t0 = Date.now();
  await lab.node(primary).kill();
  const rec = await until('a new primary record', async () => { const r = await lab.record(); return r && r.epoch > before!.epoch && r; }, 40_000);
  const tookMs = Date.now() - t0;
  const promoted = rec.name as Member;
  assert.equal(rec.epoch, before!.epoch + 1, 'exactly one epoch step');
  assert.notEqual(promoted, primary);
  if (expected) assert.equal(promoted, expected, `expected ${expected} to be promoted`);
  const follower = others(primary).find((m) => m !== promoted)!;

  await until(`${follower} replicating from ${promoted}`, () => replicatesFrom(lab, follower, promoted));
  await until(`${follower}'s agent verified it follows ${promoted}`, async () => {
    const events = (await lab.agents[follower].status()).failover.clusters.orders.events as Array<{ kind: string; ok: boolean; detail: string }>;
    return events.some((e) => e.kind === 'follow_verified' && e.ok && e.detail.includes(`:${lab.node(promoted).port}`));
  });
  await write(lab, promoted, `after-${tag}`);
  await until(`row after-${tag} on ${follower}`, () => hasRow(lab, follower, `after-${tag}`));
  // Give any second promoter every chance to show itself.
  await sleep(2000);
  assert.deepEqual(await writable(lab), [promoted], 'exactly one writable server');
  assert.equal((await lab.record())?.epoch, before!.epoch + 1, 'no second promotion');
  assert.equal(await lab.promotions(), promotionsBefore + 1, 'exactly one mysql_promote succeeded across the agents');

  // A crashed primary comes back writable: its own agent must fence it.
  await lab.node(primary).start({ readOnly: false });
  const t1 = Date.now();
  await until(`${primary} fenced`, async () => (await lab.readOnly(primary)) === 1, 15_000, 50);
  const fencedMs = Date.now() - t1;
  assert.equal((await lab.record())?.name, promoted, 'fencing did not change the record');
  // ...and says so: a metric for alerts, an event in /status (unless it rejoined before we looked).
  const events = (await lab.agents[primary].status()).failover.clusters.orders.events as Array<{ kind: string; ok: boolean }>;
  assert.ok(events.some((e) => e.kind === 'fence' && e.ok), JSON.stringify(events.slice(0, 5)));
  // No errant transactions (it died, it wrote nothing after the fork): its agent rejoins it, verified, unfenced.
  await lab.rejoined(primary, promoted);
  const after = (await lab.agents[primary].status()).failover.clusters.orders.events as Array<{ kind: string; ok: boolean }>;
  assert.ok(after.some((e) => e.kind === 'rejoin' && e.ok), JSON.stringify(after.slice(0, 5)));
  assert.deepEqual(await writable(lab), [promoted], 'the rejoined old primary stays read_only');
  await lab.settled(promoted);
  return { promoted, epoch: rec.epoch, fencedMs, tookMs };
}
