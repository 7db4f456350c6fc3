// asg_set_unhealthy with the real @aws-sdk/client-auto-scaling against local
// servers speaking the AWS Query API (form-encoded Action=…, XML answers,
// SigV4 verified) and IMDSv2: success, throttling then success, AccessDenied,
// Standby, the fleet floor, reconcile.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeAutoScaling, startFakeImds, type AsgGroup, type FakeAutoScaling, type FakeImds } from '../harness/aws.js';
import { fleetGuard } from '../../src/actions/asg-set-unhealthy.js';
import { actionFromYaml, ctx } from './helpers.js';

const ME = 'i-0aaa000000000001';
const group = (instances: AsgGroup['instances'], desired?: number): AsgGroup => ({ name: 'web-asg', instances, desiredCapacity: desired });
const healthy = (id: string) => ({ id, lifecycleState: 'InService' as const, healthStatus: 'Healthy' as const });

let asg: FakeAutoScaling;
let imds: FakeImds;
let env: NodeJS.ProcessEnv;

async function start(groups: AsgGroup[]): Promise<void> {
  asg = await startFakeAutoScaling({ groups });
  env = { PATH: process.env.PATH, AWS_ACCESS_KEY_ID: asg.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: asg.credentials.secretAccessKey };
}
const action = (extra = '') => actionFromYaml(`{ type: asg_set_unhealthy, endpoint: '${asg.endpoint}', imds_endpoint: '${imds.endpoint}'${extra} }`, env);

beforeEach(async () => { imds = await startFakeImds({ instanceId: ME, region: 'us-east-1' }); });
afterEach(async () => { await asg?.close(); await imds.close(); });

test('success: instance id and region from IMDSv2, Describe calls first, then SetInstanceHealth Unhealthy', async () => {
  await start([group([healthy(ME), healthy('i-0aaa000000000002'), healthy('i-0aaa000000000003')])]);
  const a = action();
  const pre = await a.precheck(ctx());
  assert.deepEqual(pre, { ok: true, detail: `${ME} InService in web-asg; 3 of 3 healthy` });
  const r = await a.execute(ctx());
  assert.equal(r.outcome, 'succeeded', r.detail);
  assert.equal(r.detail, `${ME} marked Unhealthy (ShouldRespectGracePeriod=true, 1 attempt); Auto Scaling will replace it`);
  assert.equal(asg.findInstance(ME)?.instance.healthStatus, 'Unhealthy');
  assert.deepEqual(asg.requests.map((q) => q.action), ['DescribeAutoScalingInstances', 'DescribeAutoScalingGroups', 'SetInstanceHealth']);
  assert.ok(asg.requests.every((q) => q.signatureValid), 'every request carried a valid SigV4 signature');
  const set = asg.requestsFor('SetInstanceHealth')[0].params;
  assert.deepEqual([set.InstanceId, set.HealthStatus, set.ShouldRespectGracePeriod], [ME, 'Unhealthy', 'true']);
  // IMDSv2: a token first, then GETs carrying it; never a tokenless request.
  assert.deepEqual(imds.requests.map((q) => `${q.method} ${q.path} ${q.status}`),
    ['PUT /latest/api/token 200', 'GET /latest/meta-data/instance-id 200', 'GET /latest/meta-data/placement/region 200']);
  assert.ok(imds.requests.slice(1).every((q) => q.hadToken));
  // Asked after the fact, the world says it happened.
  const rec = await a.reconcile!(ctx(), { id: 'x', rule: 'rule', action: 'asg_set_unhealthy', target: a.target, at: Date.now() });
  assert.equal(rec.outcome, 'reconciled_succeeded');
});

test('should_respect_grace_period: false is sent as such; a configured instance_id skips IMDS', async () => {
  await start([group([healthy(ME), healthy('i-0aaa000000000002')])]);
  const r = await action(`, instance_id: ${ME}, region: us-east-1, should_respect_grace_period: false`).execute(ctx());
  assert.equal(r.outcome, 'succeeded');
  assert.equal(asg.requestsFor('SetInstanceHealth')[0].params.ShouldRespectGracePeriod, 'false');
  assert.equal(imds.requests.length, 0);
});

test('throttling, then success: the SDK\'s standard retries are seen by the server', async () => {
  await start([group([healthy(ME), healthy('i-0aaa000000000002')])]);
  const a = action();
  assert.equal((await a.precheck(ctx())).ok, true);
  asg.throttleNext(2);
  const r = await a.execute(ctx());
  assert.equal(r.outcome, 'succeeded', r.detail);
  assert.match(r.detail, /3 attempts/);
  const calls = asg.requestsFor('SetInstanceHealth');
  assert.deepEqual(calls.map((c) => [c.attempt, c.status, c.errorCode ?? null]), [[1, 400, 'Throttling'], [2, 400, 'Throttling'], [3, 200, null]]);
});

