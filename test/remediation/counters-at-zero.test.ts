// A rule's action and blocked counters exist at 0 from the moment it is
// loaded, so the first failure or block is an increase Prometheus can see
// (VigilRemediationFailed's promtool case "fires on the first failure…" is
// the other half); a removed rule's counters go.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startAgent, tempDir } from '../helpers/agent.js';
import { BLOCK_REASONS } from '../../src/remediation/types.js';

const series = (body: string, name = 'vigil_remediation_actions_total') => body.split('\n').filter((l) => l.startsWith(`${name}{`)).sort();
const blocked = (body: string) => series(body, 'vigil_remediation_blocked_total');
const blockedAtZero = (rule: string, action: string) => BLOCK_REASONS.map((reason) => `vigil_remediation_blocked_total{rule="${rule}",action="${action}",reason="${reason}"} 0`);

test('vigil_remediation_actions_total and _blocked_total: 0 for each outcome and reason as soon as a rule is loaded; gone with the rule', async () => {
  const { dir, cleanup } = tempDir('vigil-counters-');
  const rule = (name: string, type = 'exec') => `  - name: ${name}\n    when: { probe: root }\n    action: ${type === 'exec' ? '{ type: exec, command: [/bin/true] }' : '{ type: systemd_restart, unit: api.service }'}\n`;
  const yaml = (rules: string) => `agent:\n  state_dir: ${dir}/state\nprobes:\n  - { name: root, type: disk, path: /, interval: 1h }\nactions:\n  systemd_restart: { allowed_units: [api.service] }\nremediations:\n${rules}`;
  const a = await startAgent(yaml(rule('fix') + rule('other')));
  try {
    assert.deepEqual(series((await a.get('/metrics')).body), [
      'vigil_remediation_actions_total{rule="fix",action="exec",outcome="dry_run"} 0',
      'vigil_remediation_actions_total{rule="fix",action="exec",outcome="failed"} 0',
      'vigil_remediation_actions_total{rule="fix",action="exec",outcome="succeeded"} 0',
      'vigil_remediation_actions_total{rule="other",action="exec",outcome="dry_run"} 0',
      'vigil_remediation_actions_total{rule="other",action="exec",outcome="failed"} 0',
      'vigil_remediation_actions_total{rule="other",action="exec",outcome="succeeded"} 0',
    ]);
    assert.deepEqual(blocked((await a.get('/metrics')).body), [...blockedAtZero('fix', 'exec'), ...blockedAtZero('other', 'exec')].sort());
    a.writeConfig(yaml(rule('fix', 'systemd_restart')));
    assert.equal((await a.post('/-/reload')).status, 200);
    assert.deepEqual(series((await a.get('/metrics')).body), [
      'vigil_remediation_actions_total{rule="fix",action="systemd_restart",outcome="dry_run"} 0',
      'vigil_remediation_actions_total{rule="fix",action="systemd_restart",outcome="failed"} 0',
      'vigil_remediation_actions_total{rule="fix",action="systemd_restart",outcome="succeeded"} 0',
    ], 'the removed rule and the replaced action type are gone');
    assert.deepEqual(blocked((await a.get('/metrics')).body), blockedAtZero('fix', 'systemd_restart').sort(), 'blocked too');
  } finally {
    await a.stop();
    cleanup();
  }
});
