// The group-lab agent YAML (group-agent.ts): the whole of it is a valid vigil
// config (groups: included, its timing rule met), and the `groups:` entry says
// what the lab's tests assume (priorities, timing, both hooks on mark-hook.sh).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { Agent } from '../../src/agent.js';
import { parseConfigText } from '../../src/config/load.js';
import { HOOK_KILL_GRACE_MS } from '../../src/groups/settings.js';
import { groupAgentYaml, LAB_TIMING, type GroupAgentSite } from './group-agent.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-group-agent-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const tokenFile = join(dir, 'token');
writeFileSync(tokenFile, 'group-lab-admin-token-0123456789', { mode: 0o600 });

const site: GroupAgentSite = {
  name: 'g2', addr: '10.213.7.11', appPort: 8080, agentPort: 9817, adminPort: 9818, stateDir: join(dir, 'state-g2'), tokenFile,
  etcdEndpoints: ['10.213.7.13:2379', '10.213.7.14:2379', '10.213.7.15:2379'], prefix: '/vigil-lab-abc123',
  hookScript: '/repo/test/groups/mark-hook.sh', marksFile: join(dir, 'marks'),
};

test('the whole YAML, groups: included, is a valid config for the agent', () => {
  const r = parseConfigText(groupAgentYaml(site, { priority: 90 }), Agent.loadOptions({}));
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.problems, null, 2));
  assert.deepEqual(r.config.agent.listen, { host: '10.213.7.11', port: 9817 });
  assert.equal(r.config.coordination?.member_name, 'g2');
  const [g] = r.config.groups;
  assert.equal(g.name, 'web');
  assert.deepEqual(g.lease, {
    ttlMs: LAB_TIMING.leaseTtlMs, renewIntervalMs: LAB_TIMING.renewIntervalMs, renewDeadlineMs: LAB_TIMING.renewDeadlineMs,
    fenceWithinMs: LAB_TIMING.onStandbyTimeoutMs + HOOK_KILL_GRACE_MS, takeoverDelayMs: LAB_TIMING.takeoverDelayMs,
  });
});

test('the web group: defaults the lab tests assume, hooks on mark-hook.sh with the marks file', () => {
  const doc = parse(groupAgentYaml(site, { priority: 90 })) as { groups: Array<Record<string, unknown>> };
  const hook = { command: ['sh', '/repo/test/groups/mark-hook.sh', site.marksFile] };
  assert.deepEqual(doc.groups, [{
    name: 'web', healthy_when: ['api'], priority: 90, preempt: false,
    lease_ttl: '4s', renew_interval: '500ms', renew_deadline: '1500ms', takeover_delay: '0s', check_interval: '250ms',
    on_active: { ...hook, timeout: '5s' }, on_standby: { ...hook, timeout: '1500ms' },
  }]);
});

test('options override the group\'s timing, preemption and hooks', () => {
  const doc = parse(groupAgentYaml(site, {
    priority: 10, preempt: true, leaseTtl: '2s', renewInterval: '250ms', renewDeadline: '1s', takeoverDelay: '1s',
    checkInterval: '100ms', onActiveTimeout: '1s', onStandbyTimeout: '2s', hookSleepMs: 300,
  })) as { groups: Array<Record<string, any>> };
  const g = doc.groups[0];
  assert.deepEqual([g.priority, g.preempt, g.lease_ttl, g.renew_interval, g.renew_deadline, g.takeover_delay, g.check_interval],
    [10, true, '2s', '250ms', '1s', '1s', '100ms']);
  assert.deepEqual(g.on_active, { command: ['sh', '/repo/test/groups/mark-hook.sh', site.marksFile, '300'], timeout: '1s' });
  assert.equal(g.on_standby.timeout, '2s');
});
