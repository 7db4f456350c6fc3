// A failed action says why where an operator looks first: the runbook's last
// output lines are in the error log line and in /status last_action.detail
// (not only in the journal), and still there after the agent restarts (the
// detail is rebuilt from the journal's outcome record).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closedPort } from '../helpers/servers.js';
import { startAgent, tempDir } from '../helpers/agent.js';
import { waitUntil } from '../helpers/wait.js';

test('a failed runbook\'s stderr tail is in the log line and in /status last_action, also after a restart', async () => {
  const { dir, cleanup } = tempDir('vigil-action-detail-');
  const port = await closedPort();
  const yaml = `agent:\n  state_dir: ${dir}/state\n  startup_grace: 0s
probes:\n  - { name: db, type: tcp, address: "127.0.0.1:${port}", interval: 100ms, failures_before_critical: 2 }
remediations:
  - name: restart-db
    when: { probe: db, state: critical }
    action: { type: exec, command: [/bin/sh, -c, 'echo "restarting db"; echo "Job for mariadb.service failed: start-limit-hit" >&2; exit 1'] }
    max_actions: 1
`;
  let a = await startAgent(yaml);
  try {
    const last = await waitUntil('the action to fail', async () => {
      const x = (await a.get('/status')).json().remediation.rules['restart-db'].last_action;
      return x?.outcome === 'failed' ? x : undefined;
    });
    const why = /^sh exited with code 1 after \S+: restarting db \| Job for mariadb\.service failed: start-limit-hit$/;
    assert.match(last.detail, why);
    const line = a.logs.find((l) => l.msg.startsWith('remediation restart-db: exec failed'));
    assert.ok(line, 'an error log line');
    assert.equal(line.level, 50);
    assert.match(line.msg, / \| Job for mariadb\.service failed: start-limit-hit$/);
    assert.match(String(line.detail), why);
    await a.stop();

    a = await startAgent(yaml);
    const replayed = (await a.get('/status')).json().remediation.rules['restart-db'].last_action;
    assert.equal(replayed.id, last.id);
    assert.equal(replayed.detail, last.detail, 'rebuilt from the journal');
  } finally {
    await a.stop();
    cleanup();
  }
});
