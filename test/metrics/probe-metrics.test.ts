// ProbeMetrics replaces a probe's observation series after a successful run
// and keeps them after a failed one, unless the failed run says it reported
// all of its series (observationsComplete): then a series it no longer
// reports (a standby that left the primary) goes at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { createMetrics } from '../../src/metrics/catalogue.js';
import { ProbeMetrics } from '../../src/metrics/probe-metrics.js';
import { INITIAL_HEALTH } from '../../src/health/tracker.js';
import type { Observation, ProbeResult } from '../../src/probes/types.js';

const standby = (name: string, value: number): Observation =>
  ({ name: 'postgres_standby_lag_bytes', value, labels: { standby: name, client: '10.0.0.2', lag: 'replay' } });

function setUp() {
  const registry = new Registry();
  const pm = new ProbeMetrics(createMetrics(registry, { version: 'test' }));
  const lines = async () => (await registry.metrics()).split('\n').filter((l) => l.startsWith('vigil_postgres_standby_lag_bytes{'));
  const record = (r: Omit<ProbeResult, 'durationSeconds'>) => pm.record('pg', 'postgres_replication', { durationSeconds: 0.01, ...r }, INITIAL_HEALTH, Date.now());
  return { lines, record };
}

test('a failed run keeps the series it did not report; a complete failed run drops them', async () => {
  const { lines, record } = setUp();
  record({ ok: true, observations: [standby('a', 0), standby('b', 10)] });
  assert.equal((await lines()).length, 2);
  record({ ok: false, reason: 'timeout', observations: [] });
  assert.equal((await lines()).length, 2, 'a run that measured nothing keeps the last values');
  record({ ok: false, reason: 'replication_stopped', observations: [standby('a', 5)], observationsComplete: true });
  assert.deepEqual(await lines(), ['vigil_postgres_standby_lag_bytes{probe="pg",standby="a",client="10.0.0.2",lag="replay"} 5']);
});

test('a successful run drops what it no longer reports', async () => {
  const { lines, record } = setUp();
  record({ ok: true, observations: [standby('a', 0), standby('b', 10)] });
  record({ ok: true, observations: [standby('b', 11)] });
  assert.deepEqual(await lines(), ['vigil_postgres_standby_lag_bytes{probe="pg",standby="b",client="10.0.0.2",lag="replay"} 11']);
});
