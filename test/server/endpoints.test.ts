// The agent's HTTP endpoints over real HTTP: an agent on port 0 probing real
// local servers, some made to fail.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startAgent, type RunningAgent } from '../helpers/agent.js';
import { closedPort, startHttpServer, type TestServer } from '../helpers/servers.js';
import { waitUntil } from '../helpers/wait.js';

let target: TestServer;
let mode: 'ok' | 'fail' | 'flap' = 'fail';
let flip = false;
let agent: RunningAgent;

before(async () => {
  target = await startHttpServer((_q, res) => {
    flip = !flip;
    const ok = mode === 'ok' || (mode === 'flap' && flip);
    res.statusCode = ok ? 200 : 503;
    res.end(ok ? 'fine' : 'sick');
  });
  const refused = await closedPort();
  agent = await startAgent(`agent:
  log_level: info
probes:
  - name: app
    type: http
    url: ${target.origin}/health
    interval: 40ms
    failures_before_warning: 1
    failures_before_critical: 2
  - name: db-port
    type: tcp
    address: 127.0.0.1:${refused}
    interval: 200ms
    failures_before_critical: 1
  - name: shared-dep
    type: tcp
    address: 127.0.0.1:${refused}
    interval: 200ms
    failures_before_critical: 1
    affects_ready: false
  - name: root
    type: disk
    path: /
    interval: 1s
`);
  await waitUntil('every probe to have run', async () => {
    const s = (await agent.get('/status')).json();
    return ['app', 'db-port', 'shared-dep', 'root'].every((n) => s.probes[n]?.last_result) ? s : undefined;
  });
});
after(async () => { await agent.stop(); await target.close(); });

describe('/ready', () => {
  test('503 listing the critical probes; a probe with affects_ready: false is listed apart and does not count', async () => {
    await waitUntil('app to be critical', async () => (await agent.get('/status')).json().probes.app.state === 'critical');
    const r = await agent.get('/ready');
    assert.equal(r.status, 503);
    assert.deepEqual({ ...r.json(), critical: [...r.json().critical].sort() }, { ready: false, critical: ['app', 'db-port'], critical_not_counted: ['shared-dep'] });
  });
});

describe('/healthz', () => {
  test('200 while the agent schedules, even with critical probes', async () => {
    const r = await agent.get('/healthz');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json(), { status: 'ok', problems: [] });
  });
});

