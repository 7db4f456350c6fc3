// Five vigil agents as processes in one fleet, a real etcd, and one switch
// that makes every member's `api` probe fail at once (issue #14):
//   1. max_concurrent 1, no stand-down: exactly one acts at a time (the
//      marks' intervals never overlap, and the slot is held through the
//      grace); the others are blocked fleet_busy naming the holder, and act
//      later one by one;
//   2. stand_down_share 0.3: nobody acts, every agent reports shared_cause;
//      then one host failing alone is still remediated;
//   3. the slot holder SIGKILLed mid-action: its slot frees with its lease,
//      the next member acts, and the restarted agent reconciles its intent
//      from the journal without acting again.
// Each scenario reloads the agents (SIGHUP) onto a new rule and fleet name,
// so they start from a clean rule state and fresh etcd keys.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { FleetLab, intervals, MARK_SCRIPT, type Interval, type LabAgent } from './lab.js';
import { sleep, waitUntil } from '../helpers/wait.js';

const MEMBERS = ['a1', 'a2', 'a3', 'a4', 'a5'];
const GRACE_MS = 500;
let lab: FleetLab;
let agents: LabAgent[];

const rule = (gen: number, o: { share?: number } = {}) => (a: LabAgent) => `  - name: restart-${gen}
    when: { probe: api, state: critical }
    cooldown: 1h
    grace: ${GRACE_MS}ms
    action:
      type: exec
      command: [sh, ${MARK_SCRIPT}, ${lab.marksFile}, "300"]
      reconcile_command: [sh, ${MARK_SCRIPT}, --reconcile, ${lab.marksFile}]
      env: { MARK_MEMBER: ${a.name} }
      timeout: 1m
    fleet: { name: web-${gen}, max_concurrent: 1${o.share ? `, stand_down_share: ${o.share}` : ''} }
`;

async function actions(ruleName: string): Promise<Interval[]> {
  return intervals(await lab.marks()).filter((x) => x.rule === ruleName);
}

function assertOneAtATime(iv: readonly Interval[], killedAt?: number): void {
  for (let i = 1; i < iv.length; i++) {
    const prevEnd = iv[i - 1].end ?? killedAt;
    assert.ok(prevEnd !== undefined, `${iv[i - 1].member}'s action never ended`);
    // The slot is held through the action's grace: the next one starts after it.
    const min = iv[i - 1].end === undefined ? prevEnd : prevEnd + GRACE_MS - 20;
    assert.ok(iv[i].start >= min, `${iv[i].member} started at ${iv[i].start}, before ${iv[i - 1].member}'s slot was free (${min}):\n${JSON.stringify(iv, null, 1)}`);
  }
}

before(async () => {
  lab = await FleetLab.start();
  agents = await Promise.all(MEMBERS.map((m) => lab.agent(m)));
  await Promise.all(agents.map((a) => a.start(lab.yaml(a, rule(1)(a)))));
});

after(async () => { await lab?.stop(); });

test('max_concurrent 1, all five fail at once: one acts at a time; the others are fleet_busy and act later, one by one', async (t) => {
  const t0 = Date.now();
  for (const m of MEMBERS) lab.failing.add(m);
  const iv = await waitUntil('all five acted', async () => { const x = await actions('restart-1'); return x.length === 5 && x.every((y) => y.end !== undefined) && x; }, { timeoutMs: 40_000, intervalMs: 100 });
  assert.deepEqual(iv.map((x) => x.member).sort(), MEMBERS, 'each member acted once');
  assertOneAtATime(iv);
  t.diagnostic(`switch → first action ${iv[0].start - t0} ms, → fifth ended ${iv[4].end! - t0} ms; end → next start ${iv.slice(1).map((x, i) => x.start - iv[i].end!).join(', ')} ms (grace ${GRACE_MS} ms)`);
  // Who waited was told why, naming the holder.
  const busy = await Promise.all(agents.map((a) => a.metric('vigil_remediation_blocked_total', { rule: 'restart-1', reason: 'fleet_busy' })));
  assert.ok(busy.filter((n) => n > 0).length >= 4, `fleet_busy counts ${busy}`);
  const last = agents.find((a) => a.name === iv[4].member)!;
  const { readFile } = await import('node:fs/promises');
  assert.match(await readFile(last.logFile, 'utf8'), /blocked by fleet_busy: fleet web-1: 1 of 1 slot\(s\) held: slot 0 by a\d \(rule restart-1, exec, on api\) since /);
  const st = (await last.status()).fleets;
  assert.equal(st.member, last.name);
  assert.deepEqual([st.fleets['web-1'].max_concurrent, st.fleets['web-1'].members.length], [1, 5]);
});

