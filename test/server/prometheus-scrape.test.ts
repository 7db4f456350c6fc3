// A real Prometheus scrapes the agent over TLS with basic auth, using its own
// tls_config and basic_auth: the right credentials make `up` 1 and the series
// arrive; a wrong password is a 401; without a client certificate (the
// listener requires and verifies one) the handshake fails.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import bcrypt from 'bcryptjs';
import { startPrometheus, type PrometheusServer } from '../harness/prometheus.js';
import { startAgent, type RunningAgent } from '../helpers/agent.js';
import { makePki, type Pki } from '../helpers/pki.js';
import { waitUntil } from '../helpers/wait.js';

let pki: Pki;
let agent: RunningAgent;
let prom: PrometheusServer;

before(async () => {
  pki = makePki();
  pki.server('server');
  pki.client('prometheus', { sans: ['DNS:prometheus'] });
  const dir = mkdtempSync(`${pki.dir}/web-`);
  writeFileSync(`${dir}/web.yml`, `tls_server_config:
  cert_file: ${pki.file('server.crt')}
  key_file: ${pki.file('server.key')}
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ${pki.file('ca.crt')}
basic_auth_users:
  prometheus: ${bcrypt.hashSync('scrape-pw', 10)}
`);
  agent = await startAgent(`agent:\n  web_config_file: ${dir}/web.yml\nprobes:\n  - {name: root, type: disk, path: /, interval: 1s}\n`);
  const target = new URL(agent.url).host;
  const tls = { ca_file: pki.file('ca.crt'), cert_file: pki.file('prometheus.crt'), key_file: pki.file('prometheus.key') };
  prom = await startPrometheus({
    scrape: [
      { job: 'vigil-tls', targets: [target], scheme: 'https', tlsConfig: tls, basicAuth: { username: 'prometheus', password: 'scrape-pw' } },
      { job: 'vigil-wrong-password', targets: [target], scheme: 'https', tlsConfig: tls, basicAuth: { username: 'prometheus', password: 'nope' } },
      { job: 'vigil-no-client-cert', targets: [target], scheme: 'https', tlsConfig: { ca_file: pki.file('ca.crt') }, basicAuth: { username: 'prometheus', password: 'scrape-pw' } },
    ],
  });
});

after(async () => {
  await prom?.stop();
  await agent?.stop();
  pki?.cleanup();
});

interface Target { labels: { job: string }; health: string; lastError: string }
async function targets(): Promise<Map<string, Target>> {
  const r = await fetch(`${prom.url}/api/v1/targets`);
  const body = (await r.json()) as { data: { activeTargets: Target[] } };
  return new Map(body.data.activeTargets.map((t) => [t.labels.job, t]));
}

test('Prometheus with its own tls_config and basic_auth scrapes the series; a wrong password is 401; no client certificate fails the handshake', async () => {
  await prom.waitForUp('vigil-tls', 30_000);
  const series = await prom.query('vigil_probe_success{job="vigil-tls",probe="root"}');
  assert.equal(series.result.length, 1);
  const t = await waitUntil('every target scraped at least once', async () => {
    const all = await targets();
    return [...all.values()].every((x) => x.health !== 'unknown') ? all : undefined;
  }, { timeoutMs: 20_000, intervalMs: 250 });
  assert.equal(t.get('vigil-tls')?.health, 'up');
  assert.equal(t.get('vigil-wrong-password')?.health, 'down');
  assert.match(t.get('vigil-wrong-password')!.lastError, /401 Unauthorized/);
  assert.equal(t.get('vigil-no-client-cert')?.health, 'down');
  assert.match(t.get('vigil-no-client-cert')!.lastError, /certificate required|bad certificate|tls/i);
  const up = await prom.query('up');
  assert.deepEqual(Object.fromEntries(up.result.map((r) => [r.metric.job, r.value?.[1]])), { 'vigil-tls': '1', 'vigil-wrong-password': '0', 'vigil-no-client-cert': '0' });
  // The agent counted the refusals Prometheus met (seen by the next good scrape).
  await waitUntil('the refusals in a scrape', async () => {
    const m = await prom.query('vigil_listener_requests_refused_total{job="vigil-tls",reason="unauthorized"}');
    return Number(m.result[0]?.value?.[1]) >= 1;
  }, { timeoutMs: 10_000, intervalMs: 250 });
});
