// asg_set_unhealthy: tell EC2 Auto Scaling this instance is Unhealthy, so it
// is terminated and replaced — there is no way back, hence the prechecks:
// the instance must be InService in a group (Standby/Terminating/… are
// skipped), and the fleet guard refuses when it would leave fewer than
// min_healthy_ratio of the group healthy and InService, so an overload
// cascade cannot evict the fleet. The guard alone is check-then-act: two
// hosts deciding in the same second can both pass it. A rule with `fleet:`
// runs this precheck under its fleet slot (remediation/act.ts takes the slot
// first), so with max_concurrent 1 the count is exact.
import { z } from 'zod';
import type { AutoScalingClient, AutoScalingClientConfig } from '@aws-sdk/client-auto-scaling';
import { loadAutoScaling } from '../optional-deps.js';
import { positiveDuration, ratio } from '../config/fields.js';
import { defineAction, type PrecheckResult } from './types.js';
import { DEFAULT_IMDS_ENDPOINT, readMetadata } from './imds.js';

const INSTANCE_RE = /^i-[0-9a-f]{8,17}$/;

export interface FleetCount { readonly healthyInService: number; readonly size: number; readonly thisCounted: boolean }

/** Refusal text when marking this instance would leave fewer than `minRatio` of the group healthy, else undefined. */
export function fleetGuard(f: FleetCount, minRatio: number, instanceId: string): string | undefined {
  const after = f.healthyInService - (f.thisCounted ? 1 : 0);
  if (f.size === 0 || after / f.size >= minRatio) return undefined;
  return `fleet guard: marking ${instanceId} would leave ${after} of ${f.size} instances healthy and InService`
    + ` (below min_healthy_ratio ${minRatio}); refusing so a cascade cannot evict the fleet`;
}

/** An AWS SDK error as "Code: message (n attempts)"; the code is AWS's own (AccessDenied, Throttling…). */
function awsError(err: unknown): string {
  const e = err as { name?: string; message?: string; $metadata?: { attempts?: number } };
  const attempts = e.$metadata?.attempts;
  return `${e.name ?? 'Error'}: ${e.message ?? String(err)}${attempts ? ` (${attempts} attempt${attempts === 1 ? '' : 's'})` : ''}`;
}

