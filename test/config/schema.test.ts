// Defaults live in the schema: what a minimal probe becomes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from '../../src/agent.js';
import { parseConfigText } from '../../src/config/load.js';

function load(yaml: string) {
  const r = parseConfigText(yaml, Agent.loadOptions({}));
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.config;
}

test('agent defaults', () => {
  const c = load('probes: []\n');
  assert.deepEqual(c.agent.listen, { host: '127.0.0.1', port: 9817 });
  assert.equal(c.agent.log_level, 'info');
  assert.equal(c.agent.shutdown_timeout, 10_000);
});

test('probe defaults: 10s interval, 5s timeout, warning after 1, critical after 3, passing after 1', () => {
  const [p] = load('probes:\n  - {name: t, type: tcp, address: "127.0.0.1:1"}\n').probes;
  assert.deepEqual(p.schedule, { kind: 'interval', everyMs: 10_000 });
  assert.equal(p.timeoutMs, 5000);
  assert.equal(p.failures_before_warning, 1);
  assert.equal(p.failures_before_critical, 3);
  assert.equal(p.successes_before_passing, 1);
  assert.equal(p.intervalWhenFailingMs, undefined);
});

test('the default timeout stays shorter than a short interval', () => {
  const [p] = load('probes:\n  - {name: t, type: tcp, address: "127.0.0.1:1", interval: 1s}\n').probes;
  assert.equal(p.timeoutMs, 800);
});

test('a cron schedule keeps its expression and the default timeout', () => {
  const [p] = load('probes:\n  - {name: t, type: tcp, address: "127.0.0.1:1", schedule: "*/5 * * * * *"}\n').probes;
  assert.deepEqual(p.schedule, { kind: 'cron', expr: '*/5 * * * * *' });
  assert.equal(p.timeoutMs, 5000);
});

test('http defaults', () => {
  const [p] = load('probes:\n  - {name: w, type: http, url: "http://127.0.0.1:1/"}\n').probes as any[];
  assert.equal(p.method, 'GET');
  assert.deepEqual(p.valid_status_codes, ['2xx']);
  assert.equal(p.follow_redirects, true);
  assert.equal(p.keepalive, false);
  assert.equal(p.body_size_limit, 1024 * 1024);
});

test('disk defaults: read-only fails the probe, no write test', () => {
  const [p] = load('probes:\n  - {name: d, type: disk, path: /}\n').probes as any[];
  assert.equal(p.fail_if_readonly, true);
  assert.equal(p.write_test, false);
});
