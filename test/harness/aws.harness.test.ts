// Proves the local AWS stand-ins are faithful enough for the real SDK: if these
// pass, agent tests built on the harness exercise real serialization, signing,
// XML parsing and retry behaviour.
import { describe, test, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  SetInstanceHealthCommand,
} from '@aws-sdk/client-auto-scaling';
import { SignatureV4 } from '@smithy/signature-v4';
import { Hash } from '@smithy/hash-node';
import { startFakeAutoScaling, startFakeImds, type AsgGroup, type FakeAutoScaling, type FakeImds } from './aws.js';

const GROUPS: AsgGroup[] = [{
  name: 'web-asg',
  instances: [
    { id: 'i-0aaa000000000001', lifecycleState: 'InService', healthStatus: 'Healthy' },
    { id: 'i-0aaa000000000002', lifecycleState: 'Standby', healthStatus: 'Healthy', availabilityZone: 'us-east-1b' },
  ],
}];

describe('fake Auto Scaling with the real AutoScalingClient', () => {
  let asg: FakeAutoScaling;
  let client: AutoScalingClient;

  beforeEach(async () => {
    asg = await startFakeAutoScaling({ groups: GROUPS });
    client = new AutoScalingClient(asg.clientConfig());
  });
  afterEach(async () => {
    client.destroy();
    await asg.close();
  });

  test('DescribeAutoScalingInstances returns group, lifecycle state and (capitalised) health', async () => {
    const out = await client.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: ['i-0aaa000000000002'] }));
    assert.equal(out.AutoScalingInstances?.length, 1);
    const [inst] = out.AutoScalingInstances!;
    assert.equal(inst.AutoScalingGroupName, 'web-asg');
    assert.equal(inst.LifecycleState, 'Standby');
    assert.equal(inst.HealthStatus, 'HEALTHY');
    assert.equal(inst.AvailabilityZone, 'us-east-1b');
    assert.equal(inst.ProtectedFromScaleIn, false);
    assert.match(out.$metadata.requestId ?? '', /^[0-9a-f-]{36}$/);
    const [req] = asg.requests;
    assert.equal(req.signatureValid, true);
    assert.equal(req.params['InstanceIds.member.1'], 'i-0aaa000000000002');
  });

  test('DescribeAutoScalingInstances for an unknown instance is empty, not an error', async () => {
    const out = await client.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: ['i-0fff000000000000'] }));
    assert.deepEqual(out.AutoScalingInstances, []);
  });

  test('DescribeAutoScalingGroups returns instances', async () => {
    const out = await client.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['web-asg'] }));
    const [group] = out.AutoScalingGroups!;
    assert.equal(group.AutoScalingGroupName, 'web-asg');
    assert.equal(group.DesiredCapacity, 2);
    assert.ok(group.CreatedTime instanceof Date);
    assert.deepEqual(group.AvailabilityZones, ['us-east-1a', 'us-east-1b']);
    assert.deepEqual(group.Instances?.map((i) => [i.InstanceId, i.LifecycleState, i.HealthStatus]), [
      ['i-0aaa000000000001', 'InService', 'Healthy'],
      ['i-0aaa000000000002', 'Standby', 'Healthy'],
    ]);
  });

  test('SetInstanceHealth flips health and records the grace-period flag', async () => {
    await client.send(new SetInstanceHealthCommand({
      InstanceId: 'i-0aaa000000000001', HealthStatus: 'Unhealthy', ShouldRespectGracePeriod: false,
    }));
    assert.equal(asg.findInstance('i-0aaa000000000001')?.instance.healthStatus, 'Unhealthy');
    assert.equal(GROUPS[0].instances[0].healthStatus, 'Healthy', 'fixture must not be mutated');
    const [call] = asg.requestsFor('SetInstanceHealth');
    assert.equal(call.params.ShouldRespectGracePeriod, 'false');
    assert.equal(call.params.HealthStatus, 'Unhealthy');

    const out = await client.send(new DescribeAutoScalingGroupsCommand({}));
    assert.equal(out.AutoScalingGroups?.[0].Instances?.[0].HealthStatus, 'Unhealthy');
  });

  test('SetInstanceHealth on an instance outside any group is a ValidationError', async () => {
    await assert.rejects(
      client.send(new SetInstanceHealthCommand({ InstanceId: 'i-0fff000000000000', HealthStatus: 'Unhealthy' })),
      (err: Error & { $metadata?: { httpStatusCode?: number } }) => err.name === 'ValidationError' && err.$metadata?.httpStatusCode === 400,
    );
  });

  test('two throttles then success: the standard retry strategy makes 3 requests', async () => {
    asg.throttleNext(2);
    const out = await client.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: ['i-0aaa000000000001'] }));
    assert.equal(out.AutoScalingInstances?.[0].LifecycleState, 'InService');
    assert.equal(out.$metadata.attempts, 3);
    assert.deepEqual(asg.requests.map((r) => [r.status, r.errorCode, r.attempt]), [
      [400, 'Throttling', 1],
      [400, 'Throttling', 2],
      [200, undefined, 3],
    ]);
    assert.ok(asg.requests.every((r) => r.signatureValid), 'every retry is re-signed');
  });

  test('three throttles exhaust maxAttempts=3 and surface Throttling', async () => {
    asg.throttleNext(3);
    await assert.rejects(client.send(new DescribeAutoScalingGroupsCommand({})), { name: 'Throttling', message: 'Rate exceeded' });
    assert.equal(asg.requests.length, 3);
  });

  test('AccessDenied surfaces as a named error and is not retried', async () => {
    asg.denyActions(['SetInstanceHealth']);
    await assert.rejects(
      client.send(new SetInstanceHealthCommand({ InstanceId: 'i-0aaa000000000001', HealthStatus: 'Unhealthy' })),
      (err: Error & { $metadata?: { httpStatusCode?: number }; $fault?: string }) => {
        assert.equal(err.name, 'AccessDenied');
        assert.equal(err.$metadata?.httpStatusCode, 403);
        assert.equal(err.$fault, 'client');
        assert.match(err.message, /not authorized to perform: autoscaling:SetInstanceHealth/);
        return true;
      },
    );
    assert.equal(asg.requests.length, 1);
    assert.equal(asg.findInstance('i-0aaa000000000001')?.instance.healthStatus, 'Healthy');
    // Other actions stay allowed.
    await client.send(new DescribeAutoScalingGroupsCommand({}));
  });

  test('a client with the wrong secret is rejected with SignatureDoesNotMatch', async () => {
    const bad = new AutoScalingClient(asg.clientConfig({
      credentials: { accessKeyId: asg.credentials.accessKeyId, secretAccessKey: 'not-the-secret' },
    }));
    try {
      await assert.rejects(bad.send(new DescribeAutoScalingGroupsCommand({})), { name: 'SignatureDoesNotMatch' });
    } finally {
      bad.destroy();
    }
    assert.deepEqual(asg.requests.map((r) => [r.signatureValid, r.status]), [[false, 403]]);
  });

  test('a client with an unknown access key is rejected with InvalidClientTokenId', async () => {
    const bad = new AutoScalingClient(asg.clientConfig({
      credentials: { accessKeyId: 'AKIDSOMEONEELSE', secretAccessKey: asg.credentials.secretAccessKey },
    }));
    try {
      await assert.rejects(bad.send(new DescribeAutoScalingGroupsCommand({})), { name: 'InvalidClientTokenId' });
    } finally {
      bad.destroy();
    }
  });

  test('a client signing for another region is rejected', async () => {
    const bad = new AutoScalingClient(asg.clientConfig({ region: 'eu-west-1' }));
    try {
      await assert.rejects(bad.send(new DescribeAutoScalingGroupsCommand({})), { name: 'SignatureDoesNotMatch' });
    } finally {
      bad.destroy();
    }
  });

  test('an unsigned request is refused', async () => {
    const res = await fetch(asg.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=DescribeAutoScalingGroups&Version=2011-01-01',
    });
    assert.equal(res.status, 403);
    assert.match(await res.text(), /<Code>MissingAuthenticationToken<\/Code>/);
  });

  test('a correctly signed request whose body is altered in flight is refused', async () => {
    const url = new URL(asg.endpoint);
    const signer = new SignatureV4({ credentials: asg.credentials, region: 'us-east-1', service: 'autoscaling', sha256: Hash.bind(null, 'sha256') });
    const signed = await signer.sign({
      method: 'POST', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: '/', query: {},
      headers: { host: url.host, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=SetInstanceHealth&Version=2011-01-01&InstanceId=i-0aaa000000000001&HealthStatus=Healthy',
    });
    const res = await fetch(asg.endpoint, {
      method: 'POST',
      headers: signed.headers,
      body: 'Action=SetInstanceHealth&Version=2011-01-01&InstanceId=i-0aaa000000000001&HealthStatus=Unhealthy',
    });
    assert.equal(res.status, 403);
    assert.match(await res.text(), /<Code>SignatureDoesNotMatch<\/Code>/);
    assert.equal(asg.findInstance('i-0aaa000000000001')?.instance.healthStatus, 'Healthy');
  });

  test('session credentials: the token is checked too', async () => {
    const withToken = { ...asg.credentials, sessionToken: 'vigil-session' };
    const sts = await startFakeAutoScaling({ groups: GROUPS, credentials: withToken });
    const good = new AutoScalingClient(sts.clientConfig());
    const noToken = new AutoScalingClient(sts.clientConfig({ credentials: asg.credentials }));
    try {
      await good.send(new DescribeAutoScalingGroupsCommand({}));
      await assert.rejects(noToken.send(new DescribeAutoScalingGroupsCommand({})), { name: 'InvalidClientTokenId' });
    } finally {
      good.destroy();
      noToken.destroy();
      await sts.close();
    }
  });
});

