// /healthz judges the agent itself: 503 with the problems when the scheduler
// stops turning. The overdue check is driven through the scheduler's clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { StatusBook } from '../../src/health/status-book.js';
import { buildApp } from '../../src/server/app.js';
import type { AgentView } from '../../src/server/view.js';

test('a probe whose next run is overdue by more than slack + timeout is reported', async () => {
  let skew = 0;
  const s = new Scheduler({ onResult: () => undefined, onSkip: () => undefined, onLateness: () => undefined }, () => Date.now() + skew);
  s.start();
  const cfg = {
    name: 'slow', type: 'test', schedule: { kind: 'interval' as const, everyMs: 60_000 }, timeoutMs: 1000,
    failures_before_warning: 1, failures_before_critical: 3, successes_before_passing: 1,
  };
  await s.apply([{ cfg, fingerprint: {} }], () => ({ name: 'slow', type: 'test', run: async () => ({ ok: true, durationSeconds: 0, observations: [] }) }), 100);
  assert.deepEqual(s.overdue(5000), []);
  skew = 60_000 + 5000 + 1000 + 1; // past the latest possible first run + slack + timeout
  assert.deepEqual(s.overdue(5000), ['slow']);
  await s.stop(100);
});

test('/healthz answers 503 with the problems, 200 without', async () => {
  let problems: string[] = ['event loop stalled: scheduler heartbeat 7s old', 'probes overdue: slow'];
  const view: AgentView = {
    registry: new Registry(), status: new StatusBook(),
    info: () => ({ version: 't', startedAt: 0, configFile: 'f', lastReload: { ok: true, at: 0, problems: [] } }),
    livenessProblems: () => problems,
    reload: async () => ({ ok: true }),
    statusSections: () => ({}),
    groupRole: () => undefined,
    mysqlRole: () => undefined,
  };
  const app = buildApp(view);
  try {
    let r = await app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(r.statusCode, 503);
    assert.deepEqual(r.json(), { status: 'unhealthy', problems });
    problems = [];
    r = await app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(r.statusCode, 200);
    assert.deepEqual(r.json(), { status: 'ok', problems: [] });
    r = await app.inject({ method: 'GET', url: '/ready' });
    assert.deepEqual([r.statusCode, r.json()], [200, { ready: true, critical: [], critical_not_counted: [] }]);
  } finally {
    await app.close();
  }
});