export const asgSetUnhealthyAction = defineAction({
  type: 'asg_set_unhealthy',
  scope: 'host',
  fields: () => ({
    instance_id: z.string().regex(INSTANCE_RE, 'must be an EC2 instance id like i-0123456789abcdef0').optional(),
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'must be a region like us-east-1').optional(),
    endpoint: z.string().url('must be a URL like https://autoscaling.us-east-1.amazonaws.com').optional(),
    imds_endpoint: z.string().url().default(DEFAULT_IMDS_ENDPOINT),
    should_respect_grace_period: z.boolean().default(true),
    min_healthy_ratio: ratio().default(0.5),
    max_attempts: z.number().int().min(1).max(10).default(3),
    timeout: positiveDuration().default('20s'),
  }),
  create(cfg, deps) {
    let who: { instanceId: string; region: string } | undefined;
    let client: AutoScalingClient | undefined;
    const identity = async () => {
      if (who) return who;
      const envRegion = deps.env.AWS_REGION ?? deps.env.AWS_DEFAULT_REGION;
      const need = [...(cfg.instance_id ? [] : ['instance-id']), ...(cfg.region ?? envRegion ? [] : ['placement/region'])];
      const got = need.length ? await readMetadata(cfg.imds_endpoint, need) : [];
      const instanceId = cfg.instance_id ?? got[need.indexOf('instance-id')];
      const region = cfg.region ?? envRegion ?? got[need.indexOf('placement/region')];
      who = { instanceId, region };
      return who;
    };
    const asg = async () => {
      if (client) return client;
      const { region } = await identity();
      const conf: AutoScalingClientConfig = { region, maxAttempts: cfg.max_attempts, retryMode: 'standard' };
      if (cfg.endpoint) conf.endpoint = cfg.endpoint;
      // Keys in the agent's environment win; otherwise the SDK's own chain (instance role via IMDS…).
      if (deps.env.AWS_ACCESS_KEY_ID && deps.env.AWS_SECRET_ACCESS_KEY) {
        conf.credentials = { accessKeyId: deps.env.AWS_ACCESS_KEY_ID, secretAccessKey: deps.env.AWS_SECRET_ACCESS_KEY, sessionToken: deps.env.AWS_SESSION_TOKEN };
      }
      client = new (loadAutoScaling().AutoScalingClient)(conf);
      return client;
    };
    const opts = () => ({ abortSignal: AbortSignal.timeout(cfg.timeout) });
    const describeSelf = async (c: AutoScalingClient, instanceId: string) =>
      (await c.send(new (loadAutoScaling().DescribeAutoScalingInstancesCommand)({ InstanceIds: [instanceId] }), opts())).AutoScalingInstances?.[0];

    return {
      type: 'asg_set_unhealthy',
      scope: 'host',
      target: cfg.instance_id ?? 'this instance',
      async precheck(): Promise<PrecheckResult> {
        try {
          const { instanceId } = await identity();
          const c = await asg();
          const me = await describeSelf(c, instanceId);
          if (!me?.AutoScalingGroupName) return { ok: false, reason: 'precheck_failed', detail: `${instanceId} is not in an Auto Scaling group` };
          if (me.LifecycleState !== 'InService') {
            return { ok: false, reason: 'precheck_failed', detail: `${instanceId} is ${me.LifecycleState} in ${me.AutoScalingGroupName}, not InService; not marking it` };
          }
          if (me.HealthStatus?.toLowerCase() === 'unhealthy') {
            return { ok: false, reason: 'precheck_failed', detail: `${instanceId} is already Unhealthy in ${me.AutoScalingGroupName}` };
          }
          const groups = await c.send(new (loadAutoScaling().DescribeAutoScalingGroupsCommand)({ AutoScalingGroupNames: [me.AutoScalingGroupName] }), opts());
          const g = groups.AutoScalingGroups?.[0];
          if (!g) return { ok: false, reason: 'precheck_failed', detail: `group ${me.AutoScalingGroupName} not found` };
          const instances = g.Instances ?? [];
          const healthy = instances.filter((i) => i.LifecycleState === 'InService' && i.HealthStatus?.toLowerCase() === 'healthy');
          const size = Math.max(g.DesiredCapacity ?? 0, instances.length);
          const refusal = fleetGuard({ healthyInService: healthy.length, size, thisCounted: healthy.some((i) => i.InstanceId === instanceId) },
            cfg.min_healthy_ratio, instanceId);
          if (refusal) return { ok: false, reason: 'precheck_failed', detail: `${refusal} (group ${g.AutoScalingGroupName})` };
          return { ok: true, detail: `${instanceId} InService in ${g.AutoScalingGroupName}; ${healthy.length} of ${size} healthy` };
        } catch (err) {
          return { ok: false, reason: 'precheck_failed', detail: `cannot check the Auto Scaling group: ${awsError(err)}` };
        }
      },
      async execute() {
        try {
          const { instanceId } = await identity();
          const c = await asg();
          const out = await c.send(new (loadAutoScaling().SetInstanceHealthCommand)({
            InstanceId: instanceId, HealthStatus: 'Unhealthy', ShouldRespectGracePeriod: cfg.should_respect_grace_period,
          }), opts());
          const attempts = out.$metadata.attempts ?? 1;
          return {
            outcome: 'succeeded',
            detail: `${instanceId} marked Unhealthy (ShouldRespectGracePeriod=${cfg.should_respect_grace_period}, ${attempts} attempt${attempts === 1 ? '' : 's'}); Auto Scaling will replace it`,
          };
        } catch (err) {
          return { outcome: 'failed', detail: `SetInstanceHealth failed: ${awsError(err)}` };
        }
      },
      async reconcile() {
        try {
          const { instanceId } = await identity();
          const me = await describeSelf(await asg(), instanceId);
          if (!me) return { outcome: 'reconciled_unknown', detail: `${instanceId} is no longer in any group` };
          const state = `${me.LifecycleState}, ${me.HealthStatus}`;
          if (me.HealthStatus?.toLowerCase() === 'unhealthy' || me.LifecycleState?.startsWith('Terminating')) {
            return { outcome: 'reconciled_succeeded', detail: `${instanceId} is ${state} in ${me.AutoScalingGroupName}` };
          }
          return { outcome: 'reconciled_failed', detail: `${instanceId} is still ${state}: the call did not take effect` };
        } catch (err) {
          return { outcome: 'reconciled_unknown', detail: `cannot ask Auto Scaling: ${awsError(err)}` };
        }
      },
      async close() {
        client?.destroy();
      },
    };
  },
});