test('AccessDenied: outcome failed with the AWS error code; the instance is untouched', async () => {
  await start([group([healthy(ME), healthy('i-0aaa000000000002')])]);
  asg.denyActions(['SetInstanceHealth']);
  const r = await action().execute(ctx());
  assert.equal(r.outcome, 'failed');
  assert.match(r.detail, /^SetInstanceHealth failed: AccessDenied: User: arn:aws:iam::123456789012:user\/vigil-test is not authorized to perform: autoscaling:SetInstanceHealth/);
  assert.equal(asg.findInstance(ME)?.instance.healthStatus, 'Healthy');
  assert.equal(asg.requestsFor('SetInstanceHealth').length, 1, 'AccessDenied is not retried');
  const rec = await action().reconcile!(ctx(), { id: 'x', rule: 'rule', action: 'asg_set_unhealthy', target: 'this instance', at: Date.now() });
  assert.equal(rec.outcome, 'reconciled_failed');
});

test('Standby, Terminating or not in a group: blocked with the reason, nothing is set', async () => {
  await start([group([{ id: ME, lifecycleState: 'Standby', healthStatus: 'Healthy' }, healthy('i-0aaa000000000002')])]);
  let pre = await action().precheck(ctx());
  assert.deepEqual(pre, { ok: false, reason: 'precheck_failed', detail: `${ME} is Standby in web-asg, not InService; not marking it` });
  asg.groups[0].instances[0].lifecycleState = 'Terminating:Wait';
  pre = await action().precheck(ctx());
  assert.match(!pre.ok ? pre.detail : '', /is Terminating:Wait in web-asg/);
  asg.groups[0].instances.shift();
  pre = await action().precheck(ctx());
  assert.deepEqual(pre, { ok: false, reason: 'precheck_failed', detail: `${ME} is not in an Auto Scaling group` });
  assert.equal(asg.requestsFor('SetInstanceHealth').length, 0);
});

test('fleet floor: refused when marking would leave fewer than min_healthy_ratio healthy and InService', async () => {
  await start([group([
    healthy(ME), healthy('i-0aaa000000000002'),
    { id: 'i-0aaa000000000003', lifecycleState: 'InService', healthStatus: 'Unhealthy' },
    { id: 'i-0aaa000000000004', lifecycleState: 'Pending', healthStatus: 'Healthy' },
  ])]);
  const pre = await action().precheck(ctx());
  assert.equal(pre.ok, false);
  assert.equal(!pre.ok && pre.reason, 'precheck_failed');
  assert.equal(!pre.ok && pre.detail, `fleet guard: marking ${ME} would leave 1 of 4 instances healthy and InService (below min_healthy_ratio 0.5); `
    + 'refusing so a cascade cannot evict the fleet (group web-asg)');
  // A lower floor lets it through.
  assert.equal((await action(', min_healthy_ratio: 0.25').precheck(ctx())).ok, true);
});

test('fleet guard arithmetic: the boundary is allowed, one below is not; desired capacity counts missing instances', () => {
  assert.equal(fleetGuard({ healthyInService: 2, size: 2, thisCounted: true }, 0.5, ME), undefined, '1 of 2 left = 0.5');
  assert.ok(fleetGuard({ healthyInService: 2, size: 3, thisCounted: true }, 0.5, ME), '1 of 3 left');
  assert.equal(fleetGuard({ healthyInService: 3, size: 4, thisCounted: false }, 0.75, ME), undefined, 'this one is not counted healthy');
  assert.ok(fleetGuard({ healthyInService: 1, size: 1, thisCounted: true }, 0.5, ME), 'a fleet of one is never evicted at 0.5');
});

test('IMDS unreachable: precheck refuses and says what to configure', async () => {
  await start([group([healthy(ME)])]);
  await imds.close();
  const pre = await actionFromYaml(`{ type: asg_set_unhealthy, endpoint: '${asg.endpoint}', imds_endpoint: 'http://127.0.0.1:9' }`, env).precheck(ctx());
  assert.equal(pre.ok, false);
  assert.match(!pre.ok ? pre.detail : '', /instance metadata not reachable at http:\/\/127.0.0.1:9 .*set instance_id and region in the action/);
  imds = await startFakeImds({ instanceId: ME }); // for afterEach
});