test('stand_down_share 0.3: all five fail, nobody acts, every agent reports shared_cause; one host failing alone is remediated', async (t) => {
  await lab.nextScenario(agents, rule(2, { share: 0.3 }));
  const t0 = Date.now();
  for (const m of MEMBERS) lab.failing.add(m);
  await Promise.all(agents.map((a) => waitUntil(`${a.name}: shared_cause`, async () => (await a.decision('restart-2'))?.reason === 'shared_cause', { timeoutMs: 20_000, intervalMs: 100 })));
  t.diagnostic(`switch → all five report shared_cause ${Date.now() - t0} ms`);
  for (const a of agents) assert.match((await a.decision('restart-2'))!.detail, /^[2-5] of 5 members of fleet web-2 have api critical \(.*stand_down_share 0\.3\)/);
  await Promise.all(agents.map((a) => waitUntil(`${a.name}: vigil_fleet_shared_cause 1`, async () => (await a.metric('vigil_fleet_shared_cause', { fleet: 'web-2', probe: 'api' })) === 1, { timeoutMs: 10_000 })));
  await sleep(1500); // past a settle (interval 250ms + 1s): still nobody
  assert.deepEqual(await actions('restart-2'), [], 'nobody acted on a shared cause');
  assert.ok((await agents[0].metric('vigil_remediation_blocked_total', { rule: 'restart-2', reason: 'shared_cause' })) > 0);

  // The dependency recovers; then one host fails alone: its cause is its own.
  lab.failing.clear();
  await waitUntil('shared cause over', async () => (await agents[2].metric('vigil_fleet_shared_cause', { fleet: 'web-2', probe: 'api' })) === 0, { timeoutMs: 10_000 });
  const t1 = Date.now();
  lab.failing.add('a3');
  const iv = await waitUntil('a3 remediated', async () => { const x = await actions('restart-2'); return x.length > 0 && x[0].end !== undefined && x; }, { timeoutMs: 15_000, intervalMs: 100 });
  assert.deepEqual(iv.map((x) => x.member), ['a3']);
  t.diagnostic(`a3 fails alone → its action starts ${iv[0].start - t1} ms (2 failures at 250 ms, settle 1.25 s)`);
  assert.match((await agents[2].decision('restart-2'))?.kind ?? '', /^(act|blocked|none)$/);
});

test('the slot holder SIGKILLed mid-action: its slot frees with its lease, the next member acts; restarted, it reconciles its intent', async (t) => {
  await writeFile(`${lab.marksFile}.sleep`, '30000'); // the holder's action runs until it is killed
  await lab.nextScenario(agents, rule(3));
  for (const m of MEMBERS) lab.failing.add(m);
  const first = await waitUntil('a holder acting', async () => (await actions('restart-3'))[0], { timeoutMs: 20_000, intervalMs: 50 });
  const holder = agents.find((a) => a.name === first.member)!;
  assert.equal(await lab.slotHolder('web-3'), holder.name);
  await writeFile(`${lab.marksFile}.sleep`, '300');
  const killedAt = Date.now();
  await holder.kill('SIGKILL');
  process.kill(-first.pid, 'SIGKILL'); // a crashed host takes its action's processes with it
  const freedAfter = await waitUntil('the slot freed', async () => ((await lab.slotHolder('web-3')) !== holder.name ? Date.now() - killedAt : undefined), { timeoutMs: 10_000, intervalMs: 50 });
  assert.ok(freedAfter <= 2000 + 1500, `slot freed ${freedAfter} ms after the SIGKILL (lease_ttl 2s)`);
  t.diagnostic(`SIGKILL → slot no longer the dead holder's ${freedAfter} ms (lease_ttl 2 s)`);
  const iv = await waitUntil('the other four acted', async () => { const x = await actions('restart-3'); return x.length === 5 && x.slice(1).every((y) => y.end !== undefined) && x; }, { timeoutMs: 40_000, intervalMs: 100 });
  assert.equal(iv[0].end, undefined, 'the killed action never ended');
  assert.deepEqual(iv.slice(1).map((x) => x.member).sort(), MEMBERS.filter((m) => m !== holder.name));
  assert.ok(iv[1].start >= killedAt, 'nobody acted while the holder lived');
  assertOneAtATime(iv, killedAt);
  t.diagnostic(`SIGKILL → next member's action starts ${iv[1].start - killedAt} ms`);

  // Restarted on the same state_dir: the intent without an outcome is reconciled (reconcile_command: no end mark → failed), never re-run.
  await holder.start(lab.yaml(holder, rule(3)(holder)));
  const rec = await waitUntil('intent reconciled', async () => (await holder.journal()).find((r) => r.event === 'outcome' && r.id === first.intent), { timeoutMs: 15_000 });
  assert.equal(rec.outcome, 'reconciled_failed');
  assert.equal(await holder.metric('vigil_remediation_reconciled_total', { rule: 'restart-3', outcome: 'reconciled_failed' }), 1);
  await waitUntil('blocked by cooldown', async () => (await holder.decision('restart-3'))?.reason === 'cooldown', { timeoutMs: 10_000 });
  assert.equal((await actions('restart-3')).filter((x) => x.member === holder.name).length, 1, 'not acted again');
  assert.equal((await holder.journal()).filter((r) => r.event === 'intent' && r.rule === 'restart-3').length, 1);
});
