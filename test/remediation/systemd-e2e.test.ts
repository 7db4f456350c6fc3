// End to end on real components: an HTTP service run by a real systemd user
// manager, probed by a real agent. (1) Its process is killed: the probe turns
// critical, the rule restarts the unit over D-Bus, the unit is active again —
// timed, several times. (2) The unit cannot start any more: the restart fails,
// and once its grace has passed with the probe still critical the escalation
// marks the instance Unhealthy in the (local) Auto Scaling group.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startUserManager, type UserManager } from '../harness/systemd.js';
import { startFakeAutoScaling, startFakeImds } from '../harness/aws.js';
import { freePort } from '../harness/ports.js';
import { journalLines, sleep, startAgent, tempDir, waitFor, type RunningAgent, apiProbeYaml } from './agent-helpers.js';

let um: UserManager;
before(async () => { um = await startUserManager(); });
after(async () => { await um?.stop(); });

function serviceUnit(port: number, extra = ''): string {
  const js = `require('http').createServer((q,s)=>s.end('ok')).listen(${port},'127.0.0.1')`;
  return `[Service]\n${extra}ExecStart=${process.execPath} -e "${js}"\n`;
}

/** The unit is active before node listens; an agent started earlier would (rightly) see it failing. */
const serving = (port: number) => waitFor(`http on ${port}`, () => fetch(`http://127.0.0.1:${port}/`).then((r) => r.ok, () => false));

const mainPid = async (unit: string) => Number((await um.show(unit, ['MainPID'])).MainPID);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

test('killed service: probe critical → restart over D-Bus → unit active, measured', async () => {
  const { dir, cleanup } = await tempDir('vigil-e2e-');
  const port = await freePort();
  const unit = 'vigil-api.service';
  // systemd counts vigil's restarts toward the start limit (default 5 in 10 s); this test restarts
  // 5 times in a few seconds on purpose, so the limit is lifted for this unit.
  await um.writeUnit(unit, `[Unit]\nStartLimitIntervalSec=0\n${serviceUnit(port)}`);
  assert.equal((await um.systemctl('start', unit)).code, 0);
  await serving(port);
  let a: RunningAgent | undefined;
  try {
    a = await startAgent(join(dir, 'vigil.yaml'), `agent:
  state_dir: ${dir}/state
  startup_grace: 0s
${apiProbeYaml(port)}actions:
  systemd_restart:
    allowed_units: [${unit}]
remediations:
  - name: restart-api
    when: { probe: api, state: critical }
    action: { type: systemd_restart, unit: ${unit}, scope: user }
    cooldown: 0s
    grace: 1s
    max_actions: 10
    window: 1h
`, { ...process.env, ...um.env });
    const events: Array<{ to: string; at: number }> = [];
    a.agent.onProbeResult((change) => { if (change.from.state !== change.to.state) events.push({ to: change.to.state, at: Date.now() }); });
    await waitFor('probe passing', () => events.some((e) => e.to === 'passing'));

    const rows: Array<{ detect: number; active: number; passing: number }> = [];
    for (let i = 0; i < 5; i++) {
      events.length = 0;
      const pid = await mainPid(unit);
      const killedAt = Date.now();
      process.kill(pid, 'SIGKILL');
      const critical = await waitFor('critical', () => events.find((e) => e.to === 'critical'));
      const outcome = await waitFor('restart outcome', async () => (await journalLines(join(dir, 'state')))
        .filter((r) => r.event === 'outcome' && (r.ts as number) >= killedAt)[0]);
      assert.equal(outcome.outcome, 'succeeded', String(outcome.detail));
      const passing = await waitFor('passing again', () => events.find((e) => e.to === 'passing' && e.at > critical.at));
      const pid2 = await mainPid(unit);
      assert.ok(pid2 > 0 && pid2 !== pid, `MainPID ${pid} -> ${pid2}`);
      assert.match(String(outcome.detail), new RegExp(`restart job done; ${unit} active \\(running, MainPID ${pid2}\\)`));
      rows.push({ detect: critical.at - killedAt, active: (outcome.ts as number) - critical.at, passing: passing.at - critical.at });
      await sleep(1200); // past the grace, so the next kill is counted afresh
    }
    const fmt = (k: keyof (typeof rows)[number]) => `median ${median(rows.map((r) => r[k]))} ms (${rows.map((r) => r[k]).join(', ')})`;
    console.log(`# kill → probe critical: ${fmt('detect')}`);
    console.log(`# probe critical → unit active again (restart job done, ActiveState confirmed): ${fmt('active')}`);
    console.log(`# probe critical → probe passing again: ${fmt('passing')}`);
    assert.ok(median(rows.map((r) => r.active)) < 2000);
    assert.equal(await a.metric('vigil_remediation_actions_total', { rule: 'restart-api', action: 'systemd_restart', outcome: 'succeeded' }), 5);
    assert.ok((await a.metric('vigil_remediation_last_action_timestamp_seconds', { rule: 'restart-api' }))! > 0);
  } finally {
    await a?.stop();
    await um.systemctl('stop', unit);
    await cleanup();
  }
});

