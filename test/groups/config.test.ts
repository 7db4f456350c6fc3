// The `groups:` part of vigil.yaml: defaults that obey the timing rule, the
// rule checked at load with each problem at its key, and the cross-checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../src/config/load.js';
import { Agent } from '../../src/agent.js';
import { clockMarginMs } from '../../src/coordination/lease-timing.js';

const base = (group: string, coordination = true) => `
${coordination ? `coordination:
  etcd: { endpoints: [127.0.0.1:2379] }
  member_name: app1
` : ''}probes:
  - { name: api, type: tcp, address: 127.0.0.1:8080 }
  - { name: db, type: tcp, address: 127.0.0.1:5432 }
groups:
  - name: scheduler
${group}`;

function parse(text: string) {
  return parseConfigText(text, Agent.loadOptions({}));
}

function problems(text: string): string[] {
  const r = parse(text);
  return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`);
}

test('a group with only healthy_when parses, and its defaults obey the timing rule', () => {
  const r = parse(base('    healthy_when: [api, db]\n    on_standby: { command: [/usr/local/bin/become-standby] }\n'));
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  const g = r.config.groups[0];
  assert.deepEqual([g.priority, g.preempt, g.lease.ttlMs, g.lease.renewIntervalMs, g.lease.renewDeadlineMs, g.onStandby?.timeoutMs, g.onActive],
    [100, false, 10_000, 1000, 3000, 5000, undefined]);
  assert.ok(g.lease.renewDeadlineMs + g.lease.fenceWithinMs + clockMarginMs(g.lease.ttlMs) <= g.lease.ttlMs + (g.lease.takeoverDelayMs ?? 0));
});

test('the timing rule is checked at load: a slow on_standby needs a longer lease or a takeover delay', () => {
  const slow = '    healthy_when: [api]\n    lease_ttl: 10s\n    on_standby: { command: [/bin/true], timeout: 30s }\n';
  const p = problems(base(slow));
  assert.equal(p.length, 1, p.join('\n'));
  assert.match(p[0], /^groups\[0\]\.renew_deadline: renew_deadline 3s \+ on_standby\.timeout \(\+0\.5s to kill it\) 30\.5s \+ clock margin 1s = 34\.5s exceeds lease_ttl 10s/);
  assert.deepEqual(problems(base(`${slow}    takeover_delay: 25s\n`)), [], 'takeover_delay buys the time');
  assert.match(problems(base('    healthy_when: [api]\n    renew_interval: 2s\n'))[0], /groups\[0\]\.renew_deadline: must be at least twice renew_interval/);
  assert.ok(problems(base('    healthy_when: [api]\n    lease_ttl: 2500ms\n')).some((x) => /^groups\[0\]\.lease_ttl: must be whole seconds/.test(x)));
});

test('healthy_when names configured probes; a group needs coordination; names are unique', () => {
  assert.deepEqual(problems(base('    healthy_when: [api, cache]\n')), ['groups[0].healthy_when[1]: no probe named "cache" (probes: api, db)']);
  assert.match(problems(base('    healthy_when: []\n'))[0], /groups\[0\]\.healthy_when: name at least one probe/);
  assert.match(problems(base('    healthy_when: [api]\n', false))[0], /groups\[0\]\.name: groups need a top-level `coordination:` section/);
  const two = base('    healthy_when: [api]\n  - name: scheduler\n    healthy_when: [db]\n');
  assert.deepEqual(problems(two), ['groups[1].name: duplicate group name "scheduler" (also groups[0])']);
  assert.match(problems(base('    healthy_when: [api]\n    prefer: me\n'))[0], /^groups\[0\]\.prefer: unknown key/);
});

test('affects_ready defaults to true and can be turned off per probe', () => {
  const r = parse('probes:\n  - { name: shared-db, type: tcp, address: 127.0.0.1:5432, affects_ready: false }\n  - { name: local, type: tcp, address: 127.0.0.1:80 }\n');
  assert.ok(r.ok);
  assert.deepEqual(r.config.probes.map((p) => p.affects_ready), [false, true]);
});
