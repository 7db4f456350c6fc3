// The operator commands against real agents and a real etcd: pause/resume,
// rule reset/run (with and without --force), cluster acknowledge, group
// pause/resume/switchover between two members, cluster list and group list
// reading etcd directly, and the errors that say what to do.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { runVigil, startAgent, type RunningAgent } from '../helpers/agent.js';
import { closedPort, startHttpServer, type TestServer } from '../helpers/servers.js';
import { waitUntil } from '../helpers/wait.js';
import { startEtcd, type EtcdCluster } from '../harness/etcd.js';
import { startCliAgent, type CliAgent } from './cli-agent.js';

const PREFIX = '/vigil-cli-test';
let etcd: EtcdCluster;
let web: TestServer;
let a: CliAgent;
let b: RunningAgent;
let refused: number;

const group = (member: string, priority: number) => `coordination:
  etcd: { endpoints: ${JSON.stringify(etcd.endpoints)}, prefix: ${PREFIX} }
  member_name: ${member}
groups:
  - { name: web-vip, healthy_when: [web], priority: ${priority}, check_interval: 200ms, lease_ttl: 4s, advertise: "127.0.0.1:${member === 'app1' ? 8081 : 8082}" }
`;

before(async () => {
  etcd = await startEtcd({ nodes: 1 });
  web = await startHttpServer((_q, res) => res.end('ok'));
  refused = await closedPort();
  a = await startCliAgent(`probes:
  - { name: web, type: http, url: "${web.origin}/", interval: 500ms, timeout: 400ms }
  - { name: db-port, type: tcp, address: "127.0.0.1:${refused}", interval: 200ms, failures_before_critical: 2 }
remediations:
  - name: restart-db
    when: { probe: db-port, state: critical }
    action: { type: exec, command: [/bin/sh, -c, 'echo "unit db.service failed" >&2; exit 1'] }
    cooldown: 0s
    grace: 0s
    max_actions: 1
  - name: warm-cache
    when: { probe: web }
    action: { type: exec, command: [/bin/sh, -c, 'echo warmed'] }
    cooldown: 1h
${group('app1', 100)}`);
  await waitUntil('app1 active and the breaker open', async () => {
    const s = await a.status();
    return s.groups?.groups['web-vip'].role === 'active' && s.remediation.rules['restart-db'].breaker.open;
  }, { timeoutMs: 30_000 });
  b = await startAgent(`agent:\n  state_dir: ${a.dir}/state-b\nprobes:\n  - { name: web, type: http, url: "${web.origin}/", interval: 500ms, timeout: 400ms }\n${group('app2', 90)}`);
  await waitUntil('app2 standby and eligible', async () => {
    const g = (await b.get('/status')).json().groups?.groups['web-vip'];
    return g?.role === 'standby' && g.eligible;
  }, { timeoutMs: 30_000 });
});

after(async () => {
  await b?.stop();
  await a?.stop();
  await web?.close();
  await etcd?.stop();
});

test('vigil pause --note / vigil resume: remediation held and released, as /status shows', async () => {
  const p = await a.vigil(['pause', '--note', 'db migration']);
  assert.equal(p.code, 0, p.stderr);
  assert.equal(p.stdout, 'remediation paused on this host (db migration): no rule acts until `vigil resume`\n');
  assert.deepEqual({ ...(await a.status()).remediation.paused, since: null }, { paused: true, since: null, note: 'db migration' });
  const s = await a.vigil(['status']);
  assert.match(s.stdout, /^remediation: PAUSED ((?:\S+ ago|just now)|just now) \(db migration\)/m);
  const r = await a.vigil(['resume']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'remediation resumed: rules act again when their gates pass\n');
  assert.equal((await a.status()).remediation.paused.paused, false);
});

