// Active/standby groups on loopback: three real agents (in this process, each
// with its own config, state_dir and admin API) in one group on a real etcd,
// each judging its own small HTTP service. The hooks append marks to one file
// so the order of on_active/on_standby across members can be asserted.
// Partitions, stalls and a real HAProxy are in active-standby.test.ts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { startEtcd, type EtcdCluster } from '../harness/etcd.js';
import { fetchText, startAgent, type RunningAgent } from '../helpers/agent.js';
import { waitUntil } from '../helpers/wait.js';

const TOKEN = 'groups-test-admin-token-0123456789';
const MEMBERS = ['g1', 'g2', 'g3'] as const;
type M = (typeof MEMBERS)[number];
const PRIORITY: Record<M, number> = { g1: 100, g2: 90, g3: 80 };

let etcd: EtcdCluster;
let dir: string;
let marks: string;
const services = new Map<M, { server: Server; port: number; healthy: boolean }>();
const agents = new Map<M, RunningAgent>();

interface Mark { at: number; member: string; role: string; phase: string; token: string; cause: string; prev: string }

function readMarks(): Mark[] {
  let text = '';
  try { text = readFileSync(marks, 'utf8'); } catch { return []; }
  return text.split('\n').filter(Boolean).map((l) => {
    const [at, member, role, phase, token, cause, prev] = l.split(' ');
    return { at: Number(at), member, role, phase, token, cause, prev: prev ?? '' };
  });
}

function hook(): string {
  // One line when it starts and one when it ends; a file named fail-<member>-<role> makes it fail.
  const script = `m="$(date +%s%3N) $VIGIL_MEMBER $VIGIL_ROLE"; t="$VIGIL_FENCING_TOKEN $VIGIL_CAUSE $VIGIL_PREVIOUS_ACTIVE";`
    + ` echo "$m start $t" >> ${marks}; sleep 0.1; echo "$(date +%s%3N) $VIGIL_MEMBER $VIGIL_ROLE end $t" >> ${marks};`
    + ` test ! -e ${dir}/fail-$VIGIL_MEMBER-$VIGIL_ROLE`;
  return JSON.stringify(['sh', '-c', script]);
}

function yaml(m: M, extra = ''): string {
  const svc = services.get(m)!;
  return `agent:
  state_dir: ${join(dir, `state-${m}`)}
  startup_grace: 0s
admin:
  listen: 127.0.0.1:0
  token_file: ${join(dir, 'token')}
probes:
  - { name: api, type: http, url: "http://127.0.0.1:${svc.port}/health", interval: 200ms, timeout: 150ms, failures_before_critical: 2 }
coordination:
  etcd: { endpoints: ${JSON.stringify(etcd.endpoints)}, prefix: /groups-test, request_timeout: 1s }
  member_name: ${m}
  lease_ttl: 2s
groups:
  - name: web
    healthy_when: [api]
    priority: ${PRIORITY[m]}
    lease_ttl: 3s
    renew_interval: 300ms
    renew_deadline: 1s
    check_interval: 200ms
    retry_after_failure: 5s
    on_active: { command: ${hook()}, timeout: 5s }
    on_standby: { command: ${hook()}, timeout: 1s }
${extra}`;
}

async function start(m: M): Promise<RunningAgent> {
  const a = await startAgent(yaml(m));
  agents.set(m, a);
  return a;
}

const role = async (m: M) => (await agents.get(m)!.get('/role/web')).status;
async function activeMember(): Promise<M | undefined> {
  const up: M[] = [];
  for (const m of MEMBERS) if (agents.has(m) && (await role(m)) === 200) up.push(m);
  assert.ok(up.length <= 1, `two active members at once: ${up.join(', ')}`);
  return up[0];
}

async function admin(m: M, path: string, body?: unknown) {
  return fetchText(`${agents.get(m)!.agent.adminAddress}${path}`, {
    method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}),
  });
}

/** Active intervals per member from the marks: [active start, next standby end) (open: until now). */
function overlapMs(list: Mark[]): number {
  const iv: Array<[number, number]> = [];
  for (const m of MEMBERS) {
    let open: number | undefined;
    for (const k of list.filter((x) => x.member === m)) {
      if (k.role === 'active' && k.phase === 'start' && open === undefined) open = k.at;
      if (k.role === 'standby' && k.phase === 'end' && open !== undefined) { iv.push([open, k.at]); open = undefined; }
    }
    if (open !== undefined) iv.push([open, Date.now()]);
  }
  let total = 0;
  for (let i = 0; i < iv.length; i++) for (let j = i + 1; j < iv.length; j++) total += Math.max(0, Math.min(iv[i][1], iv[j][1]) - Math.max(iv[i][0], iv[j][0]));
  return total;
}

