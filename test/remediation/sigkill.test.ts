// The agent (`node --import tsx src/bin.ts run`) is SIGKILLed right after it
// journalled an intent, while its action runs. The restarted agent finds the
// intent without an outcome, asks the world (reconcile_command), journals the
// answer, and does not run the action again inside the cooldown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { openSync, closeSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { freePort } from '../harness/ports.js';
import { journalLines, lines, sleep, startService, tempDir, waitFor, apiProbeYaml } from './agent-helpers.js';

const REPO = resolve(import.meta.dirname, '../..');

function runAgent(config: string, logFile: string): ChildProcess {
  const out = openSync(logFile, 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/bin.ts', 'run', '--config', config], { cwd: REPO, stdio: ['ignore', out, out] });
  closeSync(out);
  return child;
}

test('SIGKILL right after the intent is journalled: the restarted agent reconciles and does not repeat the action', async () => {
  const { dir, cleanup } = await tempDir('vigil-sigkill-');
  const svc = await startService();
  svc.mode = 'down';
  const state = join(dir, 'state');
  const runs = join(dir, 'runs');
  const agents: ChildProcess[] = [];
  const runbookPids: number[] = [];
  try {
    const port = await freePort();
    const config = join(dir, 'vigil.yaml');
    // The runbook records itself, then takes a while: the agent is killed while it runs.
    await writeFile(config, `agent:
  listen: 127.0.0.1:${port}
  state_dir: ${state}
  startup_grace: 0s
${apiProbeYaml(svc.port)}remediations:
  - name: fix-api
    when: { probe: api, state: critical }
    action:
      type: exec
      command: [/bin/sh, -c, 'echo "$VIGIL_INTENT_ID $$" >> ${runs}; sleep 2']
      reconcile_command: [/bin/sh, -c, 'grep -qs "^$VIGIL_INTENT_ID " ${runs} || exit 1']
    cooldown: 1h
    grace: 0s
`);
    const first = runAgent(config, join(dir, 'agent1.log'));
    agents.push(first);
    const intent = await waitFor('an intent in the journal', async () => (await journalLines(state)).find((r) => r.event === 'intent'), 20_000);
    first.kill('SIGKILL');
    const [, signal] = await once(first, 'exit');
    assert.equal(signal, 'SIGKILL');
    let journal = await journalLines(state);
    assert.deepEqual(journal.map((r) => r.event), ['intent'], 'killed before any outcome was written');

    // The runbook may or may not have started before the kill; what it did is what reconcile must find.
    await sleep(300);
    const ranBefore = await lines(runs);
    for (const l of ranBefore) runbookPids.push(Number(l.split(' ')[1]));
    assert.ok(ranBefore.length <= 1);

    const second = runAgent(config, join(dir, 'agent2.log'));
    agents.push(second);
    const out = await waitFor('the reconciled outcome', async () => (await journalLines(state)).find((r) => r.event === 'outcome'), 20_000);
    assert.equal(out.id, intent.id);
    console.log(`# killed ${ranBefore.length ? 'after' : 'before'} the runbook started; the restarted agent journalled ${out.outcome}`);
    assert.equal(out.outcome, ranBefore.length === 1 ? 'reconciled_succeeded' : 'reconciled_failed', String(out.detail));
    const status = await waitFor('a cooldown decision', async () => {
      const s = await fetch(`http://127.0.0.1:${port}/status`).then((r) => r.json() as Promise<{ remediation: { rules: Record<string, { last_decision?: { reason?: string } }> } }>).catch(() => undefined);
      return s?.remediation.rules['fix-api'].last_decision?.reason === 'cooldown' ? s : undefined;
    }, 20_000);
    assert.ok(status);
    await sleep(1500); // the probe keeps failing all along
    journal = await journalLines(state);
    assert.deepEqual(journal.map((r) => r.event), ['intent', 'outcome'], 'no second intent');
    assert.deepEqual(await lines(runs), ranBefore, 'the action was not run again');
    const metrics = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
    assert.match(metrics, new RegExp(`vigil_remediation_reconciled_total\\{rule="fix-api",action="exec",outcome="${out.outcome}"\\} 1`));
    second.kill('SIGTERM');
    const [code] = await once(second, 'exit');
    assert.equal(code, 0);
  } finally {
    for (const a of agents) if (a.exitCode === null && a.signalCode === null) a.kill('SIGKILL');
    for (const pid of runbookPids) { try { process.kill(-pid, 'SIGKILL'); } catch { /* finished */ } }
    await svc.close();
    await cleanup();
  }
});