describe('/status', () => {
  test('shape: the agent, then per probe name, type, state, counters, last result and history', async () => {
    // The disk probe's first run is staggered within its 1 s interval: wait for it, not for luck.
    await waitUntil('every probe to have a result', async () =>
      Object.values((await agent.get('/status')).json().probes as Record<string, { last_result: unknown }>).every((p) => p.last_result !== null));
    const r = await agent.get('/status');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
    const s = r.json();
    assert.equal(s.agent.version, 'test');
    assert.equal(s.agent.config_file, agent.file);
    assert.equal(s.agent.last_reload.successful, true);
    assert.deepEqual(s.agent.last_reload.problems, []);
    assert.ok(!Number.isNaN(Date.parse(s.agent.started_at)));
    assert.deepEqual(Object.keys(s.probes).sort(), ['app', 'db-port', 'root', 'shared-dep']);

    const db = s.probes['db-port'];
    assert.deepEqual(Object.keys(db).sort(), ['consecutive_failures', 'consecutive_successes', 'history', 'last_change', 'last_result', 'name', 'state', 'type']);
    assert.equal(db.name, 'db-port');
    assert.equal(db.type, 'tcp');
    assert.equal(db.state, 'critical');
    assert.ok(db.consecutive_failures >= 1);
    assert.equal(db.consecutive_successes, 0);
    assert.equal(db.last_result.ok, false);
    assert.equal(db.last_result.reason, 'connect_refused');
    assert.match(db.last_result.message, /ECONNREFUSED/);
    assert.equal(typeof db.last_result.duration_seconds, 'number');
    assert.ok(!Number.isNaN(Date.parse(db.last_result.time)));
    assert.ok(!Number.isNaN(Date.parse(db.last_change)));
    assert.deepEqual(db.history[0], db.last_result);

    const root = s.probes.root;
    assert.equal(root.state, 'passing', JSON.stringify(root.history.filter((h: { ok: boolean }) => !h.ok)));
    assert.equal(root.last_result.ok, true);
    assert.equal(root.last_result.reason, undefined);
  });

  test('history: newest first, failures kept longer than successes', async () => {
    mode = 'flap';
    // 40 ms interval, every other run a failure. The earlier tests may already
    // have left 30 failures (a slow machine runs more of them), so wait for
    // both kinds, then for well over 10 more successes: the kept ones must stay 10.
    await waitUntil('a long history', async () => {
      const h = (await agent.get('/status')).json().probes.app.history as Array<{ ok: boolean }>;
      return h.filter((e) => !e.ok).length >= 30 && h.filter((e) => e.ok).length >= 10 ? h : undefined;
    }, { timeoutMs: 40_000, intervalMs: 200 });
    const runs = async () => Number(/^vigil_probe_runs_total\{probe="app",type="http",result="success"\} (\d+)$/m.exec((await agent.get('/metrics')).body)?.[1]);
    const before = await runs();
    await waitUntil('15 more successful runs', async () => (await runs()) >= before + 15, { timeoutMs: 40_000, intervalMs: 100 });
    const h = (await agent.get('/status')).json().probes.app.history as Array<{ ok: boolean; time: string }>;
    const successes = h.filter((e) => e.ok).length;
    const failures = h.filter((e) => !e.ok).length;
    assert.equal(successes, 10);
    assert.ok(failures >= 30 && failures <= 50, `${failures} failures kept`);
    const times = h.map((e) => e.time);
    assert.deepEqual(times, [...times].sort().reverse());
  });

  test('/ready turns 200 once the probe passes again (and the tcp probe is gone)', async () => {
    mode = 'ok';
    await waitUntil('app passing', async () => (await agent.get('/status')).json().probes.app.state === 'passing');
    const r = await agent.get('/ready');
    assert.equal(r.status, 503);
    assert.deepEqual(r.json(), { ready: false, critical: ['db-port'], critical_not_counted: ['shared-dep'] });
  });
});

describe('/metrics and /', () => {
  test('/metrics is the Prometheus text format with the probe series', async () => {
    const r = await agent.get('/metrics');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    assert.match(r.body, /^vigil_probe_success\{probe="root",type="disk"\} 1$/m);
    assert.match(r.body, /^vigil_probe_success\{probe="db-port",type="tcp"\} 0$/m);
    assert.match(r.body, /^vigil_probe_state\{probe="db-port",state="critical"\} 1$/m);
    assert.match(r.body, /^vigil_probe_failures_total\{probe="db-port",type="tcp",reason="connect_refused"\} [1-9]/m);
    assert.match(r.body, /^vigil_disk_avail_bytes\{probe="root",path="\/"\} \d/m);
    assert.match(r.body, /^vigil_config_last_reload_successful 1$/m);
  });

  test('/ links the endpoints', async () => {
    const r = await agent.get('/');
    assert.equal(r.status, 200);
    for (const p of ['/metrics', '/status', '/ready', '/healthz']) assert.ok(r.body.includes(`href="${p}"`));
  });

  test('logs: one line per state change, not one per run', async () => {
    const changes = agent.logs.filter((l) => typeof l.msg === 'string' && /^probe \S+ is now /.test(l.msg));
    const body = (await agent.get('/metrics')).body;
    const runs = (probe: string, type: string) => (body.match(new RegExp(`^vigil_probe_runs_total\\{probe="${probe}",type="${type}",result="(?:success|failure)"\\} \\d+`, 'gm')) ?? [])
      .map((l) => Number(l.split(' ')[1])).reduce((a, b) => a + b, 0);
    assert.ok(runs('root', 'disk') >= 1, `root ran ${runs('root', 'disk')} times`);
    const root = changes.filter((l) => l.probe === 'root');
    assert.deepEqual(root.map((l) => [l.from, l.to, l.level]), [['unknown', 'passing', 30]]);
    assert.ok(runs('db-port', 'tcp') >= 3, `db-port ran ${runs('db-port', 'tcp')} times`);
    const db = changes.filter((l) => l.probe === 'db-port');
    assert.deepEqual(db.map((l) => [l.from, l.to, l.level, l.reason]), [['unknown', 'critical', 50, 'connect_refused']]);
    for (const l of changes) assert.notEqual(l.from, l.to);
  });
});
