// The shipped examples are real: the remediation config validates, the
// polkit rule (run as JavaScript, the way polkit does) allows exactly the
// allowlisted units and verbs to the vigil user, and the IAM policy grants
// exactly what the asg_set_unhealthy action calls.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { runInNewContext } from 'node:vm';
import { parseConfigText } from '../../src/config/load.js';
import { Agent } from '../../src/agent.js';
import { tempDir } from './agent-helpers.js';

const ROOT = resolve(import.meta.dirname, '../..');

test('examples/vigil-remediation.yaml validates', async () => {
  const { dir, cleanup } = await tempDir('vigil-example-');
  try {
    await writeFile(join(dir, 'admin.token'), 'a'.repeat(64));
    await writeFile(join(dir, 'dns.token'), 'dns-secret');
    const text = (await readFile(join(ROOT, 'examples/vigil-remediation.yaml'), 'utf8')).replaceAll('/etc/vigil/', `${dir}/`);
    const r = parseConfigText(text, Agent.loadOptions(process.env));
    assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
    assert.deepEqual(r.config.remediations.map((x) => [x.name, x.action.type, x.after ?? null]),
      [['restart-api', 'systemd_restart', null], ['leave-asg', 'asg_set_unhealthy', 'restart-api'], ['switch-dns', 'exec', null]]);
    // The polkit rule lists the same units as the allowlist.
    const polkit = await readFile(join(ROOT, 'examples/polkit/50-vigil.rules'), 'utf8');
    const units = JSON.parse(/var UNITS = (\[[^\]]*\])/.exec(polkit)![1]) as string[];
    assert.deepEqual(units, r.config.actions.systemd_restart.allowed_units);
  } finally {
    await cleanup();
  }
});

test('examples/polkit/50-vigil.rules: only user vigil, only manage-units, only the listed units and verbs', async () => {
  const source = await readFile(join(ROOT, 'examples/polkit/50-vigil.rules'), 'utf8');
  const rules: Array<(action: unknown, subject: unknown) => unknown> = [];
  const Result = { YES: 'yes', NO: 'no', AUTH_ADMIN: 'auth_admin', NOT_HANDLED: null };
  runInNewContext(source, { polkit: { Result, addRule: (f: (a: unknown, s: unknown) => unknown) => rules.push(f) } });
  assert.equal(rules.length, 1);
  const ask = (id: string, user: string, details: Record<string, string>) =>
    rules[0]({ id, lookup: (k: string) => details[k] }, { user });
  const manage = 'org.freedesktop.systemd1.manage-units';
  assert.equal(ask(manage, 'vigil', { unit: 'api.service', verb: 'restart' }), 'yes');
  assert.equal(ask(manage, 'vigil', { unit: 'worker.service', verb: 'reset-failed' }), 'yes');
  assert.equal(ask(manage, 'vigil', { unit: 'api.service', verb: 'stop' }), null);
  assert.equal(ask(manage, 'vigil', { unit: 'sshd.service', verb: 'restart' }), null);
  assert.equal(ask(manage, 'mallory', { unit: 'api.service', verb: 'restart' }), null);
  assert.equal(ask('org.freedesktop.systemd1.manage-unit-files', 'vigil', { unit: 'api.service', verb: 'restart' }), null);
});

test('examples/iam-policy.json: least privilege for asg_set_unhealthy', async () => {
  const policy = JSON.parse(await readFile(join(ROOT, 'examples/iam-policy.json'), 'utf8')) as {
    Statement: Array<{ Effect: string; Action: string | string[]; Resource: string; Condition?: Record<string, Record<string, string>> }>;
  };
  const actions = policy.Statement.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
  // Exactly the three calls the action makes, nothing more.
  assert.deepEqual(actions.sort(), ['autoscaling:DescribeAutoScalingGroups', 'autoscaling:DescribeAutoScalingInstances', 'autoscaling:SetInstanceHealth']);
  assert.ok(policy.Statement.every((s) => s.Effect === 'Allow'));
  const set = policy.Statement.find((s) => s.Action === 'autoscaling:SetInstanceHealth')!;
  assert.match(set.Resource, /^arn:aws:autoscaling:[a-z0-9-]+:\d{12}:autoScalingGroup:\*:autoScalingGroupName\/.+$/, 'scoped to the group');
  assert.deepEqual(set.Condition, { StringEquals: { 'autoscaling:ResourceTag/vigil-remediation': 'enabled' } });
});
