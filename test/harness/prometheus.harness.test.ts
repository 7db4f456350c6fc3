// Proves the Prometheus harness end to end: scrape -> rule -> Alertmanager
// -> webhook, and measures how long each step takes on this machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { startAlertmanager, startPrometheus, startWebhookReceiver } from './prometheus.js';

const RULES = `groups:
  - name: demo
    rules:
      - alert: DemoMetricHigh
        expr: demo_metric > 0
        for: 0s
        labels: { severity: test }
`;

test('prometheus scrapes, rule fires, alert reaches webhook via alertmanager', async () => {
  let value = 0; // flipped to 1 once scraping works, so the latency measured is the alert path's
  const exporter = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(`# TYPE demo_metric gauge\ndemo_metric ${value}\n`);
  });
  await new Promise<void>((r) => exporter.listen(0, '127.0.0.1', r));
  const addr = exporter.address();
  const target = `127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  const stops: Array<() => Promise<void>> = [() => new Promise((r) => exporter.close(() => r()))];
  try {
    const hook = await startWebhookReceiver();
    stops.push(hook.stop);
    let t = Date.now();
    const am = await startAlertmanager({ webhookUrl: hook.url });
    stops.push(am.stop);
    console.log(`# alertmanager ready in ${Date.now() - t} ms`);
    t = Date.now();
    const prom = await startPrometheus({ scrape: [{ job: 'demo', targets: [target] }], rules: RULES, alertmanager: new URL(am.url).host });
    stops.push(prom.stop);
    console.log(`# prometheus ready in ${Date.now() - t} ms`);
    await prom.waitForUp('demo', 20_000);
    console.log(`# first successful scrape ${Date.now() - t} ms after prometheus start`);
    assert.equal((await prom.query('demo_metric')).result[0]?.value?.[1], '0');
    await assert.rejects(prom.query('demo_metric{'), /bad_data/); // errors carry Prometheus's text

    t = Date.now();
    value = 1;
    const firing = await hook.waitFor((n) => n.status === 'firing' && n.commonLabels.alertname === 'DemoMetricHigh', 20_000);
    console.log(`# alert firing at webhook ${Date.now() - t} ms after metric went to 1`);
    assert.equal(firing.commonLabels.severity, 'test');
    assert.equal(firing.alerts[0].labels.job, 'demo');

    t = Date.now();
    value = 0;
    await hook.waitFor((n) => n.status === 'resolved' && n.commonLabels.alertname === 'DemoMetricHigh', 20_000);
    console.log(`# alert resolved at webhook ${Date.now() - t} ms after metric went to 0`);
  } finally {
    // Reverse order: Prometheus first, so it stops sending to Alertmanager.
    for (const stop of stops.reverse()) await stop();
  }
});
