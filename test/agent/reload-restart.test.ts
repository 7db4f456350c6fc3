// A reload applies what it can and says what it cannot: admin: added, moved
// or removed takes effect at once; coordination, agent.listen and a moved
// state_dir wait for a restart, and the reload's answer, its log and /status
// say so (also after a later reload).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAgent } from '../helpers/agent.js';
import { freePort } from '../harness/ports.js';
import { restartNeeded } from '../../src/restart-needed.js';
import { parseConfigText } from '../../src/config/load.js';
import { Agent } from '../../src/agent.js';

const TOKEN = 'reload-admin-token-0123456789abcdef';
const probe = (interval = '1s') => `probes:\n  - { name: root, type: disk, path: /, interval: ${interval} }\n`;

async function adminStatus(url: string | undefined): Promise<number | string> {
  if (!url) return 'no address';
  try {
    return (await fetch(`${url}/v1/remediation`, { headers: { authorization: `Bearer ${TOKEN}` } })).status;
  } catch (err) {
    return (err as { cause?: { code?: string } }).cause?.code ?? 'error';
  }
}

test('admin: added on reload starts the admin API, a new listen moves it, removing token_file stops it; each said in the log', async () => {
  const a = await startAgent(probe());
  const tokenFile = join(a.dir, 'token');
  writeFileSync(tokenFile, TOKEN, { mode: 0o600 });
  try {
    assert.equal(a.agent.adminAddress, undefined);
    const [p1, p2] = [await freePort(), await freePort()];
    a.writeConfig(`${probe()}admin:\n  listen: 127.0.0.1:${p1}\n  token_file: ${tokenFile}\n`);
    let r = (await a.post('/-/reload')).json();
    assert.deepEqual(r.restart_needed, []);
    assert.equal(a.agent.adminAddress, `http://127.0.0.1:${p1}`);
    assert.equal(await adminStatus(a.agent.adminAddress), 200);
    assert.equal((await a.get('/status')).json().remediation.admin.listening, `http://127.0.0.1:${p1}`);

    a.writeConfig(`${probe()}admin:\n  listen: 127.0.0.1:${p2}\n  token_file: ${tokenFile}\n`);
    r = (await a.post('/-/reload')).json();
    assert.deepEqual(r.restart_needed, []);
    assert.equal(await adminStatus(`http://127.0.0.1:${p1}`), 'ECONNREFUSED', 'the old listener is closed');
    assert.equal(await adminStatus(`http://127.0.0.1:${p2}`), 200);
    assert.ok(a.logs.some((l) => l.msg === 'admin API moving to a new admin.listen'));

    a.writeConfig(probe());
    r = (await a.post('/-/reload')).json();
    assert.equal(r.ok, true);
    assert.equal(await adminStatus(`http://127.0.0.1:${p2}`), 'ECONNREFUSED');
    assert.equal((await a.get('/status')).json().remediation.admin.listening, null);
    assert.ok(a.logs.some((l) => l.msg === 'admin API stopped: admin.token_file is no longer set'));
  } finally {
    await a.stop();
  }
});

test('an admin.listen that cannot be bound: the reload says so, the rest applies', async () => {
  const a = await startAgent(probe());
  const tokenFile = join(a.dir, 'token');
  writeFileSync(tokenFile, TOKEN, { mode: 0o600 });
  try {
    const taken = new URL(a.url).port; // the agent's own listener
    a.writeConfig(`${probe('2s')}admin:\n  listen: 127.0.0.1:${taken}\n  token_file: ${tokenFile}\n`);
    const r = (await a.post('/-/reload')).json();
    assert.equal(r.ok, true);
    assert.deepEqual(r.changed, ['root']);
    assert.deepEqual(r.restart_needed, [`admin.listen 127.0.0.1:${taken}: cannot listen (EADDRINUSE); the admin API is off until that is fixed and the config reloaded`]);
  } finally {
    await a.stop();
  }
});

test('coordination added on reload needs a restart: said in the answer, the log and /status, and still after a later reload', async () => {
  const a = await startAgent(probe());
  try {
    const coord = 'coordination:\n  etcd: { endpoints: ["127.0.0.1:2379"] }\n  member_name: m1\n';
    a.writeConfig(probe() + coord);
    let r = (await a.post('/-/reload')).json();
    const why = 'coordination: etcd and member settings take effect after a restart';
    assert.deepEqual(r, { ok: true, added: [], changed: [], removed: [], restart_needed: [why] });
    assert.ok(a.logs.some((l) => l.msg === `config reloaded, but not all of it: ${why}` && l.level === 40));
    const s = (await a.get('/status')).json();
    assert.deepEqual(s.agent.last_reload.restart_needed, [why]);
    assert.equal(s.verdict.level, 'warning');
    assert.ok(s.verdict.problems.includes(`not applied by the last reload: ${why}`));
    assert.match((await a.get('/')).body, /waiting for a restart:<\/strong> coordination: etcd and member settings take effect after a restart/);
    // A later reload of something else: the running agent still has no coordination.
    a.writeConfig(probe('2s') + coord);
    r = (await a.post('/-/reload')).json();
    assert.deepEqual(r.restart_needed, [why]);
    // A failed reload keeps the last successful one's list: that config is what runs.
    a.writeConfig('probes: [\n');
    assert.equal((await a.post('/-/reload')).status, 400);
    assert.deepEqual((await a.get('/status')).json().agent.last_reload.restart_needed, [why]);
    // Back to what runs: nothing waits for a restart.
    a.writeConfig(probe());
    assert.deepEqual((await a.post('/-/reload')).json().restart_needed, []);
  } finally {
    await a.stop();
  }
});

test('restartNeeded: agent.listen, coordination, groups without coordination, a moved journal', () => {
  const cfg = (yaml: string) => {
    const r = parseConfigText(yaml, Agent.loadOptions({}));
    assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
    return r.config;
  };
  const base = cfg(`agent: { listen: "127.0.0.1:9817", state_dir: /var/lib/vigil }\n${probe()}`);
  const running = { listen: base.agent.listen, coordination: undefined, coordinates: false, journalDir: '/var/lib/vigil' };
  assert.deepEqual(restartNeeded(running, base), []);
  const next = cfg(`agent: { listen: "127.0.0.1:9900", state_dir: /srv/vigil }\n${probe()}groups: []\n`);
  assert.deepEqual(restartNeeded(running, next), [
    'agent.listen: still 127.0.0.1:9817 until a restart (the file says 127.0.0.1:9900)',
    'agent.state_dir: the journal stays in /var/lib/vigil until a restart',
  ]);
  assert.deepEqual(restartNeeded({ ...running, journalDir: undefined }, next).length, 1, 'no journal open yet: a new state_dir applies');
});