before(async () => {
  etcd = await startEtcd({ nodes: 1 });
  dir = mkdtempSync(join(tmpdir(), 'vigil-groups-'));
  marks = join(dir, 'marks');
  writeFileSync(join(dir, 'token'), TOKEN, { mode: 0o600 });
  for (const m of MEMBERS) {
    const entry = { server: createServer(), port: 0, healthy: true };
    entry.server.on('request', (_req, res) => { res.statusCode = entry.healthy ? 200 : 500; res.end(m); });
    await new Promise<void>((r) => entry.server.listen(0, '127.0.0.1', r));
    entry.port = (entry.server.address() as { port: number }).port;
    services.set(m, entry);
  }
});

after(async () => {
  for (const a of agents.values()) await a.stop().catch(() => undefined);
  for (const s of services.values()) s.server.close();
  await etcd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('every member runs on_standby first; the highest-priority healthy member becomes active with a fencing token', async () => {
  // Priority decides among the members that are up and eligible when the key is free, so g1 starts first.
  await start('g1');
  await Promise.all([start('g2'), start('g3')]);
  const first = await waitUntil('an active member', () => activeMember(), { timeoutMs: 15_000 });
  assert.equal(first, 'g1');
  const list = readMarks();
  for (const m of MEMBERS) {
    const mine = list.filter((x) => x.member === m);
    assert.deepEqual([mine[0].role, mine[0].cause], ['standby', 'startup'], `${m} starts with on_standby`);
  }
  const act = list.find((x) => x.member === 'g1' && x.role === 'active' && x.phase === 'start')!;
  assert.equal(act.cause, 'elected');
  assert.ok(Number(act.token) > 0, 'VIGIL_FENCING_TOKEN is an etcd revision');
  assert.ok(list.filter((x) => x.member === 'g1' && x.role === 'standby').every((x) => x.at < act.at), 'on_standby at startup ended before on_active began');
  const g2 = await waitUntil('g2 sees g1 active', async () => {
    const r = await agents.get('g2')!.get('/role/web');
    return r.json().active_member === 'g1' && r;
  });
  assert.equal(g2.status, 503);
  assert.equal((await agents.get('g2')!.get('/role/web/standby')).status, 200, 'g2 is a ready standby');
  const status = (await agents.get('g1')!.get('/status')).json();
  assert.equal(status.groups.groups.web.role, 'active');
  assert.equal(status.groups.groups.web.fencing_token, act.token);
  const metrics = (await agents.get('g1')!.get('/metrics')).body;
  assert.match(metrics, new RegExp(`vigil_group_fencing_token\\{group="web"\\} ${act.token}\\b`));
  assert.match(metrics, /vigil_group_role\{group="web",role="active"\} 1/);
  assert.equal((await agents.get('g1')!.get('/role/nosuch')).status, 404);
});

test('the active member\'s service fails: it runs on_standby and hands over before the next member\'s on_active; the token grows', async () => {
  const before = readMarks().length;
  services.get('g1')!.healthy = false;
  await waitUntil('g2 active', async () => (await activeMember()) === 'g2', { timeoutMs: 15_000 });
  const list = readMarks().slice(before);
  const down = list.find((x) => x.member === 'g1' && x.role === 'standby' && x.phase === 'end');
  const up = list.find((x) => x.member === 'g2' && x.role === 'active' && x.phase === 'start');
  assert.ok(down && up, `marks: ${JSON.stringify(list)}`);
  assert.equal(down.cause, 'unhealthy');
  assert.ok(down.at <= up.at, 'g1 finished on_standby before g2 started on_active');
  assert.equal(up.prev, 'g1', 'VIGIL_PREVIOUS_ACTIVE names the member before');
  const tokens = readMarks().filter((x) => x.role === 'active' && x.phase === 'start').map((x) => Number(x.token));
  assert.ok(tokens[tokens.length - 1] > tokens[0], `tokens grow: ${tokens}`);
  assert.equal(overlapMs(readMarks()), 0);
  const why = (await agents.get('g1')!.get('/role/web/standby')).json();
  assert.match(why.why, /probe api is critical/);
});

test('preempt: false keeps a healthy active member when a higher-priority one recovers', async () => {
  services.get('g1')!.healthy = true;
  await waitUntil('g1 eligible again', async () => (await agents.get('g1')!.get('/role/web/standby')).status === 200, { timeoutMs: 10_000 });
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(await activeMember(), 'g2');
});

test('switchover through the admin API: refused to an unhealthy member, done to a healthy one', async () => {
  services.get('g3')!.healthy = false;
  await waitUntil('g3 not eligible', async () => (await agents.get('g3')!.get('/role/web/standby')).status === 503, { timeoutMs: 10_000 });
  const refused = await admin('g1', '/v1/groups/web/switchover', { to: 'g3' });
  assert.equal(refused.status, 409);
  assert.equal(refused.json().code, 'VIGIL_E_GROUP_TARGET');
  assert.match(refused.json().message, /g3 is not eligible: probe api is critical/);
  services.get('g3')!.healthy = true;
  await waitUntil('g3 eligible', async () => (await agents.get('g3')!.get('/role/web/standby')).status === 200, { timeoutMs: 10_000 });
  const before = readMarks().length;
  const ok = await admin('g1', '/v1/groups/web/switchover', { to: 'g3' });
  assert.equal(ok.status, 202, ok.body);
  assert.deepEqual([ok.json().from, ok.json().to], ['g2', 'g3']);
  await waitUntil('g3 active', async () => (await activeMember()) === 'g3', { timeoutMs: 15_000 });
  const list = readMarks().slice(before);
  assert.ok(!list.some((x) => x.member === 'g1' && x.role === 'active'), 'g1 (higher priority) did not stand during the switchover');
  assert.equal(list.find((x) => x.member === 'g2' && x.role === 'standby')?.cause, 'switchover');
  assert.equal(list.find((x) => x.member === 'g3' && x.role === 'active')?.cause, 'switchover');
  assert.equal(overlapMs(readMarks()), 0);
  const journal = readFileSync(join(dir, 'state-g3', 'remediation-journal.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const hooks = journal.filter((r) => r.event === 'group_hook' && r.hook === 'on_active');
  assert.deepEqual(hooks.map((r) => r.outcome), ['started', 'done'], 'on_active is journalled before and after');
});

test('pause: no elections while paused, the active member keeps the role; resume lets the election run', async () => {
  const p = await admin('g2', '/v1/groups/web/pause', { note: 'maintenance' });
  assert.equal(p.status, 200, p.body);
  await waitUntil('pause seen', async () => (await agents.get('g3')!.get('/metrics')).body.includes('vigil_group_paused{group="web"} 1'), { timeoutMs: 5000 });
  const before = readMarks().length;
  services.get('g3')!.healthy = false;
  await new Promise((r) => setTimeout(r, 2000));
  assert.equal(readMarks().length, before, 'no hook ran while paused');
  assert.equal(await activeMember(), 'g3', 'the paused active member kept the role although unhealthy');
  const sw = await admin('g1', '/v1/groups/web/switchover', {});
  assert.equal(sw.status, 409);
  assert.equal(sw.json().code, 'VIGIL_E_GROUP_PAUSED');
  assert.equal((await admin('g1', '/v1/groups/web/resume')).status, 200);
  await waitUntil('g1 active after resume', async () => (await activeMember()) === 'g1', { timeoutMs: 15_000 });
  services.get('g3')!.healthy = true;
});

test('on_active failing steps down (on_active_failed) and backs off; another member takes over', async () => {
  // g1 is active; make g1 unhealthy so g2 stands, with g2's on_active failing.
  writeFileSync(join(dir, 'fail-g2-active'), '');
  const before = readMarks().length;
  services.get('g1')!.healthy = false;
  await waitUntil('g3 active', async () => (await activeMember()) === 'g3', { timeoutMs: 20_000 });
  const list = readMarks().slice(before);
  const g2 = list.filter((x) => x.member === 'g2');
  assert.ok(g2.some((x) => x.role === 'active'), 'g2 tried');
  assert.equal(g2.find((x) => x.role === 'standby')?.cause, 'on_active_failed');
  const st = (await agents.get('g2')!.get('/status')).json().groups.groups.web;
  assert.match(st.why_not_eligible, /on_active failed here/);
  assert.equal(overlapMs(readMarks()), 0);
  rmSync(join(dir, 'fail-g2-active'));
  services.get('g1')!.healthy = true;
});

test('reload: a new priority applies in place; a group removed from the config steps down (cause removed); added back, it starts as standby', async () => {
  const active = (await activeMember())!;
  const standby = MEMBERS.find((m) => m !== active)!;
  const s = agents.get(standby)!;
  s.writeConfig(yaml(standby).replace(`priority: ${PRIORITY[standby]}`, 'priority: 7'));
  assert.equal((await s.post('/-/reload')).status, 200);
  assert.equal((await s.get('/status')).json().groups.groups.web.priority, 7);
  const a = agents.get(active)!;
  const before = readMarks().length;
  a.writeConfig(yaml(active).slice(0, yaml(active).indexOf('groups:')));
  assert.equal((await a.post('/-/reload')).status, 200);
  const next = await waitUntil('another active', async () => { const m = await activeMember(); return m !== active && m; }, { timeoutMs: 15_000 });
  const list = readMarks().slice(before);
  const down = list.find((x) => x.member === active && x.role === 'standby' && x.phase === 'end');
  const up = list.find((x) => x.member === next && x.role === 'active' && x.phase === 'start');
  assert.equal(down?.cause, 'removed');
  assert.ok(down && up && down.at <= up.at, 'stepped down before the next member stood');
  assert.equal((await a.get('/role/web')).status, 404, 'no longer a member');
  assert.doesNotMatch((await a.get('/metrics')).body, /vigil_group_role\{group="web"/, 'its role series are gone, not a stale 0');
  a.writeConfig(yaml(active));
  assert.equal((await a.post('/-/reload')).status, 200);
  await waitUntil('back as a ready standby', async () => (await a.get('/role/web/standby')).status === 200, { timeoutMs: 10_000 });
  assert.equal(readMarks().filter((x) => x.member === active).pop()?.cause, 'startup', 'a group added back starts with on_standby');
  s.writeConfig(yaml(standby));
  assert.equal((await s.post('/-/reload')).status, 200);
  assert.equal(overlapMs(readMarks()), 0);
});

test('a member record etcd dropped while nothing in it changed is written again (as after its lease was lost)', async () => {
  // A standby whose health and role stay the same: etcd expiring its record (etcd unreachable for longer than
  // twice coordination.lease_ttl) is what a delete does here. It must be back, or the group forgets the member.
  const active = await waitUntil('an active member', () => activeMember(), { timeoutMs: 10_000 });
  const m = MEMBERS.find((x) => x !== active && agents.has(x))!;
  await waitUntil(`${m} an eligible standby`, async () => (await agents.get(m)!.get('/role/web/standby')).status === 200, { timeoutMs: 10_000 });
  await new Promise((r) => setTimeout(r, 1000)); // its record written for that state, which then stays the same
  const client = new Etcd3({ hosts: etcd.endpoints });
  try {
    const key = `/groups-test/groups/web/members/${m}`;
    assert.ok(await client.get(key).string(), `${m} has a record`);
    await client.delete().key(key);
    const back = await waitUntil(`${m}'s record written again`, async () => (await client.get(key).string()) ?? undefined, { timeoutMs: 5000 });
    assert.equal(JSON.parse(back).member, m);
  } finally {
    client.close();
  }
});

test('on_standby failing: the member stays standby, says so (metric, /status, the hook\'s output), and the role still moves', async () => {
  const active = (await activeMember())!;
  writeFileSync(join(dir, `fail-${active}-standby`), '');
  try {
    services.get(active)!.healthy = false;
    const next = await waitUntil('another active', async () => { const m = await activeMember(); return m !== active && m; }, { timeoutMs: 15_000 });
    assert.ok(next);
    const a = agents.get(active)!;
    const st = await waitUntil('on_standby_failed in /status', async () => {
      const g = (await a.get('/status')).json().groups.groups.web;
      return g.on_standby_failed && g;
    }, { timeoutMs: 5000 });
    assert.equal(st.role, 'standby');
    const ev = st.events.find((e: { kind: string; ok: boolean }) => e.kind === 'on_standby' && !e.ok);
    assert.match(ev.detail, /exited with code 1/);
    assert.match((await a.get('/metrics')).body, /vigil_group_standby_hook_failed\{group="web"\} 1/);
    assert.match((await a.get('/metrics')).body, /vigil_group_hook_runs_total\{group="web",hook="on_standby",outcome="failed"\} 1/);
  } finally {
    rmSync(join(dir, `fail-${active}-standby`), { force: true });
    services.get(active)!.healthy = true;
  }
});

test('stopping the active agent hands over at once (on_standby, key released), without waiting for the lease', async () => {
  const active = (await activeMember())!;
  const t0 = Date.now();
  await agents.get(active)!.stop();
  agents.delete(active);
  const next = await waitUntil('another active', () => activeMember(), { timeoutMs: 15_000 });
  assert.notEqual(next, active);
  const list = readMarks();
  const down = list.filter((x) => x.member === active && x.role === 'standby' && x.cause === 'shutdown');
  assert.equal(down.length, 2, 'on_standby ran at shutdown');
  const up = list.filter((x) => x.member === next && x.role === 'active' && x.phase === 'start').pop()!;
  assert.ok(up.at - t0 < 3000, `took over ${up.at - t0} ms after the stop began (lease_ttl 3s not waited out)`);
  assert.equal(overlapMs(list), 0);
});
