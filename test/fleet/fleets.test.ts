// The fleet service in-process against a real etcd (no agent around it):
// slots taken by compare-and-swap (never more holders than max_concurrent,
// however many ask at once), the shared cause judged after settle, dry-run,
// etcd unreachable (refuse or act alone), member records and gauges. A dead
// holder (SIGKILL) is in fleet-lab.test.ts, with agents as processes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Etcd3 } from 'etcd3';
import pino from 'pino';
import { Registry } from 'prom-client';
import { startEtcd, type EtcdCluster } from '../harness/etcd.js';
import { freePort } from '../harness/ports.js';
import { createEtcdClient, etcdConfigSchema, type EtcdConfig } from '../../src/coordination/etcd-client.js';
import { createMetrics, type Metrics } from '../../src/metrics/catalogue.js';
import { createFleets } from '../../src/fleet/wiring.js';
import type { Fleets } from '../../src/fleet/fleets.js';
import { fleetKeys } from '../../src/fleet/records.js';
import { readFleet } from '../../src/fleet/snapshot.js';
import type { FleetSettings } from '../../src/fleet/settings.js';
import type { FleetSpec } from '../../src/remediation/fleet-rule.js';
import type { FleetAnswer } from '../../src/remediation/fleet-gate.js';
import { waitUntil } from '../helpers/wait.js';

let etcd: EtcdCluster;
let cfg: EtcdConfig;
const clients: Etcd3[] = [];
const running: Fleets[] = [];
const logger = pino({ level: 'silent' });
let prefixN = 0;

before(async () => {
  etcd = await startEtcd({ nodes: 1 });
  const parsed = etcdConfigSchema({}).safeParse({ endpoints: etcd.endpoints, request_timeout: '1s' });
  assert.ok(parsed.success);
  cfg = parsed.data;
});

after(async () => {
  for (const f of running) await f.stop();
  for (const c of clients) c.close();
  await etcd?.stop();
});

interface Member { fleets: Fleets; metrics: Metrics; critical: Set<string>; client: Etcd3 }

async function member(name: string, prefix: string, settings: FleetSettings, c: EtcdConfig = cfg, ttlSeconds = 2): Promise<Member> {
  const client = createEtcdClient(c);
  clients.push(client);
  const metrics = createMetrics(new Registry(), { version: 'test' });
  const critical = new Set<string>();
  const fleets = createFleets({ client, prefix, member: name, ttlSeconds, logger, metrics, critical: (p) => critical.has(p) });
  running.push(fleets);
  await fleets.apply([settings]);
  return { fleets, metrics, critical, client };
}

const settings = (o: Partial<FleetSettings> = {}): FleetSettings => ({ name: 'web', maxConcurrent: 1, minMembers: 3, watching: ['api'], triggers: ['api'], rules: ['restart'], ...o });
const spec = (o: Partial<FleetSpec> = {}): FleetSpec => ({ name: 'web', maxConcurrent: 1, minMembers: 3, settleMs: 0, unavailable: 'refuse', ...o });
const ask = (m: Member, fleet: FleetSpec, dryRun = false) =>
  m.fleets.acquire({ rule: 'restart', action: 'exec', fleet, probe: 'api', dryRun, signal: new AbortController().signal });
const reasons = (answers: FleetAnswer[]) => answers.map((a) => (a.ok ? 'ok' : a.reason)).sort();
const newPrefix = () => `/fleet-test-${++prefixN}`;
const gauge = async (m: Metrics, name: string, labels: Record<string, string>) =>
  (await m.registry.getSingleMetric(name)?.get())?.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value;

test('eight members ask at once for max_concurrent 2: exactly two get a slot, the others are fleet_busy naming the holders', async () => {
  const prefix = newPrefix();
  const s = settings({ maxConcurrent: 2 });
  const ms = await Promise.all(Array.from({ length: 8 }, (_, i) => member(`w${i}`, prefix, s)));
  const answers = await Promise.all(ms.map((m) => ask(m, spec({ maxConcurrent: 2 }))));
  assert.deepEqual(reasons(answers), ['fleet_busy', 'fleet_busy', 'fleet_busy', 'fleet_busy', 'fleet_busy', 'fleet_busy', 'ok', 'ok']);
  const snap = await readFleet(ms[0].client, fleetKeys(prefix, 'web'));
  assert.deepEqual(snap.slots.map((x) => x.index).sort(), [0, 1]);
  const holders = snap.slots.map((x) => x.record?.holder).sort();
  for (const a of answers) if (!a.ok) assert.match(a.detail, /^fleet web: 2 of 2 slot\(s\) held: slot \d by w\d \(rule restart, exec, on api\) since .*; slot \d by w\d/);
  // Released, the slots are free again at once (no TTL to wait out).
  for (const a of answers) if (a.ok) a.hold!.release(0);
  await waitUntil('slots released', async () => (await readFleet(ms[0].client, fleetKeys(prefix, 'web'))).slots.length === 0, { timeoutMs: 5000 });
  const next = ms.find((m, i) => !holders.includes(`w${i}`))!;
  const again = await ask(next, spec({ maxConcurrent: 2 }));
  assert.ok(again.ok && again.hold, JSON.stringify(again));
  await waitUntil('the holder\'s gauge shows its slot', async () => (await gauge(next.metrics, 'vigil_fleet_slots_held', { fleet: 'web' })) === 1, { timeoutMs: 5000 });
  assert.equal(await gauge(next.metrics, 'vigil_fleet_members', { fleet: 'web' }), 8);
  again.hold.release(0);
});

