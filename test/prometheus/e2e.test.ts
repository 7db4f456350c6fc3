// End to end with the real things: vigil probes a real HTTP target, a real
// Prometheus scrapes vigil and evaluates alerts/vigil.rules.yml, a real
// Alertmanager delivers to a webhook. Then every PromQL expression we ship
// (dashboards and rules) runs against that Prometheus.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { Agent } from '../../src/agent.js';
import { loadConfigFile } from '../../src/config/load.js';
import { createMetrics } from '../../src/metrics/catalogue.js';
import { freePort } from '../harness/ports.js';
import {
  startAlertmanager, startPrometheus, startWebhookReceiver,
  type AmNotification, type PrometheusServer, type WebhookReceiver,
} from '../harness/prometheus.js';
import { allExpressions, REPO_ROOT, RULES_FILE, type RuleGroup } from './expressions.js';

interface Stoppable { stop(): Promise<void> }

let target: Server;
let targetHealthy = true;
let agent: Agent;
let prom: PrometheusServer;
let receiver: WebhookReceiver;
let dir: string;
const stops: Stoppable[] = [];

/** The shipped rules with every `for:` set to 0s, so the test need not wait minutes. */
async function rulesWithoutFor(): Promise<string> {
  const doc = parseYaml(await readFile(join(REPO_ROOT, RULES_FILE), 'utf8')) as { groups: RuleGroup[] };
  for (const g of doc.groups) for (const r of g.rules) if (r.for) r.for = '0s';
  return stringifyYaml(doc);
}

const isProbeCritical = (status: 'firing' | 'resolved') => (n: AmNotification) =>
  n.alerts.some((a) => a.status === status && a.labels.alertname === 'VigilProbeCritical' && a.labels.probe === 'web');

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vigil-e2e-'));
  target = createServer((_req, res) => { res.writeHead(targetHealthy ? 200 : 503).end(targetHealthy ? 'ok' : 'down'); });
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  const targetPort = (target.address() as { port: number }).port;

  const agentPort = await freePort();
  const configFile = join(dir, 'vigil.yaml');
  await writeFile(configFile, [
    'agent:', `  listen: 127.0.0.1:${agentPort}`, 'probes:',
    '  - name: web', '    type: http', `    url: http://127.0.0.1:${targetPort}/health`,
    '    interval: 1s', '    timeout: 500ms', '    failures_before_critical: 2',
    '  - name: root-disk', '    type: disk', '    path: /', '    interval: 2s',
    '  - name: self-tcp', '    type: tcp', `    address: 127.0.0.1:${agentPort}`, '    interval: 2s',
  ].join('\n'));
  const loaded = await loadConfigFile(configFile, Agent.loadOptions(process.env));
  assert.ok(loaded.ok, JSON.stringify(!loaded.ok && loaded.problems));
  agent = new Agent({ configFile, config: loaded.config, env: process.env, logger: pino({ level: 'silent' }), version: 'e2e' });
  await agent.start();
  stops.push(agent);

  receiver = await startWebhookReceiver();
  stops.push(receiver);
  const am = await startAlertmanager({ webhookUrl: receiver.url });
  stops.push(am);
  prom = await startPrometheus({
    scrape: [{ job: 'vigil', targets: [`127.0.0.1:${agentPort}`] }],
    rules: await rulesWithoutFor(),
    alertmanager: new URL(am.url).host,
  });
  stops.push(prom);
  await prom.waitForUp('vigil', 30_000);
});

after(async () => {
  for (const s of stops.reverse()) await s.stop().catch(() => undefined);
  await new Promise<void>((r) => target?.close(() => r()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function waitForQuery(promql: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await prom.query(promql)).result.length === 0) {
    if (Date.now() > deadline) throw new Error(`no result for ${promql} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('a broken target raises VigilProbeCritical at the receiver, and its repair resolves it', async () => {
  await waitForQuery('vigil_probe_state{job="vigil",probe="web",state="passing"} == 1', 20_000);
  assert.equal(receiver.received.filter((n) => isProbeCritical('firing')(n.body)).length, 0, 'no alert while healthy');

  targetHealthy = false;
  const brokeAt = Date.now();
  const firing = await receiver.waitFor(isProbeCritical('firing'), 30_000);
  const firedAfter = Date.now() - brokeAt;
  const alert = firing.alerts.find((a) => a.labels.alertname === 'VigilProbeCritical')!;
  assert.equal(alert.labels.severity, 'critical');
  assert.equal(alert.labels.type, 'http');
  assert.equal(alert.labels.job, 'vigil');
  assert.match(alert.annotations.summary, /web/);
  assert.match(`${alert.annotations.summary} ${alert.annotations.description}`, /status/, 'the failure reason is in the annotations');
  assert.match(alert.annotations.runbook_url ?? '', /runbooks\.md#vigilprobecritical/);

  targetHealthy = true;
  const repairedAt = Date.now();
  await receiver.waitFor(isProbeCritical('resolved'), 30_000);
  const resolvedAfter = Date.now() - repairedAt;
  process.stdout.write(`# target broken → VigilProbeCritical at receiver: ${firedAfter} ms; repaired → resolved: ${resolvedAfter} ms\n`);
});

test('every dashboard and alert expression runs against the real Prometheus without error', async () => {
  const errors: string[] = [];
  const exprs = allExpressions();
  assert.ok(exprs.length > 30, `expected many expressions, got ${exprs.length}`);
  for (const { source, expr } of exprs) {
    await prom.query(expr).catch((err: Error) => { errors.push(`${source}: ${err.message}`); });
  }
  assert.deepEqual(errors, []);
});

test('every metric name the dashboards and alerts use is one vigil defines', async () => {
  const registry = new Registry();
  createMetrics(registry, { version: 'e2e' });
  const defined = new Set<string>();
  for (const m of registry.getMetricsAsArray()) {
    defined.add(m.name);
    if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) defined.add(`${m.name}${s}`);
  }
  const unknown = new Set<string>();
  for (const { source, expr } of allExpressions()) {
    for (const name of expr.match(/\bvigil_[a-z0-9_]+/g) ?? []) if (!defined.has(name)) unknown.add(`${name} (${source})`);
  }
  assert.deepEqual([...unknown], [], 'metric names used by dashboards/alerts but not defined in src/metrics/catalogue.ts');
  // And the live agent really serves the probe metrics the overview dashboard starts from.
  const live = await prom.query('count by(__name__)({job="vigil",__name__=~"vigil_probe_.*"})');
  const liveNames = new Set(live.result.map((r) => r.metric.__name__));
  for (const n of ['vigil_probe_success', 'vigil_probe_state', 'vigil_probe_duration_seconds_bucket']) {
    assert.ok(liveNames.has(n), `Prometheus scraped no ${n} from the agent`);
  }
  assert.equal((await prom.query('vigil_disk_avail_bytes{job="vigil",probe="root-disk",path="/"} > 0')).result.length, 1);
});
