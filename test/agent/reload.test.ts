// Reload: validate first, swap only on success. Through POST /-/reload on an
// in-process agent, and through SIGHUP to a real `vigil run` subprocess.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { fetchText, spawnVigil, startAgent, tempDir } from '../helpers/agent.js';
import { freePort, startHttpServer } from '../helpers/servers.js';
import { waitUntil } from '../helpers/wait.js';

function metric(body: string, series: string): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}
const runsOf = (body: string, probe: string, type: string) =>
  (metric(body, `vigil_probe_runs_total{probe="${probe}",type="${type}",result="success"}`) ?? 0)
  + (metric(body, `vigil_probe_runs_total{probe="${probe}",type="${type}",result="failure"}`) ?? 0);

const probesYaml = (origin: string, names: string[]) => `probes:\n${names.map((n) => `  - name: ${n}
    type: http
    url: ${origin}/${n}
    interval: 100ms
`).join('')}`;

test('POST /-/reload: a valid file swaps, an invalid one keeps the old config running', async () => {
  const target = await startHttpServer((_q, res) => res.end('ok'));
  const a = await startAgent(probesYaml(target.origin, ['a']));
  try {
    await waitUntil('a to pass', async () => (await a.get('/status')).json().probes.a?.state === 'passing');
    let m = (await a.get('/metrics')).body;
    assert.equal(metric(m, 'vigil_config_last_reload_successful'), 1);
    const firstOk = metric(m, 'vigil_config_last_reload_success_timestamp_seconds')!;

    // Valid: b added, a unchanged (kept, with its health and history).
    a.writeConfig(probesYaml(target.origin, ['a', 'b']));
    const historyBefore = (await a.get('/status')).json().probes.a.history.length;
    let r = await a.post('/-/reload');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json(), { ok: true, added: ['b'], changed: [], removed: [], restart_needed: [] });
    let s = (await a.get('/status')).json();
    assert.equal(s.probes.a.state, 'passing');
    assert.ok(s.probes.a.history.length >= historyBefore);
    await waitUntil('b to pass', async () => (await a.get('/status')).json().probes.b?.state === 'passing');
    m = (await a.get('/metrics')).body;
    assert.equal(metric(m, 'vigil_config_last_reload_successful'), 1);
    assert.ok(metric(m, 'vigil_config_last_reload_success_timestamp_seconds')! >= firstOk);

    // Invalid: 400 with the problems, metric 0, both probes keep running.
    a.writeConfig(`${probesYaml(target.origin, ['a'])}    timeout: 5s\n`);
    r = await a.post('/-/reload');
    assert.equal(r.status, 400);
    assert.deepEqual(r.json(), { ok: false, problems: [{ path: 'probes[0].timeout', line: 6, message: 'must be shorter than interval 100ms' }] });
    m = (await a.get('/metrics')).body;
    assert.equal(metric(m, 'vigil_config_last_reload_successful'), 0);
    s = (await a.get('/status')).json();
    assert.equal(s.agent.last_reload.successful, false);
    assert.deepEqual(s.agent.last_reload.problems, [{ path: 'probes[0].timeout', line: 6, message: 'must be shorter than interval 100ms' }]);
    assert.deepEqual(Object.keys(s.probes).sort(), ['a', 'b']);
    const before = { a: runsOf(m, 'a', 'http'), b: runsOf(m, 'b', 'http') };
    await waitUntil('old probes to keep running', async () => {
      const now = (await a.get('/metrics')).body;
      return runsOf(now, 'a', 'http') >= before.a + 3 && runsOf(now, 'b', 'http') >= before.b + 3;
    });
    assert.ok(a.logs.some((l) => l.msg === 'config reload failed; the previous config keeps running'));

    // A missing file is just another invalid config.
    a.writeConfig('');
    r = await a.post('/-/reload');
    assert.equal(r.status, 400);

    // Valid again, with b removed: its series leave /metrics and /status.
    a.writeConfig(probesYaml(target.origin, ['a']));
    r = await a.post('/-/reload');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json(), { ok: true, added: [], changed: [], removed: ['b'], restart_needed: [] });
    m = (await a.get('/metrics')).body;
    assert.equal(metric(m, 'vigil_config_last_reload_successful'), 1);
    assert.doesNotMatch(m, /probe="b"/);
    s = (await a.get('/status')).json();
    assert.deepEqual(Object.keys(s.probes), ['a']);
    assert.equal(s.agent.last_reload.successful, true);
  } finally {
    await a.stop();
    await target.close();
  }
});

