// The status page's renderer without a browser: every value escaped (a
// document whose every string is markup renders none of it), problems first
// at 1000 probes with the passing ones folded away, cluster and group
// sections from the real row builders, and no secret from the config on
// the page a real agent serves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderStatusPage } from '../../src/server/page/render.js';
import { clusterRows } from '../../src/failover/cluster-table.js';
import type { ClusterSnapshot } from '../../src/coordination/cluster-snapshot.js';
import type { ProbeDoc, RunDoc, StatusDoc } from '../../src/status/shape.js';
import { verdictOf } from '../../src/status/verdict.js';
import { startAgent, tempDir } from '../helpers/agent.js';
import { startHttpServer } from '../helpers/servers.js';
import { waitUntil } from '../helpers/wait.js';

const NOW = Date.parse('2026-03-01T03:00:00.000Z');
const at = (secondsAgo: number) => new Date(NOW - secondsAgo * 1000).toISOString();

function probe(name: string, state: ProbeDoc['state'], failures: number, message = 'connected'): ProbeDoc {
  const run = (i: number): RunDoc => (state === 'passing' || i >= failures
    ? { time: at(i), ok: true, message, duration_seconds: 0.0012 }
    : { time: at(i), ok: false, reason: 'connect_refused', message, duration_seconds: 0.002 });
  const history = Array.from({ length: 20 }, (_, i) => run(i));
  return { name, type: 'tcp', state, consecutive_failures: failures, consecutive_successes: 0, last_change: at(failures), last_result: history[0], history };
}

function doc(probes: ProbeDoc[], extra: Partial<StatusDoc> = {}): StatusDoc {
  const crit = probes.filter((p) => p.state === 'critical').map((p) => p.name);
  return {
    agent: { version: '1.0.0', host: 'db2', started_at: at(3600), config_file: '/etc/vigil/vigil.yaml', last_reload: { successful: true, time: at(3600), problems: [] } },
    verdict: verdictOf({ probes, readiness: { blocking: crit, ignored: [] }, liveness: [], reloadFailed: undefined, breakersOpen: ['restart-db'] }),
    probes: Object.fromEntries(probes.map((p) => [p.name, p])),
    ...extra,
  };
}

const view = (v: unknown) => JSON.parse(JSON.stringify(v));

function snapshot(): ClusterSnapshot {
  const member = (name: string, port: number, over: Record<string, unknown>) => ({
    name, modRevision: '7', value: {
      name, cluster: 'orders', host: '10.0.0.1', port, priority: 100, reachable: true, server_error: null, flavor: 'mariadb', server_id: port,
      read_only: true, source: { host: '10.0.0.1', port: 3306 }, io_running: 'Yes', sql_running: 'Yes', last_io_errno: 0, last_sql_errno: 0,
      gtid_received: '0-1-10', gtid_applied: '0-1-10', lag_seconds: 0, lag_measured_at: NOW, epoch_seen: 3, fenced: false, published_at: NOW - 2000, ...over,
    },
  });
  return {
    revision: '99',
    primary: { modRevision: '5', value: { name: 'db1', host: '10.0.0.1', port: 3306, server_id: 1, epoch: 3, promoted_at: at(7200), promoted_by: 'db1/bootstrap', previous: null } },
    primaryLease: { modRevision: '6', lease: '1', value: { member: 'db1', instance: 'a', epoch: 3, host: '10.0.0.1', port: 3306, ttl_ms: 6000, renew_deadline_ms: 3000, acquired_at: at(7200) } },
    recoveryBlock: undefined, lockHolder: undefined, intents: new Map(),
    members: [
      member('db1', 3306, { read_only: false, source: null, io_running: null, sql_running: null, lag_seconds: null }),
      member('db2', 3307, { lag_seconds: 2 }),
      member('db3', 3308, { io_running: 'Connecting', lag_seconds: null, reachable: true }),
    ],
  };
}