test('vigil rule reset closes the breaker; rule run acts (exit 0) or says which gate held it (exit 1), --force skips the rule\'s gates', async () => {
  const reset = await a.vigil(['rule', 'reset', 'restart-db']);
  assert.equal(reset.code, 0, reset.stderr);
  assert.equal(reset.stdout, 'rule restart-db: breaker reset; the rule may act again when its other gates pass\n');
  // The probe is still critical: the rule acts again at once, fails, and the breaker opens again.
  await waitUntil('the breaker open again', async () => (await a.status()).remediation.rules['restart-db'].breaker.open, { timeoutMs: 10_000 });

  const blocked = await a.vigil(['rule', 'run', 'restart-db']);
  assert.equal(blocked.code, 1);
  assert.match(blocked.stdout, /^rule restart-db: did not act — blocked by breaker_open: .* \(--force skips the rule's own gates\)\n$/);
  const forced = await a.vigil(['rule', 'run', 'restart-db', '--force']);
  assert.equal(forced.code, 1, 'the action ran and failed');
  assert.match(forced.stdout, /^rule restart-db: acted \([0-9a-f-]{36}\): failed — sh exited with code 1 after \S+: unit db\.service failed\n$/);

  // An operator's run acts when the gates pass (its probe need not fail); then its cooldown holds the next one.
  const ok = await a.vigil(['rule', 'run', 'warm-cache']);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /^rule warm-cache: acted \(\S+\): succeeded — sh exited with code 0/);
  const cooling = await a.vigil(['rule', 'run', 'warm-cache', '--json']);
  assert.equal(cooling.code, 1);
  assert.deepEqual([JSON.parse(cooling.stdout).acted, JSON.parse(cooling.stdout).decision.reason], [false, 'cooldown']);
});

test('errors say what to do: an unknown rule, a wrong token, an unreadable token file, no admin API, bad usage', async () => {
  const none = await a.vigil(['rule', 'run', 'nope']);
  assert.equal(none.code, 1);
  assert.equal(none.stderr, 'vigil rule run: VIGIL_E_ADMIN_REFUSED: VIGIL_E_ADMIN_NO_RULE: no remediation rule named "nope" (rules: restart-db, warm-cache)\n');

  const other = join(a.dir, 'other.yaml');
  writeFileSync(join(a.dir, 'wrong.token'), 'not-the-token-0123456789');
  writeFileSync(other, `agent:\n  listen: ${a.url.slice(7)}\nadmin:\n  listen: ${a.adminUrl.slice(7)}\n  token_file: ${join(a.dir, 'wrong.token')}\nprobes: []\n`);
  const wrong = await runVigil(['pause', '--config', other]);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /^vigil pause: VIGIL_E_ADMIN_REFUSED: VIGIL_E_ADMIN_UNAUTHORIZED: the agent at http:\/\/127\.0\.0\.1:\d+ refused the token; is it the one the agent read at its last start or reload \(after rewriting the token file, reload it: kill -HUP\)\?\n$/);
  assert.equal((await a.status()).remediation.paused.paused, false, 'and nothing changed');

  writeFileSync(other, `admin:\n  token_file: ${join(a.dir, 'missing.token')}\nprobes: []\n`);
  const unreadable = await runVigil(['resume', '--config', other]);
  assert.equal(unreadable.code, 2);
  assert.equal(unreadable.stderr, `vigil resume: VIGIL_E_TOKEN_FILE: cannot read the admin token file ${join(a.dir, 'missing.token')} (ENOENT): is admin.token_file right?\n`);

  writeFileSync(other, 'probes: []\n');
  const off = await runVigil(['rule', 'reset', 'restart-db', '--config', other]);
  assert.equal(off.code, 2);
  assert.match(off.stderr, /^vigil rule reset: VIGIL_E_ADMIN_OFF: the admin API is off in \S+ \(no admin\.token_file\): add `admin: \{ token_file: \/etc\/vigil\/admin\.token \}` .* and restart the agent\n$/);

  const usage = await a.vigil(['rule', 'run']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /^vigil rule run: VIGIL_E_CLI_USAGE: needs NAME\nusage: vigil rule run NAME/);
  const bad = await a.vigil(['pause', '--bogus']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^vigil pause: VIGIL_E_CLI_USAGE: Unknown option '--bogus'/);
});

