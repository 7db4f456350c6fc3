// `promtool check metrics` on the real /metrics of an agent running http,
// tcp and disk probes, some of them failing: exit 0 and no findings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startAgent } from '../helpers/agent.js';
import { closedPort, startHttpServer, startHttpsServer } from '../helpers/servers.js';
import { makeSelfSignedCert } from '../helpers/tls.js';
import { findTool } from '../helpers/tools.js';
import { waitUntil } from '../helpers/wait.js';

test('promtool check metrics: the real /metrics has no findings', async () => {
  const promtool = findTool('promtool');
  if (!promtool) assert.fail('promtool not found: install it with `apt-get install -y prometheus`');
  const cert = makeSelfSignedCert();
  const ok = await startHttpServer((_q, res) => res.end('up'));
  const bad = await startHttpServer((_q, res) => { res.statusCode = 500; res.end('down'); });
  const tls = await startHttpsServer(cert, (_q, res) => res.end('up'));
  const refused = await closedPort();
  const names = ['web-ok', 'web-500', 'web-refused', 'web-tls', 'web-tls-untrusted', 'tcp-ok', 'tcp-refused', 'disk-ok', 'disk-full'];
  const a = await startAgent(`probes:
  - {name: web-ok, type: http, url: "${ok.origin}/", interval: 200ms}
  - {name: web-500, type: http, url: "${bad.origin}/", interval: 200ms}
  - {name: web-refused, type: http, url: "http://127.0.0.1:${refused}/", interval: 200ms}
  - {name: web-tls, type: http, url: "https://localhost:${tls.port}/", interval: 200ms, tls: {ca_file: "${cert.certFile}"}}
  - {name: web-tls-untrusted, type: http, url: "https://localhost:${tls.port}/", interval: 200ms}
  - {name: tcp-ok, type: tcp, address: "127.0.0.1:${ok.port}", interval: 200ms}
  - {name: tcp-refused, type: tcp, address: "127.0.0.1:${refused}", interval: 200ms}
  - {name: disk-ok, type: disk, path: /, interval: 500ms}
  - {name: disk-full, type: disk, path: /, interval: 500ms, min_avail_ratio: 1}
`);
  try {
    await waitUntil('every probe to run', async () => {
      const s = (await a.get('/status')).json();
      return names.every((n) => s.probes[n]?.last_result) ? true : undefined;
    });
    const body = (await a.get('/metrics')).body;
    // The scrape covers what it should before promtool judges it.
    for (const re of [
      /^vigil_probe_success\{probe="web-500",type="http"\} 0$/m,
      /^vigil_http_status_code\{probe="web-500"\} 500$/m,
      /^vigil_tls_cert_expiry_timestamp_seconds\{probe="web-tls"\} \d+$/m,
      /^vigil_probe_failures_total\{probe="web-tls-untrusted",type="http",reason="tls"\} [1-9]/m,
      /^vigil_probe_failures_total\{probe="disk-full",type="disk",reason="threshold"\} [1-9]/m,
      /^vigil_probe_last_failure_info\{probe="tcp-refused",type="tcp",reason="connect_refused"\} 1$/m,
      /^vigil_probe_duration_seconds_bucket\{le="\+Inf",probe="tcp-ok",type="tcp"\} [1-9]/m,
      /^vigil_build_info\{version="test",node_version="v\d+/m,
      /^vigil_scheduler_lateness_seconds_count [1-9]/m,
    ]) assert.match(body, re);
    const r = spawnSync(promtool, ['check', 'metrics'], { input: body, encoding: 'utf8' });
    assert.equal(`${r.stdout}${r.stderr}`, '', 'promtool findings');
    assert.equal(r.status, 0);
  } finally {
    await a.stop();
    await Promise.all([ok.close(), bad.close(), tls.close()]);
    cert.cleanup();
  }
});
