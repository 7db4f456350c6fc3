// A rule's `fleet:` and `fleet_unavailable:` keys: defaults (the settle
// follows the trigger probe's interval), and every problem at its YAML path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../src/config/load.js';
import { Agent } from '../../src/agent.js';
import { compileRule } from '../../src/remediation/rules.js';
import { fleetsOf } from '../../src/fleet/settings.js';

const base = (rules: string, coordination = true) => `
${coordination ? `coordination:
  etcd: { endpoints: [127.0.0.1:2379] }
  member_name: web1
` : ''}probes:
  - { name: api, type: tcp, address: 127.0.0.1:8080, interval: 2s }
  - { name: db, type: tcp, address: 127.0.0.1:5432, schedule: "*/10 * * * * *" }
remediations:
${rules}`;

const rule = (name: string, fleet: string, extra = '', action = '{ type: exec, command: [/bin/true] }') =>
  `  - name: ${name}\n    when: { probe: api }\n    action: ${action}\n    fleet: ${fleet}\n${extra}`;

function parse(text: string) {
  return parseConfigText(text, Agent.loadOptions({}));
}

function problems(text: string): string[] {
  const r = parse(text);
  return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`);
}

test('defaults: max_concurrent 1, min_members 3, no stand-down, refuse without etcd; settle = trigger interval + 1s', () => {
  const r = parse(base(rule('restart', '{ name: web }') + rule('restart-share', '{ name: web2, stand_down_share: 0.3 }')));
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  const probes = new Map(r.config.probes.map((p) => [p.name, p]));
  const [a, b] = r.config.remediations.map((x) => compileRule(x, probes).fleet);
  assert.deepEqual(a, { name: 'web', maxConcurrent: 1, standDownShare: undefined, minMembers: 3, settleMs: 0, unavailable: 'refuse' });
  assert.deepEqual(b, { name: 'web2', maxConcurrent: 1, standDownShare: 0.3, minMembers: 3, settleMs: 3000, unavailable: 'refuse' });
  const cron = parse(base('  - name: r\n    when: { probe: db }\n    action: { type: exec, command: [/bin/true] }\n    fleet: { name: web, stand_down_share: 0.5 }\n    fleet_unavailable: act_alone\n'));
  assert.ok(cron.ok);
  assert.deepEqual(compileRule(cron.config.remediations[0], new Map(cron.config.probes.map((p) => [p.name, p]))).fleet,
    { name: 'web', maxConcurrent: 1, standDownShare: 0.5, minMembers: 3, settleMs: 10_000, unavailable: 'act_alone' });
  assert.equal(compileRule(r.config.remediations[0], probes).fleet?.name, 'web');
});

test('fleetsOf gathers each fleet once, with every probe its rules use and the triggers', () => {
  const r = parse(base(`${rule('restart', '{ name: web, max_concurrent: 2 }')}  - name: leave\n    when: { probe: api, all_of: [db] }\n    action: { type: exec, command: [/bin/false] }\n    fleet: { name: web, max_concurrent: 2 }\n`));
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  assert.deepEqual(fleetsOf(r.config), [{ name: 'web', maxConcurrent: 2, standDownShare: undefined, minMembers: 3, watching: ['api', 'db'], triggers: ['api'], rules: ['restart', 'leave'] }]);
});

test('every problem at its path: coordination, scope, agreement, settle, fleet_unavailable alone, bad values', () => {
  assert.deepEqual(problems(base(rule('r', '{ name: web }'), false)),
    ['remediations[0].fleet: a fleet needs a top-level `coordination:` section (etcd endpoints): its members share slots and health through etcd']);
  const promote = '{ type: mysql_promote, cluster: orders, local: { address: 127.0.0.1:3306, user: vigil, password: x }, replication: { user: repl, password: y } }';
  assert.ok(problems(base(rule('r', '{ name: web }', '', promote))).includes(
    'remediations[0].fleet: only host-scoped actions (systemd_restart, asg_set_unhealthy, exec) can name a fleet; mysql_promote is cluster-scoped and coordinates through its own lock'));
  assert.deepEqual(problems(base(rule('a', '{ name: web, max_concurrent: 2 }') + rule('b', '{ name: web, stand_down_share: 0.5 }'))), [
    'remediations[1].fleet.max_concurrent: is 1 here but 2 in remediations[0] (a): every rule of fleet "web" must agree, the slots and the share are the fleet\'s',
    'remediations[1].fleet.stand_down_share: is 0.5 here but not set in remediations[0] (a): every rule of fleet "web" must agree, the slots and the share are the fleet\'s',
  ]);
  assert.deepEqual(problems(base(rule('a', '{ name: web, stand_down_share: 0.3, settle: 1s }'))),
    ['remediations[0].fleet.settle: must be at least the interval of probe api (2s): members that see the same failure one interval later would not be counted yet']);
  assert.deepEqual(problems(base(rule('a', '{ name: web, settle: 5s }'))), ['remediations[0].fleet.settle: only means something with stand_down_share']);
  assert.deepEqual(problems(base('  - name: a\n    when: { probe: api }\n    action: { type: exec, command: [/bin/true] }\n    fleet_unavailable: act_alone\n')),
    ['remediations[0].fleet_unavailable: only means something with `fleet:`']);
  assert.deepEqual(problems(base(rule('a', '{ name: Web, max_concurrent: 0, stand_down_share: 0, min_members: 1, size: 3 }', '    fleet_unavailable: maybe\n'))).sort(), [
    'remediations[0].fleet.max_concurrent: Number must be greater than or equal to 1',
    'remediations[0].fleet.min_members: Number must be greater than or equal to 2',
    'remediations[0].fleet.name: must match [a-z0-9_-]+',
    'remediations[0].fleet.size: unknown key',
    'remediations[0].fleet.stand_down_share: must be above 0 (leave it out to turn the stand-down off)',
    'remediations[0].fleet_unavailable: Invalid enum value. Expected \'refuse\' | \'act_alone\', received \'maybe\'',
  ]);
});