describe('fake IMDSv2', () => {
  let imds: FakeImds;
  before(async () => { imds = await startFakeImds({ instanceId: 'i-0aaa000000000001', region: 'us-east-1' }); });
  after(async () => { await imds.close(); });

  test('IMDSv2: token flow works with plain fetch', async () => {
    const tokenRes = await fetch(`${imds.endpoint}/latest/api/token`, {
      method: 'PUT', headers: { 'X-aws-ec2-metadata-token-ttl-seconds': '21600' },
    });
    assert.equal(tokenRes.status, 200);
    const token = await tokenRes.text();
    assert.ok(token.length > 20);
    const headers = { 'X-aws-ec2-metadata-token': token };

    const id = await fetch(`${imds.endpoint}/latest/meta-data/instance-id`, { headers });
    assert.equal(id.status, 200);
    assert.equal(await id.text(), 'i-0aaa000000000001');

    const doc = await fetch(`${imds.endpoint}/latest/dynamic/instance-identity/document`, { headers });
    const identity = (await doc.json()) as { instanceId: string; region: string };
    assert.equal(identity.instanceId, 'i-0aaa000000000001');
    assert.equal(identity.region, 'us-east-1');

    imds.expireTokens();
    assert.equal((await fetch(`${imds.endpoint}/latest/meta-data/instance-id`, { headers })).status, 401);
  });

  test('IMDSv2: tokenless GET and bad token requests are refused', async () => {
    assert.equal((await fetch(`${imds.endpoint}/latest/meta-data/instance-id`)).status, 401);
    assert.equal((await fetch(`${imds.endpoint}/latest/meta-data/instance-id`, {
      headers: { 'X-aws-ec2-metadata-token': 'forged' },
    })).status, 401);
    assert.equal((await fetch(`${imds.endpoint}/latest/api/token`, { method: 'PUT' })).status, 400, 'TTL header is mandatory');
    assert.equal((await fetch(`${imds.endpoint}/latest/api/token`, {
      method: 'PUT', headers: { 'X-aws-ec2-metadata-token-ttl-seconds': '21601' },
    })).status, 400);
  });

  test('IMDS: set() adds documents and directory listings follow', async () => {
    const token = await (await fetch(`${imds.endpoint}/latest/api/token`, {
      method: 'PUT', headers: { 'X-aws-ec2-metadata-token-ttl-seconds': '60' },
    })).text();
    const get = (p: string) => fetch(`${imds.endpoint}/latest/${p}`, { headers: { 'X-aws-ec2-metadata-token': token } });
    assert.equal((await get('meta-data/autoscaling/target-lifecycle-state')).status, 404);
    imds.set('meta-data/autoscaling/target-lifecycle-state', 'Terminated');
    assert.equal(await (await get('meta-data/autoscaling/target-lifecycle-state')).text(), 'Terminated');
    assert.equal(await (await get('meta-data/placement/')).text(), 'availability-zone\nregion');
    imds.set('meta-data/autoscaling/target-lifecycle-state', undefined);
  });
});
