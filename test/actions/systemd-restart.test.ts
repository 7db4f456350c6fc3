// systemd_restart against a real systemd user manager (test/harness/systemd.ts):
// a killed unit is restarted and confirmed active, a unit that fails to start
// yields `failed` with systemd's own result, start-limit-hit is reported and
// (with reset_failed) reset, reconcile reads ActiveEnterTimestamp, and a unit
// not in the allowlist is refused at config load.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startUserManager, type UserManager } from '../harness/systemd.js';
import { actionFromYaml, ctx } from './helpers.js';

let um: UserManager;
let dir: string;
let env: NodeJS.ProcessEnv;
const ALLOW = 'actions:\n  systemd_restart:\n    allowed_units: [vigil-ok.service, vigil-bad.service, vigil-limit.service, vigil-crashy.service]\n';
const action = (fields: string) => actionFromYaml(`{ type: systemd_restart, scope: user, ${fields} }`, env, ALLOW);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  um = await startUserManager();
  dir = await mkdtemp(join(tmpdir(), 'vigil-systemd-units-'));
  // No Restart=: the unit stays down until someone acts, as after a crash that systemd does not handle.
  await um.writeUnit('vigil-ok.service', '[Service]\nExecStart=/bin/sleep infinity\n');
  await um.writeUnit('vigil-bad.service', '[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/sh -c "echo cannot start >&2; exit 3"\n');
  await um.writeUnit('vigil-limit.service', '[Unit]\nStartLimitIntervalSec=300\nStartLimitBurst=2\n[Service]\nExecStart=/bin/sleep infinity\n');
  await um.writeUnit('vigil-crashy.service', '[Unit]\nStartLimitIntervalSec=300\nStartLimitBurst=2\n[Service]\nExecStart=/bin/sleep infinity\n');
  // The action finds the user manager's bus the way the agent would: from its environment.
  env = { ...process.env, ...um.env };
});

