// One entry of `groups:`: an active/standby service this host takes part in.
// The member whose healthy_when probes are not critical and who wins the
// group's lease-bound key in etcd is active; everyone else is standby.
//
// Timing rule (checked here, at load; see coordination/lease-timing.ts):
//   renew_deadline + (on_standby.timeout + HOOK_KILL_GRACE) + clock margin  <=  lease_ttl + takeover_delay
// An active member that stops hearing from etcd steps down (its on_standby
// hook has run, or been killed) strictly before any other member may see the
// key vanish and wait out takeover_delay.
import { z } from 'zod';
import { duration, hostPort, positiveDuration } from '../config/fields.js';
import { leaseTimingProblems, type LeaseTiming } from '../coordination/lease-timing.js';

export const GROUP_NAME_RE = /^[a-z0-9_-]+$/;

/** Between SIGTERM and SIGKILL when a hook overruns its timeout (part of the timing rule). */
export const HOOK_KILL_GRACE_MS = 500;

const argv = () => z.array(z.string().min(1, 'must not be empty')).min(1, 'needs at least the program, e.g. [/usr/local/bin/become-active]');
const hook = (timeout: string) => z.object({ command: argv(), timeout: positiveDuration().default(timeout) }).strict();

export const groupFields = {
  name: z.string({ required_error: 'every group needs a name' }).regex(GROUP_NAME_RE, 'must match [a-z0-9_-]+'),
  /** Probes that must not be critical for this member to hold or seek the role. */
  healthy_when: z.array(z.string().min(1)).min(1, 'name at least one probe: a member nothing can judge would keep the role while its service is dead'),
  /** 0: never active here (a witness or a cold standby). */
  priority: z.number().int().min(0).default(100),
  /** true: an active member hands over to a healthy member of higher priority. */
  preempt: z.boolean().default(false),
  lease_ttl: positiveDuration().default('10s'),
  renew_interval: positiveDuration().default('1s'),
  renew_deadline: positiveDuration().default('3s'),
  /** How long the others wait after the active key vanished without a clean hand-over (Consul's lock-delay). */
  takeover_delay: duration().default('0s'),
  /** How often the member reads the group from etcd (health changes are acted on at once). */
  check_interval: positiveDuration().default('500ms'),
  /** After on_active failed here, this member does not stand again for this long. */
  retry_after_failure: duration().default('30s'),
  /** host:port shown to operators and load balancers as this member's address (status, `vigil group list`). */
  advertise: hostPort().optional(),
  on_active: hook('60s').optional(),
  on_standby: hook('5s').optional(),
};

type RawGroup = z.output<z.ZodObject<typeof groupFields>>;

export interface GroupHookSpec { readonly command: readonly string[]; readonly timeoutMs: number }

export interface GroupSettings {
  readonly name: string;
  readonly healthyWhen: readonly string[];
  readonly priority: number;
  readonly preempt: boolean;
  readonly lease: LeaseTiming;
  readonly checkIntervalMs: number;
  readonly retryAfterFailureMs: number;
  readonly advertise?: string;
  readonly onActive?: GroupHookSpec;
  readonly onStandby?: GroupHookSpec;
}

const NAMES = {
  ttlMs: 'lease_ttl', renewIntervalMs: 'renew_interval', renewDeadlineMs: 'renew_deadline',
  fenceWithinMs: 'on_standby.timeout (+0.5s to kill it)', takeoverDelayMs: 'takeover_delay',
} as const;
const PATHS = { ttlMs: ['lease_ttl'], renewIntervalMs: ['renew_interval'], renewDeadlineMs: ['renew_deadline'], fenceWithinMs: ['on_standby', 'timeout'] } as const;

export function groupSettings(g: RawGroup): GroupSettings {
  const standby = g.on_standby ? { command: g.on_standby.command, timeoutMs: g.on_standby.timeout } : undefined;
  return {
    name: g.name,
    healthyWhen: g.healthy_when,
    priority: g.priority,
    preempt: g.preempt,
    lease: {
      ttlMs: g.lease_ttl, renewIntervalMs: g.renew_interval, renewDeadlineMs: g.renew_deadline,
      fenceWithinMs: standby ? standby.timeoutMs + HOOK_KILL_GRACE_MS : 0, takeoverDelayMs: g.takeover_delay,
    },
    checkIntervalMs: g.check_interval,
    retryAfterFailureMs: g.retry_after_failure,
    advertise: g.advertise ? `${g.advertise.host}:${g.advertise.port}` : undefined,
    onActive: g.on_active ? { command: g.on_active.command, timeoutMs: g.on_active.timeout } : undefined,
    onStandby: standby,
  };
}

/** The timing rule and the other cross-field checks of one group, reported at their keys. */
export function checkGroup(g: RawGroup, ctx: z.RefinementCtx): void {
  const s = groupSettings(g);
  for (const p of leaseTimingProblems(s.lease, NAMES)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: [...PATHS[p.key]], message: p.message });
  }
  if (s.checkIntervalMs >= s.lease.ttlMs) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['check_interval'], message: `must be shorter than lease_ttl (${g.lease_ttl / 1000}s)` });
  }
  const dup = g.healthy_when.find((p, i) => g.healthy_when.indexOf(p) !== i);
  if (dup) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['healthy_when'], message: `names probe "${dup}" twice` });
}

export const groupSchema = () => z.object(groupFields).strict().superRefine(checkGroup).transform(groupSettings);
