// asg_set_unhealthy's fleet guard under a fleet slot (issue #14): two agents
// as processes, each on its own instance of one Auto Scaling group of three
// (the local AWS wire-protocol server, the real SDK), min_healthy_ratio 0.5,
// so the guard allows exactly one instance to be marked. Both probes fail at
// the same moment, so both agents decide in the same second. The group's
// description answers a second after it was read (a slow API), which is what
// makes check-then-act a race at all:
//   - without `fleet:` both pass the guard and both call SetInstanceHealth
//     (the race is real in this setup);
//   - with `fleet: { max_concurrent: 1 }` the second agent's precheck runs
//     only after the first released its slot, sees the first instance
//     Unhealthy, and refuses: at most one SetInstanceHealth call.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeAutoScaling, type AsgInstance, type FakeAutoScaling } from '../harness/aws.js';
import { FleetLab, type LabAgent } from './lab.js';
import { waitUntil } from '../helpers/wait.js';

const INSTANCES: Record<string, string> = { w1: 'i-0f1ee7000000000a1', w2: 'i-0f1ee7000000000a2' };
const OTHER = 'i-0f1ee7000000000a3';
let lab: FleetLab;
let asg: FakeAutoScaling;
let agents: LabAgent[];

const healthy = (id: string): AsgInstance => ({ id, lifecycleState: 'InService', healthStatus: 'Healthy' });

const rule = (gen: number, fleet: boolean) => (a: LabAgent) => `  - name: leave-${gen}
    when: { probe: api, state: critical }
    cooldown: 1h
    grace: 1s
    precheck_retry: 1h
    action: { type: asg_set_unhealthy, instance_id: ${INSTANCES[a.name]}, region: us-east-1, endpoint: '${asg.endpoint}', min_healthy_ratio: 0.5, max_attempts: 1 }
${fleet ? `    fleet: { name: asg-${gen}, max_concurrent: 1 }\n` : ''}`;

const setCalls = () => asg.requestsFor('SetInstanceHealth').filter((r) => r.status === 200).map((r) => r.params.InstanceId).sort();

interface Outcome { readonly acted: number; readonly refused: string | undefined }

/** Each agent's end of the story for the rule: its actions, or the precheck refusal that stands (precheck_retry 1h). */
async function settled(ruleName: string): Promise<Outcome[]> {
  return waitUntil(`both agents done with ${ruleName}`, async () => {
    const out = await Promise.all(agents.map(async (a): Promise<Outcome & { busy: boolean }> => {
      const r = (await a.status()).remediation.rules[ruleName];
      return {
        acted: await a.metric('vigil_remediation_actions_total', { rule: ruleName }),
        refused: r?.last_precheck_refusal?.detail, busy: r?.in_progress !== null,
      };
    }));
    return out.every((o) => !o.busy && (o.acted > 0 || o.refused !== undefined)) && out.map(({ acted, refused }) => ({ acted, refused }));
  }, { timeoutMs: 30_000, intervalMs: 100 });
}

before(async () => {
  lab = await FleetLab.start();
  asg = await startFakeAutoScaling({ groups: [{ name: 'web-asg', instances: [healthy(INSTANCES.w1), healthy(INSTANCES.w2), healthy(OTHER)], desiredCapacity: 3 }] });
  asg.delay('DescribeAutoScalingGroups', 1000);
  lab.env = { ...process.env, AWS_ACCESS_KEY_ID: asg.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: asg.credentials.secretAccessKey };
  agents = await Promise.all(['w1', 'w2'].map((m) => lab.agent(m)));
  await Promise.all(agents.map((a) => a.start(lab.yaml(a, rule(1, false)(a)))));
});

after(async () => {
  await lab?.stop();
  await asg?.close();
});

test('without a fleet, the guard is check-then-act: two agents deciding in the same second both mark their instance', async () => {
  for (const a of agents) lab.failing.add(a.name);
  const d = await settled('leave-1');
  assert.deepEqual(d, [{ acted: 1, refused: undefined }, { acted: 1, refused: undefined }]);
  assert.deepEqual(setCalls(), [INSTANCES.w1, INSTANCES.w2].sort(), 'both passed the guard: 1 of 3 healthy is left, below min_healthy_ratio 0.5');
});

test('with fleet max_concurrent 1, the guard counts under the slot: at most one SetInstanceHealth', async () => {
  for (const g of asg.groups) for (const i of g.instances) i.healthStatus = 'Healthy';
  asg.requests.length = 0;
  await lab.nextScenario(agents, rule(2, true));
  for (const a of agents) lab.failing.add(a.name);
  const d = await settled('leave-2');
  assert.deepEqual(d.map((x) => x.acted).sort(), [0, 1], JSON.stringify(d));
  assert.equal(setCalls().length, 1, `SetInstanceHealth calls: ${setCalls()}`);
  const loser = agents[d.findIndex((x) => x.acted === 0)];
  assert.match(d.find((x) => x.acted === 0)!.refused ?? '', /^fleet guard: marking i-0f1ee7000000000a\d would leave 1 of 3 instances healthy and InService \(below min_healthy_ratio 0\.5\)/);
  // The refused agent waited for the slot first (it was held through the first one's grace).
  assert.ok((await loser.metric('vigil_remediation_blocked_total', { rule: 'leave-2', reason: 'fleet_busy' })) > 0, 'the second agent was fleet_busy before its precheck');
});
