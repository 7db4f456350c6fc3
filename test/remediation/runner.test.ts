// The runner inside a real Agent (real probes against a real HTTP service, a
// real exec action, the journal on disk): state rebuilt from the journal on
// restart, interrupted intents reconciled and never repeated, dry-run,
// maintenance, reload, and every decision visible in metrics, logs and /status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { journalLines, lines, sleep, startAgent, startService, tempDir, waitFor, type RunningAgent, apiProbeYaml } from './agent-helpers.js';

interface Opts { cooldown?: string; dryRun?: boolean; extra?: string; maxActions?: number }

function yaml(dir: string, port: number, o: Opts = {}): string {
  return `agent:
  state_dir: ${dir}/state
  startup_grace: 0s
  dry_run: ${o.dryRun ?? false}
${apiProbeYaml(port)}remediations:
  - name: fix-api
    when: { probe: api, state: critical }
    action: { type: exec, command: [/bin/sh, -c, 'echo "$VIGIL_INTENT_ID $VIGIL_REASON" >> ${dir}/runs; echo "ran $VIGIL_RULE"'] }
    cooldown: ${o.cooldown ?? '30s'}
    grace: 0s
    max_actions: ${o.maxActions ?? 3}
    window: 1h
${o.extra ?? ''}`;
}

const decision = async (a: RunningAgent) => (await a.status()).remediation.rules['fix-api'].last_decision as { kind: string; reason?: string; detail: string } | null;

test('a restarted agent rebuilds cooldown and breaker counts from the journal and does not act again', async () => {
  const { dir, cleanup } = await tempDir('vigil-runner-');
  const svc = await startService();
  svc.mode = 'down';
  let a: RunningAgent | undefined;
  try {
    a = await startAgent(join(dir, 'vigil.yaml'), yaml(dir, svc.port));
    await waitFor('first action', async () => (await lines(join(dir, 'runs'))).length === 1);
    const outcome = await waitFor('outcome journalled', async () => (await journalLines(join(dir, 'state'))).find((r) => r.event === 'outcome'));
    assert.equal(outcome.output, 'ran fix-api\n', 'the runbook\'s output is in the journal');
    await waitFor('cooldown decision', async () => (await decision(a!))?.reason === 'cooldown');
    await sleep(500);
    await a.stop();
    const firstLogs = a.logs;
    assert.equal(firstLogs.filter((l) => /blocked by cooldown/.test(l.msg)).length, 1, 'one log line per decision change, not per probe run');
    // VIGIL_REASON is the probe's failure reason (status, or timeout on a loaded machine), as journalled with the intent.
    const [intentId, reason] = (await lines(join(dir, 'runs')))[0].split(' ');
    const journalled = (await journalLines(join(dir, 'state'))).find((r) => r.id === intentId && r.event === 'intent');
    assert.equal(journalled?.reason, reason);
    assert.ok(['status', 'timeout'].includes(reason), reason);

    a = await startAgent(join(dir, 'vigil.yaml'), yaml(dir, svc.port));
    await waitFor('decision after restart', async () => (await decision(a!))?.reason === 'cooldown');
    await sleep(800);
    assert.equal((await lines(join(dir, 'runs'))).length, 1, 'the restarted agent did not act inside the cooldown');
    const st = (await a.status()).remediation;
    const rule = st.rules['fix-api'];
    assert.equal(rule.breaker.actions_in_window, 1);
    assert.ok(rule.cooldown.until, 'cooldown end is shown');
    assert.equal(rule.last_action.outcome, 'succeeded');
    assert.equal(st.journal.path, join(dir, 'state', 'remediation-journal.jsonl'));
    assert.ok((await a.metric('vigil_remediation_blocked_total', { rule: 'fix-api', action: 'exec', reason: 'cooldown' }))! >= 1);
    assert.equal(await a.metric('vigil_remediation_breaker_open', { rule: 'fix-api' }), 0);
  } finally {
    await a?.stop();
    await svc.close();
    await cleanup();
  }
});