test('shared cause: judged before taking a slot, and again after settle under the slot', async () => {
  const prefix = newPrefix();
  const s = settings({ standDownShare: 0.3 });
  const ms = await Promise.all(['w1', 'w2', 'w3', 'w4', 'w5'].map((n) => member(n, prefix, s)));
  const f = spec({ standDownShare: 0.3, settleMs: 1500 });
  // w1 fails alone: it takes the slot, settles, and acts (1 of 5).
  ms[0].critical.add('api');
  ms[0].fleets.probeChanged('api');
  const alone = await ask(ms[0], f);
  assert.ok(alone.ok && alone.hold, JSON.stringify(alone));
  assert.match(alone.detail, /^took slot 0 of fleet web; 1 of 5 members have api critical after settling$/);
  alone.hold.release(0);
  await waitUntil('slot released', async () => (await readFleet(ms[0].client, fleetKeys(prefix, 'web'))).slots.length === 0, { timeoutMs: 5000 });
  // w1 fails, and during its settle w2 and w3 report the same: it gives the slot back, shared_cause.
  const pending = ask(ms[0], f);
  await new Promise((r) => setTimeout(r, 300));
  for (const m of ms.slice(1, 3)) { m.critical.add('api'); m.fleets.probeChanged('api'); }
  const settled = await pending;
  assert.equal(settled.ok ? 'ok' : settled.reason, 'shared_cause');
  assert.match(settled.ok ? '' : settled.detail, /^3 of 5 members of fleet web have api critical \(w1, w2, w3; stand_down_share 0\.3\)/);
  // Given back by a revoke the answer does not wait for.
  await waitUntil('the slot given back', async () => (await readFleet(ms[0].client, fleetKeys(prefix, 'web'))).slots.length === 0, { timeoutMs: 5000 });
  // Now the share is seen before any slot is taken, by everyone.
  for (const m of ms.slice(3)) m.critical.add('api');
  const all = await Promise.all(ms.map((m) => ask(m, f)));
  assert.deepEqual(reasons(all), ['shared_cause', 'shared_cause', 'shared_cause', 'shared_cause', 'shared_cause']);
  await waitUntil('gauges say standing down', async () => (await gauge(ms[4].metrics, 'vigil_fleet_shared_cause', { fleet: 'web', probe: 'api' })) === 1, { timeoutMs: 6000 });
  assert.ok((await gauge(ms[4].metrics, 'vigil_fleet_critical_share', { fleet: 'web', probe: 'api' }))! >= 0.6);
  const st = ms[4].fleets.status() as { fleets: Record<string, { shares: Record<string, { standing_down: boolean }> }> };
  assert.equal(st.fleets.web.shares.api.standing_down, true);
});

test('dry-run judges but takes nothing', async () => {
  const prefix = newPrefix();
  const a = await member('a', prefix, settings());
  const r = await ask(a, spec(), true);
  assert.deepEqual(r, { ok: true, hold: undefined, detail: 'fleet web: slot 0 is free (dry run: not taken)' });
  assert.equal((await readFleet(a.client, fleetKeys(prefix, 'web'))).slots.length, 0);
});

test('etcd unreachable: lock_unavailable, or act alone (no slot) when the rule says act_alone', async () => {
  const dead = etcdConfigSchema({}).parse({ endpoints: [`127.0.0.1:${await freePort()}`], request_timeout: '500ms', dial_timeout: '500ms' });
  const m = await member('lonely', newPrefix(), settings(), dead);
  const refused = await ask(m, spec());
  assert.equal(refused.ok ? 'ok' : refused.reason, 'lock_unavailable');
  assert.match(refused.ok ? '' : refused.detail, /^fleet web: cannot read the fleet from etcd \(.*\); a rule with fleet: does not act without its slot/);
  const alone = await ask(m, spec({ unavailable: 'act_alone' }));
  assert.ok(alone.ok && alone.hold === undefined);
  assert.match(alone.detail, /acting alone without a slot as fleet_unavailable: act_alone allows \(unsafe/);
  const st = m.fleets.status() as { fleets: Record<string, { last_read_error: { error: string } | null }> };
  assert.match(st.fleets.web.last_read_error?.error ?? '', /^cannot read the fleet from etcd/);
});

test('member records: lease-bound, rewritten on a state change, gone at stop', async () => {
  const prefix = newPrefix();
  const a = await member('a', prefix, settings({ watching: ['api', 'db'] }));
  const keys = fleetKeys(prefix, 'web');
  await waitUntil('record published', async () => (await readFleet(a.client, keys)).members.length === 1, { timeoutMs: 5000 });
  a.critical.add('db');
  a.fleets.probeChanged('db');
  await waitUntil('record says db critical', async () => (await readFleet(a.client, keys)).members[0]?.critical.join() === 'db', { timeoutMs: 5000 });
  const got = await ask(a, spec());
  assert.ok(got.ok && got.hold);
  await a.fleets.stop();
  const snap = await readFleet(a.client, keys);
  assert.deepEqual([snap.members.length, snap.slots.length], [0, 0], 'a clean stop deletes the record and releases the slot at once');
});