test('escalation: the restart fails, and past its grace with the probe still critical the instance leaves the ASG', async () => {
  const { dir, cleanup } = await tempDir('vigil-e2e-');
  const port = await freePort();
  const unit = 'vigil-app.service';
  const flag = join(dir, 'config-ok');
  await writeFile(flag, '');
  // Starts only while the flag exists: after it is removed, a restart cannot help.
  await um.writeUnit(unit, serviceUnit(port, `ExecStartPre=/bin/test -e ${flag}\n`));
  assert.equal((await um.systemctl('start', unit)).code, 0);
  await serving(port);
  const me = 'i-0aaa000000000001';
  const asg = await startFakeAutoScaling({ groups: [{ name: 'web', instances: ['1', '2', '3'].map((n) => ({ id: `i-0aaa00000000000${n}`, lifecycleState: 'InService' as const, healthStatus: 'Healthy' as const })) }] });
  const imds = await startFakeImds({ instanceId: me });
  let a: RunningAgent | undefined;
  try {
    a = await startAgent(join(dir, 'vigil.yaml'), `agent:
  state_dir: ${dir}/state
  startup_grace: 0s
${apiProbeYaml(port)}actions:
  systemd_restart:
    allowed_units: [${unit}]
remediations:
  - name: restart-app
    when: { probe: api, state: critical }
    action: { type: systemd_restart, unit: ${unit}, scope: user }
    cooldown: 1h
    grace: 1s
  - name: leave-asg
    when: { probe: api, state: critical }
    after: restart-app
    action: { type: asg_set_unhealthy, endpoint: '${asg.endpoint}', imds_endpoint: '${imds.endpoint}', region: us-east-1 }
`, { ...process.env, ...um.env, AWS_ACCESS_KEY_ID: asg.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: asg.credentials.secretAccessKey });
    await waitFor('probe passing', async () => (await a!.status()).probes.api.state === 'passing');
    await rm(flag);
    process.kill(await mainPid(unit), 'SIGKILL');
    const restart = await waitFor('restart outcome', async () => (await journalLines(join(dir, 'state'))).find((r) => r.event === 'outcome' && r.rule === 'restart-app'));
    assert.equal(restart.outcome, 'failed');
    assert.match(String(restart.detail), /^restart job failed; vigil-app.service failed \(failed, Result=exit-code\)/);
    // The outcome is journalled (fsynced) a moment before the rule's in-memory state leaves "in progress".
    const waiting = await waitFor('leave-asg waiting on the restart\'s grace', async () => {
      const e = (await a!.status()).remediation.rules['leave-asg'].escalation;
      return /its action is in progress/.test(e.detail ?? '') ? undefined : e;
    });
    assert.equal(waiting.step, 'waiting', JSON.stringify(waiting));
    assert.match(waiting.detail, /^restart-app acted at .*; waiting for its grace to end at /);
    const left = await waitFor('leave-asg outcome', async () => (await journalLines(join(dir, 'state'))).find((r) => r.event === 'outcome' && r.rule === 'leave-asg'));
    assert.equal(left.outcome, 'succeeded', String(left.detail));
    const j = await journalLines(join(dir, 'state'));
    assert.deepEqual(j.map((r) => `${r.event}:${r.rule}`), ['intent:restart-app', 'outcome:restart-app', 'intent:leave-asg', 'outcome:leave-asg']);
    const leaveIntent = j[2].ts as number;
    assert.ok(leaveIntent >= (restart.ts as number) + 1000, `escalated ${leaveIntent - (restart.ts as number)} ms after the restart finished (grace 1s)`);
    assert.equal(asg.findInstance(me)?.instance.healthStatus, 'Unhealthy');
    assert.deepEqual(asg.requests.map((r) => r.action), ['DescribeAutoScalingInstances', 'DescribeAutoScalingGroups', 'SetInstanceHealth']);
  } finally {
    await a?.stop();
    await um.systemctl('stop', unit);
    await asg.close();
    await imds.close();
    await cleanup();
  }
});