test('an intent without outcome is reconciled and journalled, never repeated; the cooldown counts from the intent', async () => {
  const { dir, cleanup } = await tempDir('vigil-runner-');
  const svc = await startService();
  svc.mode = 'down';
  const state = join(dir, 'state');
  await mkdir(state, { recursive: true });
  const ts = Date.now() - 1000;
  const intent = { v: 1, time: new Date(ts).toISOString(), ts, event: 'intent', id: 'dead-beef', rule: 'fix-api', action: 'exec', target: 'x', scope: 'host', probe: 'api', reason: 'status', forced: false };
  await writeFile(join(state, 'remediation-journal.jsonl'), `${JSON.stringify(intent)}\n`);
  let a: RunningAgent | undefined;
  try {
    a = await startAgent(join(dir, 'vigil.yaml'), yaml(dir, svc.port, { cooldown: '2s' }));
    const out = await waitFor('reconciled outcome', async () => (await journalLines(state)).find((r) => r.event === 'outcome' && r.id === 'dead-beef'));
    assert.equal(out.outcome, 'reconciled_unknown');
    assert.match(String(out.detail), /not repeated/);
    assert.equal(await waitFor('reconciled metric', () => a!.metric('vigil_remediation_reconciled_total', { rule: 'fix-api', outcome: 'reconciled_unknown' })), 1);
    assert.ok(a.logs.some((l) => /an earlier run stopped mid-action; reconciled_unknown/.test(l.msg)));
    // The intent was 1 s ago and the cooldown is 2 s: blocked now, acting only once the cooldown from the intent passed.
    await waitFor('cooldown decision', async () => (await decision(a!))?.reason === 'cooldown');
    assert.equal((await lines(join(dir, 'runs'))).length, 0);
    await waitFor('action after the cooldown', async () => (await lines(join(dir, 'runs'))).length === 1, 5000);
    assert.ok(Date.now() - ts >= 2000);
  } finally {
    await a?.stop();
    await svc.close();
    await cleanup();
  }
});

test('dry_run: goes through every gate, records "would have acted", changes nothing', async () => {
  const { dir, cleanup } = await tempDir('vigil-runner-');
  const svc = await startService();
  svc.mode = 'down';
  let a: RunningAgent | undefined;
  try {
    a = await startAgent(join(dir, 'vigil.yaml'), yaml(dir, svc.port, { dryRun: true }));
    const rec = await waitFor('dry_run record', async () => (await journalLines(join(dir, 'state'))).find((r) => r.event === 'dry_run'));
    assert.match(String(rec.detail), /^dry run: would have acted on \/bin\/sh -c/);
    const d = await waitFor('dry_run decision', async () => { const x = await decision(a!); return x?.kind === 'blocked' ? x : undefined; });
    assert.ok(d.reason === 'dry_run' || d.reason === 'cooldown', `${d.reason}: a dry run counts toward the cooldown too`);
    assert.equal(await a.metric('vigil_remediation_actions_total', { rule: 'fix-api', outcome: 'dry_run' }), 1);
    assert.equal(await a.metric('vigil_remediation_blocked_total', { rule: 'fix-api', reason: 'dry_run' }), 1);
    await sleep(500);
    assert.equal((await lines(join(dir, 'runs'))).length, 0, 'nothing was run');
    assert.equal((await a.status()).remediation.dry_run, true);
  } finally {
    await a?.stop();
    await svc.close();
    await cleanup();
  }
});

