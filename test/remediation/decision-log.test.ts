// One log line per decision change, a counter per blocked decision, and the
// last decision (with since) for /status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createMetrics } from '../../src/metrics/catalogue.js';
import { DecisionLog } from '../../src/remediation/decision-log.js';

test('logs on change, counts every blocked decision, re-logs a reason after a quiet spell', async () => {
  const lines: Array<{ level: number; msg: string }> = [];
  const logger = pino({ level: 'debug' }, new Writable({ write(c, _e, cb) { lines.push(JSON.parse(String(c))); cb(); } }));
  const registry = new Registry();
  const metrics = createMetrics(registry, { version: 't' });
  const log = new DecisionLog(logger, metrics);
  const t0 = Date.parse('2024-05-01T00:00:00Z');
  const cooldown = { kind: 'blocked', reason: 'cooldown', detail: 'until x' } as const;
  const none = { kind: 'none', detail: 'api: 0/3' } as const;
  log.record('r', 'exec', { kind: 'act', detail: 'api: 3/3' }, t0);
  for (let i = 1; i <= 10; i++) log.record('r', 'exec', i % 2 ? cooldown : none, t0 + i * 1000); // flapping
  log.record('r', 'exec', cooldown, t0 + 11 * 60_000); // the same reason after a quiet spell
  const info = lines.filter((l) => l.level >= 30).map((l) => l.msg);
  assert.deepEqual(info, ['remediation r: acting (exec)', 'remediation r: blocked by cooldown: until x', 'remediation r: blocked by cooldown: until x']);
  assert.equal(lines.filter((l) => l.level === 20).length, 5, '"nothing to do" only at debug');
  const blocked = (await registry.getSingleMetric('vigil_remediation_blocked_total')!.get()).values;
  assert.deepEqual(blocked.map((v) => [v.labels.reason, v.value]), [['cooldown', 6]]);
  assert.deepEqual(log.get('r'), { kind: 'blocked', reason: 'cooldown', detail: 'until x', time: new Date(t0 + 11 * 60_000).toISOString(), since: new Date(t0 + 11 * 60_000).toISOString() });
});