after(async () => {
  await um?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('a unit whose process was killed is restarted over D-Bus and confirmed active', async () => {
  assert.equal((await um.systemctl('start', 'vigil-ok.service')).code, 0);
  await um.waitActive('vigil-ok.service');
  const pid1 = Number((await um.show('vigil-ok.service', ['MainPID'])).MainPID);
  process.kill(pid1, 'SIGKILL');
  for (let i = 0; i < 100 && (await um.systemctl('is-active', 'vigil-ok.service')).stdout.trim() === 'active'; i++) await sleep(20);
  assert.notEqual((await um.systemctl('is-active', 'vigil-ok.service')).stdout.trim(), 'active');

  const a = action('unit: vigil-ok.service');
  assert.equal(a.target, 'vigil-ok.service (user)');
  const pre = await a.precheck(ctx());
  assert.equal(pre.ok, true, JSON.stringify(pre));
  const t0 = Date.now();
  const r = await a.execute(ctx());
  const took = Date.now() - t0;
  assert.equal(r.outcome, 'succeeded', r.detail);
  const pid2 = Number((await um.show('vigil-ok.service', ['MainPID'])).MainPID);
  assert.ok(pid2 > 0 && pid2 !== pid1, `MainPID ${pid1} -> ${pid2}`);
  assert.equal(r.detail, `restart job done; vigil-ok.service active (running, MainPID ${pid2})`);
  assert.equal((await um.systemctl('is-active', 'vigil-ok.service')).stdout.trim(), 'active');
  console.log(`# restart over D-Bus, job wait and confirmation: ${took} ms`);
});

test('reconcile: ActiveEnterTimestamp after the intent means the restart happened; before means it did not', async () => {
  const a = action('unit: vigil-ok.service');
  const before = Date.now() - 60_000;
  const r1 = await a.reconcile!(ctx(), { id: 'i1', rule: 'rule', action: 'systemd_restart', target: a.target, at: before });
  assert.equal(r1.outcome, 'reconciled_succeeded', r1.detail);
  const r2 = await a.reconcile!(ctx(), { id: 'i2', rule: 'rule', action: 'systemd_restart', target: a.target, at: Date.now() + 60_000 });
  assert.equal(r2.outcome, 'reconciled_failed');
  assert.match(r2.detail, /before the intent: the restart did not happen/);
});

test('a unit that fails to start yields outcome failed with systemd\'s job result and unit Result', async () => {
  const r = await action('unit: vigil-bad.service').execute(ctx());
  assert.equal(r.outcome, 'failed');
  assert.equal(r.detail, 'restart job failed; vigil-bad.service failed (failed, Result=exit-code)');
});

test('start-limit-hit is reported as such, blocks the precheck, and reset_failed: true clears it', async () => {
  // Two starts use up StartLimitBurst=2 (systemd counts every start, ours included); the third is refused by systemd.
  assert.equal((await um.systemctl('start', 'vigil-limit.service')).code, 0);
  assert.equal((await um.systemctl('restart', 'vigil-limit.service')).code, 0);
  const plain = action('unit: vigil-limit.service');
  const third = await plain.execute(ctx());
  assert.equal(third.outcome, 'failed');
  assert.match(third.detail, /start-limit-hit — systemd refuses to start vigil-limit.service until its StartLimitIntervalSec passes/);
  assert.match(third.detail, /Result=start-limit-hit/);
  const pre = await plain.precheck(ctx());
  assert.equal(pre.ok, false);
  assert.ok(!pre.ok && pre.reason === 'precheck_failed');
  assert.match(!pre.ok ? pre.detail : '', /vigil-limit.service is in start-limit-hit: .*set reset_failed: true/);

  const resetting = action('unit: vigil-limit.service, reset_failed: true');
  assert.equal((await resetting.precheck(ctx())).ok, true);
  const r = await resetting.execute(ctx());
  assert.equal(r.outcome, 'succeeded', r.detail);
  assert.match(r.detail, /^reset start-limit-hit, then restart job done; vigil-limit.service active/);
});

test('a crashed unit refused by the start limit: reported as a refused start (systemd keeps Result=signal), and reset_failed retries once', async () => {
  const crash = async () => {
    process.kill(Number((await um.show('vigil-crashy.service', ['MainPID'])).MainPID), 'SIGKILL');
    for (let i = 0; i < 100 && (await um.systemctl('is-active', 'vigil-crashy.service')).stdout.trim() !== 'failed'; i++) await sleep(20);
  };
  assert.equal((await um.systemctl('start', 'vigil-crashy.service')).code, 0);
  await crash();
  const plain = action('unit: vigil-crashy.service');
  assert.equal((await plain.execute(ctx())).outcome, 'succeeded', 'the second start is within StartLimitBurst=2');
  await crash();
  const r = await plain.execute(ctx());
  assert.equal(r.outcome, 'failed');
  assert.equal(r.detail, 'restart job failed without starting vigil-crashy.service: systemd refused the start, most likely its start limit'
    + ' (StartLimitBurst=2 within 5m, vigil\'s restarts included) — systemd refuses to start vigil-crashy.service until its StartLimitIntervalSec passes'
    + ' or `systemctl reset-failed vigil-crashy.service`; set reset_failed: true to let vigil reset it; vigil-crashy.service failed (failed, Result=signal)');
  const r2 = await action('unit: vigil-crashy.service, reset_failed: true').execute(ctx());
  assert.equal(r2.outcome, 'succeeded', r2.detail);
  assert.match(r2.detail, /^start refused \(start limit\); reset-failed, then restart job done; vigil-crashy.service active \(running, MainPID \d+\)$/);
});

test('precheck refuses a unit the manager does not know, and an unreachable bus, with a reason', async () => {
  const unknown = actionFromYaml('{ type: systemd_restart, scope: user, unit: vigil-nope.service }', env,
    'actions:\n  systemd_restart:\n    allowed_units: [vigil-nope.service]\n');
  const p1 = await unknown.precheck(ctx());
  assert.deepEqual(p1, { ok: false, reason: 'precheck_failed', detail: 'vigil-nope.service is not-found to the user manager' });
  const nobus = action(`unit: vigil-ok.service, bus_address: 'unix:path=${dir}/no-such-bus'`);
  const p2 = await nobus.precheck(ctx());
  assert.equal(p2.ok, false);
  assert.match(!p2.ok ? p2.detail : '', /cannot reach the user manager: D-Bus not reachable/);
  const r = await nobus.execute(ctx());
  assert.equal(r.outcome, 'failed');
});

test('a unit not in the allowlist is refused at config load', () => {
  assert.throws(() => action('unit: sshd.service'), /unit \\"sshd.service\\" is not in actions.systemd_restart.allowed_units/);
});