test('every string in the document is escaped: a document made of markup renders none of it', () => {
  const evil = (s: string) => `${s}<img src=x onerror=alert(1)>"'&`;
  // Every string field of a full document, keys of records included, replaced by markup.
  // The names of probes, rules, clusters and groups are keys of these records.
  const NAMED = new Set(['probes', 'remediation.rules', 'failover.clusters', 'groups.groups']);
  const poison = (v: unknown, path = ''): unknown => {
    const key = path.split('.').pop() ?? '';
    if (typeof v === 'string') return key === 'state' || key === 'level' || key === 'kind' ? v : evil(v);
    if (Array.isArray(v)) return v.map((x) => poison(x, path));
    const named = NAMED.has(path);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [named ? evil(k) : k, poison(x, path ? `${path}.${k}` : k)]));
    return v;
  };
  const rule = {
    action: { type: 'exec', target: '/usr/local/bin/fix', scope: 'host' }, when: { trigger: ['db'], condition: 'db: 3/3' },
    last_decision: { kind: 'blocked', reason: 'cooldown', detail: 'cooling', time: at(1), since: at(5) }, in_progress: null,
    cooldown: { duration: '5m', until: at(-60) }, escalation: null,
    breaker: { open: true, actions_in_window: 3, max_actions: 3, window: '1h', opened_at: at(60), closes_at: at(-600) },
    last_action: { id: 'x', started_at: at(70), completed_at: at(60), outcome: 'failed', detail: 'exit 1: boom', forced: false },
    last_precheck_refusal: { at: at(2), reason: 'precheck_failed', detail: 'no' },
  };
  const base = doc([probe('db', 'critical', 5, 'refused'), probe('web', 'passing', 0)], {
    remediation: {
      dry_run: false, paused: { paused: true, since: at(10), note: 'migration' }, maintenance: { active: true, detail: 'window' },
      startup_grace_until: null, budget: { max_actions: 10, window: '1h', used: 3 }, admin: { listening: 'http://127.0.0.1:9818' },
      journal: { path: '/var/lib/vigil/j', size_bytes: 10, recent: [{ time: at(1), event: 'outcome', subject: 'restart-db', outcome: 'failed', detail: 'boom' }] },
      rules: { 'restart-db': rule } as never,
    },
    failover: { member: 'db2', etcd: 'etcd 10.0.0.1:2379', clusters: { 'orders-db': view({
      member: 'db2', primary: snapshot().primary!.value, primary_lease: { member: 'db1', epoch: 3 }, local: null, errant: { transactions: '0-2-5', count: 1 },
      recovery_block: { until: at(-100), active: true, by: 'db2' }, alignment: { action: 'follow', detail: 'repointed' }, etcd_error: 'etcd down',
      members: clusterRows(snapshot()), last_decision: { at: at(5), gates: [{ gate: 'corroboration', ok: false, detail: 'db1 alive', at: at(5) }] },
      events: [{ at: at(3), kind: 'fence', ok: true, detail: 'read_only set' }],
    }) } },
    groups: { member: 'app1', groups: { 'web-vip': {
      member: 'app1', role: 'standby', since: at(30), fencing_token: null, eligible: false, why_not_eligible: 'probe web is critical', priority: 100,
      on_standby_failed: true, active: { member: 'app2', token: '41', since: at(30), advertise: '10.0.0.2:80' }, paused: { by: 'ops', at: at(5), note: 'deploy' },
      switchover: { from: 'app2', to: null, by: 'ops', at: at(1) }, members: [{ member: 'app2', role: 'active', priority: 100, eligible: true, why_not: null, advertise: '10.0.0.2:80' }],
      last_decision: { kind: 'wait', reason: 'paused', detail: 'paused' }, etcd_error: null, events: [{ at: at(30), kind: 'step_down', ok: true, detail: 'unhealthy' }],
    } } },
  });
  const page = renderStatusPage(poison(base) as StatusDoc, { now: NOW, refresh: 5 });
  assert.equal((page.match(/<img/g) ?? []).length, 0, 'no markup from the document');
  const escaped = (page.match(/&lt;img src=x onerror=alert\(1\)&gt;&quot;&#39;&amp;/g) ?? []).length;
  assert.ok(escaped > 60, `every value shown escaped (${escaped} of them)`);
  for (const id of ['verdict', 'switches', 'probes', 'rules', 'clusters', 'groups', 'journal']) assert.match(page, new RegExp(`id="${id}`), id);
});

