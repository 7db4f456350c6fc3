// Status page render cost at 1000 probes (issue 13): a real agent in this
// process with 1000 probes and 20 dry-run remediation rules, each probe's
// history filled (60 runs; 5% of the probes failing, the rest passing with
// the odd failure), then the page rendered from the /status document again
// and again. Prints ms per render (document + HTML, p50 / p95 / max), the
// page's size raw and gzipped, and /status's size for comparison. Not a test.
//
//   node --import tsx bench/status-page.ts [renders=200] [probes=1000]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { startAgent } from '../test/helpers/agent.js';
import { closedPort } from '../test/helpers/servers.js';
import { statusDocument } from '../src/server/status-document.js';
import { statusPageHtml } from '../src/server/routes/page.js';
import type { ProbeResult } from '../src/probes/types.js';

const renders = Number(process.argv[2] ?? 200);
const count = Number(process.argv[3] ?? 1000);
const RULES = 20;
const RUNS = 60;

const port = await closedPort();
// interval 1h: the first runs are staggered over the hour, so the scheduler stays out of the measurement.
const probes = Array.from({ length: count }, (_, i) => `  - { name: p${String(i).padStart(4, '0')}, type: tcp, address: "127.0.0.1:${port}", interval: 1h }`).join('\n');
const rules = Array.from({ length: RULES }, (_, i) => `  - { name: rule-${i}, when: { probe: p${String(i * 50).padStart(4, '0')} }, action: { type: exec, command: [/bin/true] } }`).join('\n');
const stateDir = mkdtempSync(join(tmpdir(), 'vigil-bench-page-'));
const a = await startAgent(`agent:\n  dry_run: true\n  startup_grace: 0s\n  state_dir: ${stateDir}\nprobes:\n${probes}\nremediations:\n${rules}\n`);
try {
  const t0 = Date.now() - RUNS * 1000;
  for (let i = 0; i < count; i++) {
    const name = `p${String(i).padStart(4, '0')}`;
    const failing = i % 20 === 0;
    for (let r = 0; r < RUNS; r++) {
      const ok = failing ? r < RUNS / 2 : r % 17 !== 5;
      const result: ProbeResult = ok
        ? { ok, message: `connected to 127.0.0.1:${port}`, durationSeconds: 0.0004, observations: [] }
        : { ok, reason: 'connect_refused', message: `connect to 127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`, durationSeconds: 0.0006, observations: [] };
      const change = a.agent.status.record(name, result, t0 + r * 1000);
      if (change) a.agent.remediation.onResult(change, result);
    }
  }
  const render = () => statusPageHtml(a.agent, undefined);
  for (let i = 0; i < 20; i++) render(); // warm-up: JIT
  const ms: number[] = [];
  let html = '';
  for (let i = 0; i < renders; i++) {
    const s = performance.now();
    html = render();
    ms.push(performance.now() - s);
  }
  ms.sort((x, y) => x - y);
  const q = (p: number) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))].toFixed(1);
  const docOnly: number[] = [];
  for (let i = 0; i < 50; i++) { const s = performance.now(); statusDocument(a.agent, { historyLimit: 20 }); docOnly.push(performance.now() - s); }
  const full: number[] = [];
  for (let i = 0; i < 20; i++) { const s = performance.now(); JSON.stringify(statusDocument(a.agent)); full.push(performance.now() - s); }
  full.sort((x, y) => x - y);
  docOnly.sort((x, y) => x - y);
  const bytes = Buffer.byteLength(html);
  const status = (await a.get('/status')).body;
  const served = await a.get('/');
  const zipped = await fetch(`${a.url}/`, { headers: { 'accept-encoding': 'gzip' } });
  await zipped.arrayBuffer();
  process.stdout.write(`${count} probes (${count / 20} failing), ${RULES} rules, ${RUNS} runs of history each; ${renders} renders\n`
    + `  render (document + HTML): p50 ${q(0.5)} ms, p95 ${q(0.95)} ms, max ${ms[ms.length - 1].toFixed(1)} ms\n`
    + `  of which the document (20 runs of history per probe): p50 ${docOnly[25].toFixed(1)} ms; GET /status's whole document + JSON: p50 ${full[10].toFixed(1)} ms\n`
    + `  page: ${(bytes / 1024).toFixed(0)} KiB raw, ${(gzipSync(html).length / 1024).toFixed(0)} KiB gzipped; GET / answered ${served.status} with ${(Buffer.byteLength(served.body) / 1024).toFixed(0)} KiB (content-encoding ${zipped.headers.get('content-encoding') ?? 'none'} when asked for gzip)\n`
    + `  /status JSON for comparison: ${(Buffer.byteLength(status) / 1024).toFixed(0)} KiB\n`);
} finally {
  await a.stop();
  rmSync(stateDir, { recursive: true, force: true });
}
