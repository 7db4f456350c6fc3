// Proves the group lab without agents (phase 1): namespaces, a 3-node etcd on
// hosts of its own, an app per member and HAProxy in the root namespace. No
// agent answers /role/web yet, so a TEST-ONLY stand-in (stand-in-role.mjs)
// answers it in each member's namespace: 200 on g1, 503 on g2 and g3. Shown:
// HAProxy routes to g1's app; killing and restarting an app; cutting g1 makes
// HAProxy mark it DOWN while g1's own host still sees its role endpoint;
// taking etcd's quorum away and back (cut and kill); marks written by
// mark-hook.sh from two namespaces parse into intervals with the right
// overlap; stop() leaves no namespace, process or file behind.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { waitUntil } from '../helpers/wait.js';
import { AGENT_PORT } from '../harness/ns-agent.js';
import { APP_PORT, GROUP, GroupLab, HOOK_SCRIPT, MEMBERS, type Member } from './group-lab.js';
import { activeIntervals, describeIntervals, overlapMs, overlaps } from './marks.js';

const STAND_IN = fileURLToPath(new URL('./stand-in-role.mjs', import.meta.url));
let lab: GroupLab;
const standInPids: number[] = [];

/** The stand-in role endpoint in `m`'s namespace where its agent will listen (test-only). */
async function startStandIn(m: Member, status: number): Promise<void> {
  const child = lab.net.spawn(m, process.execPath, [STAND_IN, lab.addr(m), String(AGENT_PORT), GROUP, String(status)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = await once(child.stdout!, 'data');
  assert.equal(String(line).trim(), 'listening');
  child.stdout!.resume();
  standInPids.push(child.pid!);
}

/** Five requests through HAProxy: who answered, counted. */
async function fiveThrough(): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  for (let i = 0; i < 5; i++) {
    const r = await lab.through();
    const k = r.ok ? r.member : r.error;
    seen[k] = (seen[k] ?? 0) + 1;
  }
  return seen;
}

/** mark-hook.sh run inside `m`'s namespace with the environment the agent will pass. */
function hook(m: Member, role: 'active' | 'standby', token: string, cause: string, sleepMs: number): Promise<string> {
  return lab.net.exec(m, 'env', [`VIGIL_GROUP=${GROUP}`, `VIGIL_ROLE=${role}`, `VIGIL_MEMBER=${m}`, `VIGIL_FENCING_TOKEN=${token}`,
    'VIGIL_PREVIOUS_ACTIVE=-', `VIGIL_CAUSE=${cause}`, 'sh', HOOK_SCRIPT, lab.marksFile, String(sleepMs)]);
}

before(async () => {
  const t0 = Date.now();
  lab = await GroupLab.start();
  await Promise.all(MEMBERS.map((m) => startStandIn(m, m === 'g1' ? 200 : 503)));
  console.log(`# group lab ${lab.net.prefix} on ${lab.net.subnet} ready in ${Date.now() - t0} ms (haproxy ${lab.haproxy.url})`);
});
after(() => lab?.stop());

test('HAProxy: only g1 (its stand-in answers 200 on /role/web) is UP and gets every request', async () => {
  await lab.haproxy.waitStates({ g1: 'UP', g2: 'DOWN', g3: 'DOWN' }, 5000);
  assert.deepEqual(await fiveThrough(), { g1: 5 });
  assert.deepEqual([await lab.role('g1'), await lab.role('g2'), await lab.role('g3')], [200, 503, 503]);
});

test('each app answers its member name on /health at <addr>:8080', async () => {
  for (const m of MEMBERS) {
    const res = await fetch(`http://${lab.addr(m)}:${APP_PORT}/health`, { signal: AbortSignal.timeout(2000) });
    assert.equal(res.status, 200);
    assert.equal((await res.text()).trim(), m);
  }
});

test('killApp(g1): requests through HAProxy fail (the check is the role, not the app); startApp(g1): served again', async () => {
  const pid = lab.appPid('g1')!;
  await lab.killApp('g1');
  assert.equal(lab.appRunning('g1'), false);
  assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
  const r = await lab.through();
  assert.equal(r.ok, false, JSON.stringify(r));
  await lab.startApp('g1');
  assert.deepEqual(await lab.through(), { ok: true, member: 'g1' });
});

test('cut(g1): HAProxy marks g1 DOWN and has no server; g1 still sees its own role endpoint; heal: back', async () => {
  await lab.cut('g1');
  const t0 = Date.now();
  await lab.haproxy.waitStates({ g1: 'DOWN' }, 5000);
  console.log(`# g1 DOWN in HAProxy ${Date.now() - t0} ms after the cut`);
  assert.deepEqual(await lab.through(), { ok: false, status: 503, error: 'status 503' });
  assert.equal(await lab.role('g1'), 'unreachable');
  assert.equal(await lab.roleInside('g1'), 200, 'inside the cut host the role endpoint still answers');
  await lab.heal('g1');
  await lab.haproxy.waitStates({ g1: 'UP' }, 5000);
  assert.deepEqual(await lab.through(), { ok: true, member: 'g1' });
});

test('stopEtcdQuorum / restoreEtcdQuorum, by cut and by kill', async () => {
  assert.equal(await lab.etcdWritable(), true);
  for (const how of ['cut', 'kill'] as const) {
    await lab.stopEtcdQuorum(how);
    assert.equal(await lab.etcdWritable(1000), false, `no write with e2 and e3 ${how}`);
    const t0 = Date.now();
    await lab.restoreEtcdQuorum();
    console.log(`# etcd writable ${Date.now() - t0} ms after restoring quorum (${how})`);
    assert.equal(await lab.etcdWritable(), true);
  }
});

test('marks from two namespaces: g1 active, then g1 standing down while g2 takes over, overlap as the marks say', async () => {
  await hook('g1', 'active', '1', 'elected', 0);
  // g2's on_active starts while g1's on_standby (600 ms of work) is under way: they overlap, by less than 600 ms.
  // Ordered by g1's start mark, not by timing, so a loaded machine cannot turn the overlap into none.
  const standby = hook('g1', 'standby', '1', 'lease lost', 600);
  await waitUntil('g1 standby start mark', async () => (await lab.marks()).some((m) => m.role === 'standby'), { timeoutMs: 10_000 });
  await Promise.all([standby, hook('g2', 'active', '2', 'takeover', 50)]);
  const marks = await lab.marks();
  assert.deepEqual(marks.map((m) => `${m.member} ${m.role} ${m.phase} ${m.token}`).sort(), [
    'g1 active end 1', 'g1 active start 1', 'g1 standby end 1', 'g1 standby start 1', 'g2 active end 2', 'g2 active start 2',
  ]);
  assert.ok(marks.every((m) => m.cause === (m.member === 'g2' ? 'takeover' : m.token === '1' && m.role === 'active' ? 'elected' : 'lease lost')));
  const now = Date.now();
  const ivs = activeIntervals(marks, now);
  const g1 = ivs.find((i) => i.member === 'g1')!;
  const g2 = ivs.find((i) => i.member === 'g2')!;
  assert.equal(g1.open, false);
  assert.equal(g2.open, true);
  assert.equal(g2.end, now);
  const expected = g1.end - g2.start; // g2 started before g1's standby ended, and is still active
  assert.equal(overlapMs(ivs), expected, describeIntervals(ivs));
  const standbyWork = g1.end - marks.find((m) => m.role === 'standby' && m.phase === 'start')!.at;
  assert.ok(expected > 0 && expected <= standbyWork, `overlap ${expected} ms, expected within g1's standby work (${standbyWork} ms)`);
  assert.deepEqual(overlaps(ivs).map((w) => w.members), [['g1', 'g2']]);
});

test('stop() leaves no namespace, process or file of the lab', async () => {
  const pids = [lab.haproxy.pid, ...MEMBERS.map((m) => lab.appPid(m)!), ...standInPids];
  const { prefix } = lab.net;
  const { dir } = lab;
  await lab.stop();
  await lab.stop(); // idempotent
  for (const pid of pids) assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `pid ${pid} still alive`);
  await waitUntil('etcd processes gone', () => !execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).includes(`${lab.addr('e1')}:2379`), { timeoutMs: 5000 });
  const namespaces = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  assert.equal(namespaces.includes(prefix), false, namespaces);
  assert.equal(existsSync(dir), false);
  assert.equal(existsSync(lab.marksFile), false);
});
