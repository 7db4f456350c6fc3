// The per-probe families render exactly what prom-client renders for the same
// operations, and a registry taught about them serves both kinds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { FastCounter, FastGauge, FastHistogram, teachRegistry } from '../../src/metrics/fast-family.js';
import { findTool } from '../helpers/tools.js';

function sortedLines(text: string): string[] {
  return text.split('\n').filter(Boolean).sort();
}

test('same operations, same exposition text as prom-client', async () => {
  const ref = new Registry();
  const fast = new Registry();
  const buckets = [0.005, 0.01, 0.1, 1];
  const rg = new Gauge({ name: 't_gauge', help: 'A gauge.\nTwo lines \\ here.', labelNames: ['probe', 'path'], registers: [ref] });
  const rc = new Counter({ name: 't_total', help: 'A counter.', labelNames: ['probe', 'result'], registers: [ref] });
  const rh = new Histogram({ name: 't_seconds', help: 'A histogram.', labelNames: ['probe', 'type'], buckets, registers: [ref] });
  const fg = new FastGauge({ name: 't_gauge', help: 'A gauge.\nTwo lines \\ here.', labelNames: ['probe', 'path'] });
  const fc = new FastCounter({ name: 't_total', help: 'A counter.', labelNames: ['probe', 'result'] });
  const fh = new FastHistogram({ name: 't_seconds', help: 'A histogram.', labelNames: ['probe', 'type'], buckets });
  teachRegistry(fast, [fg, fc, fh]);

  for (const [g, c, h] of [[rg, rc, rh], [fg, fc, fh]] as const) {
    g.set({ probe: 'a', path: '/' }, 1.5);
    g.set({ probe: 'b', path: 'we"ird\\path\nx' }, NaN);
    g.set({ probe: 'c', path: '/x' }, Infinity);
    g.set({ probe: 'c', path: '/y' }, -Infinity);
    g.set({ probe: 'd', path: '/z' }, 1e21);
    g.remove({ probe: 'c', path: '/y' });
    c.inc({ probe: 'a', result: 'success' }, 0);
    c.inc({ probe: 'a', result: 'success' });
    c.inc({ probe: 'a', result: 'failure' }, 3);
    for (const v of [0.001, 0.005, 0.05, 0.5, 2, 0]) h.observe({ probe: 'a', type: 'http' }, v);
    h.observe({ probe: 'b', type: 'tcp' }, 0.02);
    h.remove({ probe: 'b', type: 'tcp' });
  }
  // prom-client spells NaN "Nan"; the exposition format (and Prometheus) say NaN.
  const want = (await ref.metrics()).replace(/ Nan$/gm, ' NaN');
  const got = await fast.metrics();
  assert.deepEqual(sortedLines(got), sortedLines(want));
  // Families stay listed with their type (dashboards' name checks rely on it).
  assert.deepEqual(fast.getMetricsAsArray().map((m) => [m.name, String(m.type)]), [['t_gauge', 'gauge'], ['t_total', 'counter'], ['t_seconds', 'histogram']]);
  // And the JSON view agrees on the values.
  const json = await fast.getMetricsAsJSON();
  const refJson = await ref.getMetricsAsJSON();
  for (const i of [0, 1]) assert.deepEqual(json[i].values.map((v) => v.value), refJson[i].values.map((v) => v.value));
});

test('a counter refuses to go down', () => {
  const c = new FastCounter({ name: 'x_total', help: 'x', labelNames: ['probe'] });
  assert.throws(() => c.inc({ probe: 'a' }, -1), /can only go up/);
});

test('promtool accepts the fast text', () => {
  const promtool = findTool('promtool');
  if (!promtool) return assert.fail('promtool not found: install it with `apt-get install -y prometheus`');
  const reg = new Registry();
  const h = new FastHistogram({ name: 'p_duration_seconds', help: 'd', labelNames: ['probe'], buckets: [0.1, 1] });
  const g = new FastGauge({ name: 'p_up', help: 'u', labelNames: ['probe'] });
  teachRegistry(reg, [h, g]);
  h.observe({ probe: 'a' }, 0.5);
  g.set({ probe: 'a' }, 1);
  return reg.metrics().then((body) => {
    const r = spawnSync(promtool, ['check', 'metrics'], { input: body, encoding: 'utf8' });
    assert.equal(`${r.stdout}${r.stderr}`, '');
    assert.equal(r.status, 0);
  });
});