test('a maintenance window suppresses actions, not probing', async () => {
  const { dir, cleanup } = await tempDir('vigil-runner-');
  const svc = await startService();
  svc.mode = 'down';
  let a: RunningAgent | undefined;
  try {
    a = await startAgent(join(dir, 'vigil.yaml'), yaml(dir, svc.port, { extra: 'maintenance:\n  - name: always\n    schedule: "* * * * *"\n    duration: 1h\n' }));
    const d = await waitFor('maintenance decision', async () => { const x = await decision(a!); return x?.kind === 'blocked' ? x : undefined; });
    assert.equal(d.reason, 'maintenance');
    assert.match(d.detail, /^maintenance window always \(until /);
    assert.equal(await a.metric('vigil_maintenance_active'), 1);
    const runs = (await a.metric('vigil_probe_runs_total', { probe: 'api', result: 'failure' }))!;
    await sleep(400);
    assert.ok((await a.metric('vigil_probe_runs_total', { probe: 'api', result: 'failure' }))! > runs, 'probes keep running');
    assert.equal((await lines(join(dir, 'runs'))).length, 0);
    assert.equal((await a.status()).remediation.maintenance.active, true);
  } finally {
    await a?.stop();
    await svc.close();
    await cleanup();
  }
});

test('reload swaps rules only after the new config validated', async () => {
  const { dir, cleanup } = await tempDir('vigil-runner-');
  const svc = await startService();
  let a: RunningAgent | undefined;
  try {
    const file = join(dir, 'vigil.yaml');
    a = await startAgent(file, yaml(dir, svc.port));
    await writeFile(file, yaml(dir, svc.port).replace("state: critical", "state: criticle"));
    const bad = await a.agent.reload();
    assert.equal(bad.ok, false);
    assert.deepEqual(Object.keys((await a.status()).remediation.rules), ['fix-api'], 'old rules kept');
    await writeFile(file, yaml(dir, svc.port).replace('name: fix-api', 'name: fix-api-2'));
    assert.equal((await a.agent.reload()).ok, true);
    assert.deepEqual(Object.keys((await a.status()).remediation.rules), ['fix-api-2']);
  } finally {
    await a?.stop();
    await svc.close();
    await cleanup();
  }
});

test('a torn journal line is tolerated and shown in /status and metrics', async () => {
  const { dir, cleanup } = await tempDir('vigil-runner-');
  const svc = await startService();
  const state = join(dir, 'state');
  await mkdir(state, { recursive: true });
  await appendFile(join(state, 'remediation-journal.jsonl'), '{"v":1,"time":"2024-');
  let a: RunningAgent | undefined;
  try {
    a = await startAgent(join(dir, 'vigil.yaml'), yaml(dir, svc.port));
    const j = (await a.status()).remediation.journal;
    assert.equal(j.problems[0].kind, 'torn_line');
    assert.equal(j.size_bytes, 0);
    assert.equal(await a.metric('vigil_remediation_journal_problems_total', { kind: 'torn_line' }), 1);
    assert.ok(a.logs.some((l) => l.level === 40 && /remediation journal: last line .* incomplete/.test(l.msg)));
  } finally {
    await a?.stop();
    await svc.close();
    await cleanup();
  }
});

test('a state_dir the agent cannot create stops the start with VIGIL_E_STATE_DIR and what to do', async () => {
  const { dir, cleanup } = await tempDir('vigil-runner-');
  try {
    await writeFile(join(dir, 'not-a-dir'), '');
    const text = yaml(dir, 1).replace(`state_dir: ${dir}/state`, `state_dir: ${dir}/not-a-dir/state`);
    await assert.rejects(startAgent(join(dir, 'vigil.yaml'), text), (err: Error) => {
      assert.match(err.message, /^VIGIL_E_STATE_DIR: cannot open the remediation journal in .*not-a-dir\/state \(ENOTDIR.*\); create the directory writable by the agent or set agent.state_dir$/);
      return true;
    });
  } finally {
    await cleanup();
  }
});

test('an action\'s precheck refusal blocks with its reason and detail, and stands for precheck_retry', async () => {
  const { dir, cleanup } = await tempDir('vigil-runner-');
  const svc = await startService();
  svc.mode = 'down';
  let a: RunningAgent | undefined;
  try {
    const text = yaml(dir, svc.port).replace(
      "action: { type: exec, command: [/bin/sh, -c, 'echo \"$VIGIL_INTENT_ID $VIGIL_REASON\" >> " + dir + "/runs; echo \"ran $VIGIL_RULE\"'] }",
      `action: { type: exec, command: [/bin/true], precheck_command: [/bin/sh, -c, 'echo x >> ${dir}/prechecks; echo standby is down; exit 1'] }\n    precheck_retry: 1s`);
    assert.match(text, /precheck_retry: 1s/);
    a = await startAgent(join(dir, 'vigil.yaml'), text);
    const d = await waitFor('precheck refusal', async () => { const x = await decision(a!); return x?.reason === 'precheck_failed' ? x : undefined; });
    assert.equal(d.detail.split(' (checked at')[0], 'precheck_command: sh exited with code 1: standby is down');
    await sleep(1500); // ~15 probe runs, the refusal stands 1 s at a time
    const asked = (await lines(join(dir, 'prechecks'))).length;
    assert.ok(asked >= 2 && asked <= 3, `precheck asked ${asked} times in ~1.5 s`);
    assert.ok((await a.metric('vigil_remediation_blocked_total', { rule: 'fix-api', reason: 'precheck_failed' }))! > asked, 'every blocked decision counted');
    const refusal = (await a.status()).remediation.rules['fix-api'].last_precheck_refusal;
    assert.equal(refusal.reason, 'precheck_failed');
    assert.deepEqual(await journalLines(join(dir, 'state')), [], 'no intent without a passed precheck');
  } finally {
    await a?.stop();
    await svc.close();
    await cleanup();
  }
});