test('1000 probes: the failing ones lead, the passing ones fold under one summary line', () => {
  const probes = Array.from({ length: 1000 }, (_, i) => probe(`p${String(i).padStart(4, '0')}`, i % 100 === 7 ? 'critical' : i % 100 === 9 ? 'warning' : 'passing', i % 100 === 7 ? 3 + (i % 5) : i % 100 === 9 ? 1 : 0));
  const page = renderStatusPage(doc(probes), { now: NOW, refresh: undefined });
  const rows = [...page.matchAll(/<tr class="(\w+)" id="probe-(p\d+)"/g)].map((m) => m[1]);
  assert.equal(rows.length, 1000);
  assert.deepEqual(rows.slice(0, 20), [...Array(10).fill('critical'), ...Array(10).fill('warning')]);
  assert.ok(page.indexOf('id="probe-p0007"') < page.indexOf('<details id="passing"><summary>980 passing probes</summary>'));
  assert.match(page, /<h2>Probes: 20 not passing, 980 passing<\/h2>/);
  // Within critical, the longest-failing first.
  const crit = [...page.matchAll(/<tr class="critical" id="probe-(p\d+)">[\s\S]*?<td class="n">(\d+)<\/td>/g)].map((m) => Number(m[2]));
  assert.deepEqual(crit, [...crit].sort((a, b) => b - a));
});

test('a MySQL cluster: primary, lease, this host and every member with role, state and lag, from the real row builder', () => {
  const rows = view(clusterRows(snapshot()));
  const page = renderStatusPage(doc([probe('db', 'passing', 0)], {
    failover: { member: 'db2', etcd: 'etcd 127.0.0.1:2379', clusters: { orders: {
      member: 'db2', primary: snapshot().primary!.value, primary_lease: { member: 'db1', epoch: 3 }, local: null, errant: null,
      recovery_block: { until: at(-1800), active: true, by: 'db2' }, alignment: null, etcd_error: null, members: rows,
    } } },
  }), { now: NOW, refresh: undefined });
  const section = page.slice(page.indexOf('id="cluster-orders"'));
  const text = section.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');
  assert.match(text, /primary: db1 \(10\.0\.0\.1:3306\), epoch 3 · primary lease: held by db1 · this host \(db2\): replica, streaming/);
  assert.match(text, /recovery block in force until 30m from now|recovery block in force until in 30m/);
  assert.match(text, /db1 10\.0\.0\.1:3306 primary running 3 no held 2s ago/);
  assert.match(text, /db2 \(this host\) 10\.0\.0\.1:3307 replica streaming 2s 3 no 2s ago/);
  assert.match(text, /db3 10\.0\.0\.1:3308 replica connecting 3 no/);
  assert.match(text, /vigil cluster acknowledge orders/);
});

test('a real agent\'s page shows no secret from its config (a secret header, the admin token)', async () => {
  const { dir, cleanup } = tempDir('vigil-page-secret-');
  const secret = 'Bearer s3cr3t-header-value-0123456789';
  const token = 'admin-token-abcdef0123456789abcdef';
  writeFileSync(join(dir, 'header'), secret);
  writeFileSync(join(dir, 'token'), token, { mode: 0o600 });
  const srv = await startHttpServer((_q, res) => { res.statusCode = 500; res.end(`echo: ${secret}`); });
  const a = await startAgent(`agent:\n  state_dir: ${dir}/state\nprobes:\n  - { name: api, type: http, url: "${srv.origin}/?key=${encodeURIComponent(secret)}", interval: 100ms, headers: { Authorization: { file: ${join(dir, 'header')} } } }\n`
    + `admin:\n  listen: 127.0.0.1:0\n  token_file: ${join(dir, 'token')}\nremediations:\n  - { name: fix, when: { probe: api }, action: { type: exec, command: [/bin/true] } }\n`);
  try {
    await waitUntil('api to fail', async () => (await a.get('/status')).json().probes.api.last_result?.ok === false);
    const page = (await a.get('/')).body;
    assert.match(page, /id="probe-api"/);
    assert.ok(!page.includes('s3cr3t') && !page.includes(encodeURIComponent('s3cr3t')), 'the header value is not on the page');
    assert.ok(!page.includes(token), 'the admin token is not on the page');
  } finally {
    await a.stop();
    await srv.close();
    cleanup();
  }
});
