// The admin API on its own listener with a real agent: 401 and no change
// without the token, pause/resume (journalled, survives a restart), breaker
// reset, run now with and without force, disabled without a token file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { journalLines, lines, sleep, startAgent, startService, tempDir, waitFor, type RunningAgent, apiProbeYaml } from './agent-helpers.js';

const TOKEN = 'f'.repeat(48);

function yaml(dir: string, port: number, admin = true): string {
  return `agent:
  state_dir: ${dir}/state
  startup_grace: 0s
${apiProbeYaml(port)}remediations:
  - name: fix-api
    when: { probe: api }
    action: { type: exec, command: [/bin/sh, -c, 'echo run >> ${dir}/runs'] }
    cooldown: 1h
    grace: 0s
    max_actions: 1
    window: 1h
${admin ? `admin:\n  listen: 127.0.0.1:0\n  token_file: ${dir}/token\n` : ''}`;
}

/** `token: null` sends no Authorization header at all. */
async function call(a: RunningAgent, method: string, path: string, token: string | null = TOKEN) {
  const res = await fetch(`${a.agent.adminAddress}${path}`, { method, headers: token === null ? {} : { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json() as Record<string, any>, headers: res.headers }; // eslint-disable-line @typescript-eslint/no-explicit-any
}

test('admin API: no token or a wrong one gets 401 and changes nothing; the token is never logged', async () => {
  const { dir, cleanup } = await tempDir('vigil-admin-');
  const svc = await startService();
  await writeFile(join(dir, 'token'), `${TOKEN}\n`);
  let a: RunningAgent | undefined;
  try {
    a = await startAgent(join(dir, 'vigil.yaml'), yaml(dir, svc.port));
    assert.match(a.agent.adminAddress ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(a.agent.adminAddress, a.url, 'a separate listener');
    for (const [token, path] of [[null, '/v1/remediation/pause'], ['wrong', '/v1/remediation/pause'], [TOKEN.slice(1), '/v1/remediation/rules/fix-api/run?force=true'],
      [null, '/v1/remediation/rules/fix-api/reset'], [null, '/nope']] as const) {
      const r = await call(a, 'POST', path, token);
      assert.equal(r.status, 401, `${path} with ${token}`);
      assert.equal(r.body.code, 'VIGIL_E_ADMIN_UNAUTHORIZED');
      assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="vigil-admin"');
    }
    assert.equal((await call(a, 'GET', '/v1/remediation', null)).status, 401);
    assert.equal(await a.metric('vigil_remediation_paused'), 0);
    assert.equal((await lines(join(dir, 'runs'))).length, 0);
    assert.deepEqual(await journalLines(join(dir, 'state')), [], 'nothing journalled');
    assert.ok(a.logs.filter((l) => /without a valid token refused/.test(l.msg)).length >= 6);
    assert.ok(!JSON.stringify(a.logs).includes(TOKEN) && !JSON.stringify(await a.status()).includes(TOKEN));
  } finally {
    await a?.stop();
    await svc.close();
    await cleanup();
  }
});

test('admin API: pause blocks every rule (and survives a restart), resume lifts it', async () => {
  const { dir, cleanup } = await tempDir('vigil-admin-');
  const svc = await startService();
  await writeFile(join(dir, 'token'), TOKEN);
  let a: RunningAgent | undefined;
  try {
    a = await startAgent(join(dir, 'vigil.yaml'), yaml(dir, svc.port));
    const p = await call(a, 'POST', '/v1/remediation/pause?note=db%20migration');
    assert.equal(p.status, 200);
    assert.equal(p.body.paused, true);
    assert.equal(p.body.note, 'db migration');
    assert.equal(await a.metric('vigil_remediation_paused'), 1);
    svc.mode = 'down';
    const d = await waitFor('paused decision', async () => { const x = (await a!.status()).remediation.rules['fix-api'].last_decision; return x?.kind === 'blocked' ? x : undefined; });
    assert.equal(d.reason, 'paused');
    assert.match(d.detail, /an operator paused all remediation/);
    await a.stop();

    a = await startAgent(join(dir, 'vigil.yaml'), yaml(dir, svc.port));
    assert.equal(await a.metric('vigil_remediation_paused'), 1, 'a pause survives an agent restart');
    assert.equal((await call(a, 'GET', '/v1/remediation')).body.paused.note, 'db migration');
    await sleep(400);
    assert.equal((await lines(join(dir, 'runs'))).length, 0);
    assert.equal((await call(a, 'POST', '/v1/remediation/resume')).body.paused, false);
    await waitFor('action after resume', async () => (await lines(join(dir, 'runs'))).length === 1);
    await waitFor('outcome journalled', async () => (await journalLines(join(dir, 'state'))).some((x) => x.event === 'outcome'));
    assert.deepEqual((await journalLines(join(dir, 'state'))).map((r) => r.event), ['pause', 'resume', 'intent', 'outcome']);
  } finally {
    await a?.stop();
    await svc.close();
    await cleanup();
  }
});

test('admin API: run now respects every gate unless force; reset closes the breaker', async () => {
  const { dir, cleanup } = await tempDir('vigil-admin-');
  const svc = await startService(); // healthy: the rule's condition is not met
  await writeFile(join(dir, 'token'), TOKEN);
  let a: RunningAgent | undefined;
  try {
    a = await startAgent(join(dir, 'vigil.yaml'), yaml(dir, svc.port));
    await waitFor('a fresh probe result', async () => (await a!.status()).probes.api.last_result);
    let r = await call(a, 'POST', '/v1/remediation/rules/fix-api/run');
    assert.equal(r.status, 200);
    assert.equal(r.body.acted, true, JSON.stringify(r.body));
    assert.equal(r.body.outcome, 'succeeded');
    assert.equal((await lines(join(dir, 'runs'))).length, 1);
    // max_actions 1: the breaker is open now, and the cooldown runs too; breaker comes first in the gate order.
    r = await call(a, 'POST', '/v1/remediation/rules/fix-api/run');
    assert.deepEqual([r.body.acted, r.body.decision.kind, r.body.decision.reason], [false, 'blocked', 'breaker_open']);
    assert.equal(await a.metric('vigil_remediation_breaker_open', { rule: 'fix-api' }), 1);
    r = await call(a, 'POST', '/v1/remediation/rules/fix-api/reset');
    assert.deepEqual(r.body, { rule: 'fix-api', breaker: 'reset' });
    assert.equal(await a.metric('vigil_remediation_breaker_open', { rule: 'fix-api' }), 0);
    r = await call(a, 'POST', '/v1/remediation/rules/fix-api/run');
    assert.equal(r.body.decision.reason, 'cooldown', 'the reset closed the breaker; the cooldown still holds');
    r = await call(a, 'POST', '/v1/remediation/rules/fix-api/run?force=true');
    assert.equal(r.body.acted, true);
    assert.equal((await lines(join(dir, 'runs'))).length, 2);
    const intents = (await journalLines(join(dir, 'state'))).filter((x) => x.event === 'intent');
    assert.deepEqual(intents.map((x) => [x.reason, x.forced]).slice(0, 2), [['manual', false], ['manual', true]]);
    // force does not lift an operator's pause unless it says so.
    await call(a, 'POST', '/v1/remediation/pause');
    r = await call(a, 'POST', '/v1/remediation/rules/fix-api/run?force=true');
    assert.deepEqual([r.body.acted, r.body.decision.reason], [false, 'paused']);
    assert.match(r.body.decision.detail, /add override=paused/);
    assert.equal((await call(a, 'POST', '/v1/remediation/rules/fix-api/run?force=true&override=nap')).status, 400);
    r = await call(a, 'POST', '/v1/remediation/rules/fix-api/run?force=true&override=paused');
    assert.equal(r.body.acted, true, JSON.stringify(r.body));
    await call(a, 'POST', '/v1/remediation/resume');
    assert.equal((await lines(join(dir, 'runs'))).length, 3);
    assert.equal((await call(a, 'POST', '/v1/remediation/rules/nope/run')).status, 404);
    assert.equal((await call(a, 'POST', '/v1/remediation/rules/nope/reset')).body.code, 'VIGIL_E_ADMIN_NO_RULE');
    const st = (await call(a, 'GET', '/v1/remediation')).body;
    assert.equal(st.rules['fix-api'].last_action.forced, true);
    assert.equal(st.admin.listening, a.agent.adminAddress);
  } finally {
    await a?.stop();
    await svc.close();
    await cleanup();
  }
});

test('admin API: disabled without a token file', async () => {
  const { dir, cleanup } = await tempDir('vigil-admin-');
  const svc = await startService();
  let a: RunningAgent | undefined;
  try {
    a = await startAgent(join(dir, 'vigil.yaml'), `${yaml(dir, svc.port, false)}admin:\n  listen: 127.0.0.1:0\n`);
    assert.equal(a.agent.adminAddress, undefined);
    assert.ok(a.logs.some((l) => /admin API disabled: admin.token_file is not set/.test(l.msg)));
    assert.equal((await a.status()).remediation.admin.listening, null);
  } finally {
    await a?.stop();
    await svc.close();
    await cleanup();
  }
});
