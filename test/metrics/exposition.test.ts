// The /metrics body built from chunks is byte for byte what the registry's
// own metrics() renders, across many chunks and with non-ASCII label values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Registry } from 'prom-client';
import { FastGauge, FastHistogram, teachRegistry } from '../../src/metrics/fast-family.js';
import { renderExposition } from '../../src/metrics/exposition.js';

test('renderExposition equals registry.metrics() byte for byte', async () => {
  const registry = new Registry();
  const plain = new Counter({ name: 't_plain_total', help: 'A prom-client counter.', labelNames: ['rule'], registers: [registry] });
  const gauge = new FastGauge({ name: 't_gauge', help: 'A gauge.', labelNames: ['probe', 'path'] });
  const hist = new FastHistogram({ name: 't_seconds', help: 'A histogram.', labelNames: ['probe'], buckets: [0.01, 0.1, 1] });
  teachRegistry(registry, [gauge, hist]);
  plain.inc({ rule: 'r' }, 2);
  // Enough series for the text to span many 16 KiB chunks, with multi-byte characters on chunk borders.
  for (let i = 0; i < 3000; i++) {
    gauge.set({ probe: `p${i}`, path: i % 7 === 0 ? `/mnt/données-${i}/€` : `/data/${i}` }, i / 3);
    hist.observe({ probe: `p${i}` }, (i % 100) / 50);
  }
  const want = await registry.metrics();
  const got = await renderExposition(registry);
  assert.ok(got.length > 200_000, `only ${got.length} bytes`);
  assert.equal(got.toString('utf8'), want);
  assert.ok(got.equals(Buffer.from(want, 'utf8')));
});