test('a changed probe is reported as changed and keeps its health and history; its health starts again only when its type changes', async () => {
  const target = await startHttpServer((_q, res) => res.end('ok'));
  const a = await startAgent(probesYaml(target.origin, ['a']));
  try {
    await waitUntil('a to pass', async () => (await a.get('/status')).json().probes.a?.state === 'passing');
    a.writeConfig(probesYaml(target.origin, ['a']).replace('interval: 100ms', 'interval: 150ms'));
    const before = (await a.get('/status')).json().probes.a;
    const r = await a.post('/-/reload');
    assert.deepEqual(r.json(), { ok: true, added: [], changed: ['a'], removed: [], restart_needed: [] });
    const after = (await a.get('/status')).json().probes.a;
    assert.equal(after.state, 'passing');
    assert.equal(after.last_change, before.last_change, 'the same passing run, not a new one');
    assert.ok(after.history.length >= before.history.length, 'history kept');
    assert.ok(a.logs.some((l) => l.msg === 'config reloaded' && JSON.stringify(l.changed) === '["a"]'));
    a.writeConfig(`probes:\n  - {name: a, type: disk, path: /, interval: 100ms}\n`);
    assert.deepEqual((await a.post('/-/reload')).json(), { ok: true, added: ['a'], changed: [], removed: ['a'], restart_needed: [] });
    const s = (await a.get('/status')).json();
    assert.equal(s.probes.a.type, 'disk');
    const m = (await a.get('/metrics')).body;
    assert.doesNotMatch(m, /probe="a",type="http"/);
  } finally {
    await a.stop();
    await target.close();
  }
});

test('a probe whose type changes keeps its probe-level series (state, skipped) from the moment it is reloaded', async () => {
  const target = await startHttpServer((_q, res) => res.end('ok'));
  const a = await startAgent(probesYaml(target.origin, ['a']));
  try {
    await waitUntil('a to pass', async () => (await a.get('/status')).json().probes.a?.state === 'passing');
    // interval 1h: the replacement's first run is staggered far away, so what
    // /metrics shows right after the reload is what registration left.
    a.writeConfig('probes:\n  - {name: a, type: tcp, address: "127.0.0.1:1", interval: 1h}\n');
    assert.deepEqual((await a.post('/-/reload')).json(), { ok: true, added: ['a'], changed: [], removed: ['a'], restart_needed: [] });
    const m = (await a.get('/metrics')).body;
    assert.equal(metric(m, 'vigil_probe_state{probe="a",state="unknown"}'), 1);
    assert.equal(metric(m, 'vigil_probe_consecutive_failures{probe="a"}'), 0);
    assert.equal(metric(m, 'vigil_probe_skipped_total{probe="a"}'), 0);
    assert.equal(metric(m, 'vigil_probe_runs_total{probe="a",type="tcp",result="success"}'), 0);
    assert.doesNotMatch(m, /probe="a",type="http"/);
    assert.doesNotMatch(m, /^vigil_http_status_code\{probe="a"\}/m, 'the old http probe\'s observation is gone');
  } finally {
    await a.stop();
    await target.close();
  }
});

test('SIGHUP to a real vigil process: valid then invalid file; old probes keep running; metric 1/0', async () => {
  const target = await startHttpServer((_q, res) => res.end('ok'));
  const { dir, cleanup } = tempDir();
  const port = await freePort();
  const file = join(dir, 'vigil.yaml');
  const header = `agent:\n  listen: 127.0.0.1:${port}\n  log_level: info\n`;
  writeFileSync(file, header + probesYaml(target.origin, ['a']));
  const vigil = spawnVigil(['run', '--config', file]);
  try {
    await vigil.waitForLog('the agent to start', (l) => typeof l.msg === 'string' && l.msg.includes(' running 1 probes'));
    const base = `http://127.0.0.1:${port}`;
    const metrics = async () => (await fetchText(`${base}/metrics`)).body;
    await waitUntil('a to run', async () => runsOf(await metrics(), 'a', 'http') >= 1);

    writeFileSync(file, header + probesYaml(target.origin, ['a', 'b']));
    vigil.kill('SIGHUP');
    await vigil.waitForLog('the reload', (l) => l.msg === 'config reloaded');
    await waitUntil('b to run', async () => runsOf(await metrics(), 'b', 'http') >= 1);
    assert.equal(metric(await metrics(), 'vigil_config_last_reload_successful'), 1);

    writeFileSync(file, `${header}probes: [ {name: a, type: http}\n`);
    vigil.kill('SIGHUP');
    const failed = await vigil.waitForLog('the failed reload', (l) => l.msg === 'config reload failed; the previous config keeps running');
    assert.equal(failed.level, 50);
    assert.match(JSON.stringify(failed.problems), /YAML syntax error/);
    let m = await metrics();
    assert.equal(metric(m, 'vigil_config_last_reload_successful'), 0);
    const before = { a: runsOf(m, 'a', 'http'), b: runsOf(m, 'b', 'http') };
    await waitUntil('old probes to keep running', async () => {
      m = await metrics();
      return runsOf(m, 'a', 'http') >= before.a + 3 && runsOf(m, 'b', 'http') >= before.b + 3;
    });
    assert.equal(vigil.child.exitCode, null, 'the agent must still run');

    writeFileSync(file, header + probesYaml(target.origin, ['a']));
    vigil.kill('SIGHUP');
    await waitUntil('metric back to 1', async () => metric(await metrics(), 'vigil_config_last_reload_successful') === 1);
    vigil.kill('SIGTERM');
    assert.equal(await vigil.exited, 0);
    assert.equal(vigil.stderr(), '');
  } finally {
    vigil.kill('SIGKILL');
    cleanup();
    await target.close();
  }
});