test('vigil group list reads etcd: the active member with its token, the standby with its address and eligibility', async () => {
  const r = await a.vigil(['group', 'list', 'web-vip']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.match(lines[0], /^group web-vip: active app1, fencing token \d+$/);
  assert.equal(lines[1], `read from etcd ${etcd.endpoints[0]}, prefix ${PREFIX} at revision ${lines[1].split(' ').pop()}`);
  assert.match(lines[2], /^MEMBER +ADDRESS +ROLE +PRIO +TOKEN +CHANGED +STATE$/);
  assert.match(lines[3], /^app1 +127\.0\.0\.1:8081 +active +100 +\d+ +(just now|(?:\S+ ago|just now)) +eligible$/);
  assert.match(lines[4], /^app2 +127\.0\.0\.1:8082 +standby +90 +(just now|(?:\S+ ago|just now)) +eligible$/);
  const j = JSON.parse((await a.vigil(['group', 'list', 'web-vip', '--json'])).stdout);
  assert.equal(j.active.member, 'app1');
  assert.deepEqual(j.members.map((m: { member: string }) => m.member), ['app1', 'app2']);
  const missing = await a.vigil(['group', 'list', 'nope']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^vigil group list: VIGIL_E_NOT_FOUND: nothing in etcd for group "nope"/);
});

test('vigil group pause/resume and switchover --to: the role moves to app2, as group list then shows', async () => {
  const paused = await a.vigil(['group', 'pause', 'web-vip', '--note', 'deploy']);
  assert.equal(paused.code, 0, paused.stderr);
  assert.match((await a.vigil(['group', 'list', 'web-vip'])).stdout, /; PAUSED by \S+@\S+ \(vigil cli\)/);
  const refused = await a.vigil(['group', 'switchover', 'web-vip', '--to', 'app2']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^vigil group switchover: VIGIL_E_ADMIN_REFUSED: VIGIL_E_GROUP_PAUSED: group web-vip is paused by .*: resume it first/);
  assert.equal((await a.vigil(['group', 'resume', 'web-vip'])).code, 0);

  const sw = await a.vigil(['group', 'switchover', 'web-vip', '--to', 'app2']);
  assert.equal(sw.code, 0, sw.stderr);
  assert.match(sw.stdout, /^group web-vip: switchover from app1 to app2 asked \(valid \d+s\); `vigil group list web-vip` shows who took over\n$/);
  await waitUntil('app2 active', async () => /^app2 +\S+ +active /m.test((await a.vigil(['group', 'list', 'web-vip'])).stdout), { timeoutMs: 20_000, intervalMs: 300 });
  const to = await a.vigil(['group', 'switchover', 'web-vip', '--to', 'app9']);
  assert.equal(to.code, 1);
  assert.match(to.stderr, /VIGIL_E_GROUP_TARGET: app9 is not a live member of web-vip/);
});

test('vigil cluster list reads a MySQL cluster from etcd like patronictl list; cluster acknowledge lifts its recovery block', async () => {
  const client = new Etcd3({ hosts: etcd.endpoints });
  const root = `${PREFIX}/clusters/orders`;
  const now = Date.now();
  const view = (name: string, port: number, over: Record<string, unknown>) => JSON.stringify({
    name, cluster: 'orders', host: '10.0.0.1', port, priority: 100, reachable: true, server_error: null, flavor: 'mariadb', server_id: port,
    read_only: true, source: { host: '10.0.0.1', port: 3306 }, io_running: 'Yes', sql_running: 'Yes', last_io_errno: 0, last_sql_errno: 0,
    gtid_received: '0-1-10', gtid_applied: '0-1-10', lag_seconds: 1.5, lag_measured_at: now, epoch_seen: 4, fenced: false, published_at: now - 1000, ...over,
  });
  try {
    await client.put(`${root}/primary`).value(JSON.stringify({ name: 'db1', host: '10.0.0.1', port: 3306, server_id: 1, epoch: 4, promoted_at: new Date(now - 60_000).toISOString(), promoted_by: 'db1/x', previous: { name: 'db0', epoch: 3 } }));
    await client.put(`${root}/primary_lease`).value(JSON.stringify({ member: 'db1', instance: 'i', epoch: 4, host: '10.0.0.1', port: 3306, ttl_ms: 6000, renew_deadline_ms: 3000, acquired_at: new Date(now).toISOString() }));
    await client.put(`${root}/recovery_block`).value(JSON.stringify({ until: now + 3600_000, by: 'db1', epoch: 4, acknowledged: null }));
    await client.put(`${root}/members/db1`).value(view('db1', 3306, { read_only: false, source: null, io_running: null, sql_running: null, lag_seconds: null }));
    await client.put(`${root}/members/db2`).value(view('db2', 3307, {}));
    await client.put(`${root}/members/db0`).value(view('db0', 3305, { fenced: true, source: null, io_running: null, sql_running: null, lag_seconds: null, epoch_seen: 3 }));

    const r = await a.vigil(['cluster', 'list', 'orders']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    // A head longer than the screen folds over two lines rather than being cut.
    assert.equal(lines.findIndex((l) => l.startsWith('read from ')), 2);
    assert.match(`${lines[0]} ${lines[1]}`, /^cluster orders: primary db1, epoch 4; primary lease held by db1; recovery block in force in 59m \d+s \(vigil cluster acknowledge orders\)$/);
    assert.match(lines[2], /^read from etcd 127\.0\.0\.1:\d+, prefix \/vigil-cli-test at revision \d+$/);
    assert.match(lines[3], /^MEMBER +ADDRESS +ROLE +STATE +LAG +EPOCH +FENCED +LEASE +LAST SEEN$/);
    assert.match(lines[4], /^db1 +10\.0\.0\.1:3306 +primary +running +4 +no +held +(?:\S+ ago|just now)$/);
    assert.match(lines[5], /^db2 +10\.0\.0\.1:3307 +replica +streaming +1\.5s +4 +no +(?:\S+ ago|just now)$/);
    assert.match(lines[6], /^db0 +10\.0\.0\.1:3305 +standalone +fenced +3 +yes +(?:\S+ ago|just now)$/);
    for (const l of lines) assert.ok([...l].length <= 100, l);

    const ack = await a.vigil(['cluster', 'acknowledge', 'orders', '--note', 'checked db0']);
    assert.equal(ack.code, 0, ack.stderr);
    assert.equal(ack.stdout, 'cluster orders: recovery block lifted; the next failure may fail over again\n');
    const block = JSON.parse((await client.get(`${root}/recovery_block`).string())!);
    assert.match(block.acknowledged.by, /@.* \(vigil cli\)$/);
    assert.equal(block.acknowledged.comment, 'checked db0');
    assert.match((await a.vigil(['cluster', 'list', 'orders'])).stdout.replace(/\n/g, ' '), /; recovery block acknowledged or expired read from /);
    const again = await a.vigil(['cluster', 'acknowledge', 'orders']);
    assert.equal(again.code, 0);
    assert.equal(again.stdout, 'cluster orders: the block was already acknowledged\n');
  } finally {
    await client.delete().prefix(root);
    client.close();
  }
});

test('cluster list without coordination, and with etcd down: exit 2 and what to check', async () => {
  const other = join(a.dir, 'no-coord.yaml');
  writeFileSync(other, 'probes: []\n');
  const r = await runVigil(['cluster', 'list', 'orders', '--config', other]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^vigil cluster list: VIGIL_E_NO_COORDINATION: \S+ has no coordination: section/);
  writeFileSync(other, `coordination:\n  etcd: { endpoints: ["127.0.0.1:${refused}"], dial_timeout: 500ms, request_timeout: 500ms }\n`);
  const down = await runVigil(['cluster', 'list', 'orders', '--config', other]);
  assert.equal(down.code, 2);
  assert.match(down.stderr, new RegExp(`^vigil cluster list: VIGIL_E_ETCD_UNAVAILABLE: etcd 127\\.0\\.0\\.1:${refused}, prefix /vigil did not answer \\(.*\\); check that etcd is up and reachable from here\\n$`));
});
